// io.test.ts — the model file format (lib/io.ts): round trips, the documented byte layout,
// rejection of corrupted / foreign / future / inconsistent files, and atomic saving.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  KAN, MLP, loadModel, ModelFileError, MAGIC, FORMAT_VERSION, floatsOfKAN, Rng, type Model, type KANConfig,
} from '../lib/index.js';

// ---------------------------------------------------------------------------------------------
// Fault injection for the atomic-save tests: a pass-through mock of node:fs whose writeSync,
// fsyncSync and renameSync can be made to fail on demand. Off by default, so every other test
// sees the real file system.
const faults = vi.hoisted(() => ({
  write: null as null | ((fd: number) => void),
  fsync: null as null | (() => void),
  rename: null as null | ((from: string, to: string) => void),
  writes: 0,
  /** When set, each write call writes at most this many bytes (a short write). */
  chunk: 0,
}));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const writeSync = ((...args: unknown[]) => {
    faults.writes++;
    if (faults.write) faults.write(args[0] as number);
    if (faults.chunk > 0 && typeof args[3] === 'number') args[3] = Math.min(args[3] as number, faults.chunk);
    return (real.writeSync as (...a: unknown[]) => number)(...args);
  }) as typeof real.writeSync;
  const fsyncSync = ((fd: number) => {
    if (faults.fsync) faults.fsync();
    return real.fsyncSync(fd);
  }) as typeof real.fsyncSync;
  const renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
    if (faults.rename) faults.rename(String(from), String(to));
    return real.renameSync(from, to);
  }) as typeof real.renameSync;
  const mod = { ...real, writeSync, fsyncSync, renameSync };
  return { ...mod, default: mod };
});

// ---------------------------------------------------------------------------------------------
// Helpers

let root = '';
let counter = 0;
beforeAll(() => { root = fs.mkdtempSync(join(os.tmpdir(), 'kan-io-test-')); });
afterAll(() => { if (root) fs.rmSync(root, { recursive: true, force: true }); });

/** A fresh empty subfolder of the test's temp folder. */
function subdir(tag: string): string {
  const d = join(root, `${tag}-${counter++}`);
  fs.mkdirSync(d);
  return d;
}

/** The raw bits of a Float32Array (so -0, NaN payloads and subnormals compare exactly). */
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function expectBitwiseEqual(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  expect(bits(a)).toEqual(bits(b));
}

function inputs(n: number, dim: number, seed: number, lo = -1.2, hi = 1.2): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * dim);
  for (let q = 0; q < x.length; q++) x[q] = rng.range(lo, hi);
  return x;
}

const KAN_OPTS = {
  widths: [3, 4, 2], gridSize: 6, splineOrder: 2, gridRange: [-1.5, 1.25] as [number, number],
  seed: 7, noiseScale: 0.5, trainable: { coef: true, wb: false, ws: true },
};

/**
 * A KAN whose state differs from any freshly constructed one: perturbed parameters (including
 * -0 and a subnormal), pruned and scaled mask entries, and a monotone but non-uniform grid.
 */
function modifiedKAN(base: 'silu' | 'identity' | 'zero'): KAN {
  const m = new KAN({ ...KAN_OPTS, base });
  const rng = new Rng(99);
  for (let q = 0; q < m.params.length; q++) m.params[q] += rng.range(-0.3, 0.3);
  m.params[0] = -0;
  m.params[1] = 1e-42;  // subnormal
  const l0 = m.layers[0];
  l0.mask[1] = 0;
  l0.mask[5] = 0.5;
  m.layers[1].mask[0] = 0;
  for (const layer of m.layers) {
    const NK = layer.numKnots;
    for (let i = 0; i < layer.inDim; i++)
      for (let j = 0; j < NK; j++) {
        const g = layer.grid[i * NK + j];
        layer.grid[i * NK + j] = g + 0.15 * Math.sin(2 * g + i);  // derivative >= 0.7: still increasing
      }
  }
  for (const layer of m.layers)
    for (let i = 0; i < layer.inDim; i++)
      for (let j = 1; j < layer.numKnots; j++)
        expect(layer.grid[i * layer.numKnots + j]).toBeGreaterThan(layer.grid[i * layer.numKnots + j - 1]);
  return m;
}

const MLP_OPTS = { widths: [3, 8, 8, 2], activation: 'tanh' as const, seed: 3, trainable: { weight: true, bias: false } };

function modifiedMLP(): MLP {
  const m = new MLP(MLP_OPTS);
  const rng = new Rng(5);
  for (let q = 0; q < m.params.length; q++) m.params[q] += rng.range(-0.2, 0.2);
  m.params[2] = -0;
  return m;
}

function groupsOf(m: Model) {
  return m.groups.map((g) => ({ name: g.name, offset: g.offset, length: g.length, trainable: g.trainable }));
}

/** Everything a reloaded model must reproduce. */
function expectSameModel(a: Model, b: Model, x: Float32Array): void {
  expect(b.kind).toBe(a.kind);
  expect(b.constructor).toBe(a.constructor);
  expect(b.config()).toEqual(a.config());
  expect(groupsOf(b)).toEqual(groupsOf(a));
  expectBitwiseEqual(b.data, a.data);
  expectBitwiseEqual(b.forward(x), a.forward(x));
}

interface Layout { magic: string; version: number; H: number; header: { kind: string; config: Record<string, unknown>; floats: number }; P: number; N: number; }

/** Parses the layout as io.ts documents it, independently of io.ts. */
function layoutOf(bytes: Uint8Array): Layout {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder('latin1').decode(bytes.subarray(0, 8));
  const version = dv.getUint32(8, true);
  const H = dv.getUint32(12, true);
  const header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + H)));
  const P = Math.ceil((16 + H) / 4) * 4;
  return { magic, version, H, header, P, N: header.floats };
}

/** Plain table CRC-32 (IEEE 802.3, reflected, as zlib's), to cross-check zlib's crc32. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function tableCrc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let q = 0; q < b.length; q++) c = CRC_TABLE[(c ^ b[q]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Rewrites the trailing CRC so that it matches the (modified) bytes before it. */
function fixCrc(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  const dv = new DataView(out.buffer);
  dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)) >>> 0, true);
  return out;
}

/** Builds a file from a header object and floats, following the documented format. */
function buildFile(header: unknown, data: Float32Array, version = FORMAT_VERSION): Uint8Array {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const P = Math.ceil((16 + h.length) / 4) * 4;
  const out = new Uint8Array(P + 4 * data.length + 4);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from('KANMODEL', 'ascii'), 0);
  dv.setUint32(8, version, true);
  dv.setUint32(12, h.length, true);
  out.set(h, 16);
  for (let q = 0; q < data.length; q++) dv.setFloat32(P + 4 * q, data[q], true);
  dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)) >>> 0, true);
  return out;
}

function writeTmp(dir: string, name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** Asserts fn throws a ModelFileError whose message names `path` (and matches `re` if given). */
function expectModelFileError(fn: () => unknown, path: string, re?: RegExp): ModelFileError {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  expect(caught, `expected a ModelFileError for ${path}`).toBeInstanceOf(ModelFileError);
  const e = caught as ModelFileError;
  expect(e).toBeInstanceOf(Error);
  expect(e.name).toBe('ModelFileError');
  expect(e.message).toContain(path);
  expect(e.source).toBe(path);
  if (re) expect(e.message).toMatch(re);
  return e;
}

function tmpLeftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
}

// ---------------------------------------------------------------------------------------------

describe('save → load round trips', () => {
  it.each(['silu', 'identity', 'zero'] as const)('KAN with base %s: KAN.load, loadModel and fromBytes reproduce it bitwise', (base) => {
    const dir = subdir(`rt-${base}`);
    const m = modifiedKAN(base);
    const x = inputs(257, 3, 11);
    const y = m.forward(x);
    // The modifications matter: a fresh KAN of the same options computes something else, so a
    // loader that dropped the grid, mask or parameters could not pass.
    const fresh = new KAN({ ...KAN_OPTS, base });
    expect(bits(fresh.forward(x))).not.toEqual(bits(y));
    expect(bits(fresh.layers[0].grid)).not.toEqual(bits(m.layers[0].grid));

    const path = join(dir, 'model.kan');
    m.save(path);
    const a = KAN.load(path);
    expect(a).toBeInstanceOf(KAN);
    expectSameModel(m, a, x);
    expectBitwiseEqual(a.forward(x), y);
    expect(a.groups.map((g) => g.trainable)).toEqual([true, false, true]);
    expect(a.layers[0].mask[1]).toBe(0);
    expect(a.layers[0].mask[5]).toBe(0.5);
    expect(Object.is(a.params[0], -0)).toBe(true);
    expect(a.params[1]).toBe(Math.fround(1e-42));
    expect(a.cfg.base).toBe(base);

    const b = loadModel(path);
    expect(b).toBeInstanceOf(KAN);
    expectSameModel(m, b, x);

    const c = KAN.fromBytes(m.toBytes());
    expectSameModel(m, c, x);

    // The file is exactly toBytes(), and saving a loaded model writes the same bytes again.
    expect(new Uint8Array(fs.readFileSync(path))).toEqual(m.toBytes());
    expect(a.toBytes()).toEqual(m.toBytes());
    expect(tmpLeftovers(dir)).toEqual([]);
  });

  it('a loaded KAN is independent of the original (its own data) and keeps training state layout', () => {
    const m = modifiedKAN('silu');
    const c = KAN.fromBytes(m.toBytes());
    expect(c.data.buffer).not.toBe(m.data.buffer);
    const before = bits(m.data);
    c.params[3] += 1;
    expect(bits(m.data)).toEqual(before);
    expect(c.numParams).toBe(m.numParams);
    expect(c.grads.length).toBe(m.grads.length);
    expect(c.data.length).toBe(floatsOfKAN(m.cfg as KANConfig));
  });

  it('MLP: MLP.load, loadModel and fromBytes reproduce it bitwise', () => {
    const dir = subdir('rt-mlp');
    const m = modifiedMLP();
    const x = inputs(300, 3, 12);
    const y = m.forward(x);
    expect(bits(new MLP(MLP_OPTS).forward(x))).not.toEqual(bits(y));
    const path = join(dir, 'mlp.kan');
    m.save(path);
    const a = MLP.load(path);
    expect(a).toBeInstanceOf(MLP);
    expectSameModel(m, a, x);
    expectBitwiseEqual(a.forward(x), y);
    expect(a.groups.map((g) => g.trainable)).toEqual([true, false]);
    expect(a.cfg.activation).toBe('tanh');
    const b = loadModel(path);
    expect(b).toBeInstanceOf(MLP);
    expectSameModel(m, b, x);
    const c = MLP.fromBytes(m.toBytes());
    expectSameModel(m, c, x);
    expect(new Uint8Array(fs.readFileSync(path))).toEqual(m.toBytes());
    expect(tmpLeftovers(dir)).toEqual([]);
  });

  it.each(['identity', 'relu', 'silu'] as const)('MLP with activation %s round-trips through bytes', (activation) => {
    const m = new MLP({ widths: [2, 5, 3], activation, seed: 21 });
    const x = inputs(64, 2, 3);
    expectSameModel(m, MLP.fromBytes(m.toBytes()), x);
  });

  // The format documents the header as JSON; key order and whitespace are not part of it (and
  // e.g. Python's json.dumps writes '{"kind": "MLP", ...}' with spaces). loadModel must dispatch
  // on the parsed kind.
  it.each([
    ['keys in another order', (m: MLP) => ({ floats: m.data.length, config: m.config(), kind: 'MLP' }), undefined],
    ['Python-style spacing', (m: MLP) => ({ kind: 'MLP', config: m.config(), floats: m.data.length }), 'spaces'],
  ] as const)('loadModel finds the MLP in a valid hand-built MLP file (%s)', (_name, header, style) => {
    const m = modifiedMLP();
    const obj = header(m);
    const text = style === 'spaces' ? JSON.stringify(obj).replace(/":/g, '": ').replace(/,"/g, ', "') : JSON.stringify(obj);
    expect(JSON.parse(text)).toEqual(obj);
    const h = Buffer.from(text, 'utf8');
    const P = Math.ceil((16 + h.length) / 4) * 4;
    const out = new Uint8Array(P + 4 * m.data.length + 4);
    const dv = new DataView(out.buffer);
    out.set(Buffer.from('KANMODEL', 'ascii'), 0);
    dv.setUint32(8, 1, true);
    dv.setUint32(12, h.length, true);
    out.set(h, 16);
    for (let q = 0; q < m.data.length; q++) dv.setFloat32(P + 4 * q, m.data[q], true);
    dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)) >>> 0, true);
    const path = join(subdir('handmlp'), 'mlp.kan');
    fs.writeFileSync(path, out);
    const x = inputs(40, 3, 6);
    // The file is valid: MLP.load reads it.
    expectSameModel(m, MLP.load(path), x);
    // So loadModel must read it too.
    const any = loadModel(path);
    expect(any).toBeInstanceOf(MLP);
    expectSameModel(m, any, x);
  });

  it('a file built by hand from the documented format loads into the same model', () => {
    const m = modifiedKAN('identity');
    const x = inputs(50, 3, 4);
    const file = buildFile({ kind: 'KAN', config: m.config(), floats: m.data.length }, m.data);
    expectSameModel(m, KAN.fromBytes(file), x);
    // Key order in the header does not matter to the reader.
    const file2 = buildFile({ floats: m.data.length, config: m.config(), kind: 'KAN' }, m.data);
    expectSameModel(m, KAN.fromBytes(file2), x);
    const mm = modifiedMLP();
    const file3 = buildFile({ kind: 'MLP', config: mm.config(), floats: mm.data.length }, mm.data);
    expectSameModel(mm, MLP.fromBytes(file3), inputs(20, 3, 5));
  });
});

describe('file layout', () => {
  it.each([
    ['KAN', () => modifiedKAN('silu') as Model],
    ['MLP', () => modifiedMLP() as Model],
  ])('%s file: magic, version, header JSON, padding, float32 LE payload, CRC-32', (kind, make) => {
    const m = make();
    const bytes = m.toBytes();
    const L = layoutOf(bytes);
    expect(L.magic).toBe('KANMODEL');
    expect(MAGIC).toBe('KANMODEL');
    expect(L.version).toBe(1);
    expect(FORMAT_VERSION).toBe(1);
    expect(Object.keys(L.header).sort()).toEqual(['config', 'floats', 'kind']);
    expect(L.header.kind).toBe(kind);
    expect(L.header.config).toEqual(m.config());
    expect(L.header.floats).toBe(m.data.length);
    if (kind === 'KAN') expect(L.header.floats).toBe(floatsOfKAN(m.config() as unknown as KANConfig));
    expect(L.P % 4).toBe(0);
    expect(L.P - (16 + L.H)).toBeLessThan(4);
    for (let q = 16 + L.H; q < L.P; q++) expect(bytes[q]).toBe(0);
    expect(bytes.length).toBe(L.P + 4 * L.N + 4);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const payload = new Uint32Array(L.N);
    for (let q = 0; q < L.N; q++) payload[q] = dv.getUint32(L.P + 4 * q, true);
    expect(payload).toEqual(bits(m.data));
    const stored = dv.getUint32(bytes.length - 4, true);
    const body = bytes.subarray(0, bytes.length - 4);
    expect(stored).toBe(crc32(body) >>> 0);
    expect(stored).toBe(tableCrc32(body));
  });

  it('pads correctly for every header length modulo 4', () => {
    const residues = new Set<number>();
    for (const seed of [1, 12, 123, 1234, 12345, 123456, 1234567]) {
      const m = new KAN({ widths: [1, 1], gridSize: 2, splineOrder: 1, seed });
      const bytes = m.toBytes();
      const L = layoutOf(bytes);
      residues.add((16 + L.H) % 4);
      expect(L.P % 4).toBe(0);
      expect(L.P).toBeGreaterThanOrEqual(16 + L.H);
      expect(L.P - 16 - L.H).toBeLessThan(4);
      for (let q = 16 + L.H; q < L.P; q++) expect(bytes[q]).toBe(0);
      expect(bytes.length).toBe(L.P + 4 * L.N + 4);
      expect(KAN.fromBytes(bytes).config()).toEqual(m.config());
      expect(bits(KAN.fromBytes(bytes).data)).toEqual(bits(m.data));
    }
    expect([...residues].sort()).toEqual([0, 1, 2, 3]);
  });

  it('zlib crc32 agrees with a table CRC-32 on the check string', () => {
    const check = Buffer.from('123456789', 'ascii');
    expect(crc32(check) >>> 0).toBe(0xcbf43926);
    expect(tableCrc32(check)).toBe(0xcbf43926);
  });
});

describe('corrupted and foreign files throw ModelFileError naming the path', () => {
  let good: Uint8Array;
  let L: Layout;
  let dir: string;
  beforeAll(() => {
    good = modifiedKAN('silu').toBytes();
    L = layoutOf(good);
    dir = subdir('corrupt');
    expect(L.N).toBeGreaterThan(20);
  });

  const truncations: [string, (n: number, l: Layout) => number][] = [
    ['0 bytes', () => 0],
    ['10 bytes', () => 10],
    ['19 bytes', () => 19],
    ['20 bytes', () => 20],
    ['magic + version only', () => 12],
    ['header middle', (_n, l) => 16 + (l.H >> 1)],
    ['end of header', (_n, l) => 16 + l.H],
    ['payload start', (_n, l) => l.P],
    ['payload middle', (_n, l) => l.P + 4 * (l.N >> 1) + 1],
    ['checksum missing', (n) => n - 4],
    ['last byte missing', (n) => n - 1],
  ];
  it.each(truncations)('truncated: %s', (_name, len) => {
    const n = len(good.length, L);
    expect(n).toBeLessThan(good.length);
    const path = writeTmp(dir, `trunc-${n}.kan`, good.subarray(0, n));
    expectModelFileError(() => KAN.load(path), path, /truncated|bytes|header|exceeds/);
    expectModelFileError(() => loadModel(path), path);
    expectModelFileError(() => MLP.load(path), path);
  });

  it('truncated at every length below the full file (fromBytes)', () => {
    for (let n = 0; n < good.length; n++)
      expectModelFileError(() => KAN.fromBytes(good.subarray(0, n), `mem:${n}`), `mem:${n}`);
  });

  // Positions as functions of the layout: magic, version, header length, header, padding,
  // payload (first, middle, last float) and checksum bytes.
  const flips: [string, (n: number, l: Layout) => number][] = [
    ['magic byte 0', () => 0], ['magic byte 7', () => 7],
    ['version byte 8', () => 8], ['version byte 11', () => 11],
    ['header length byte 12', () => 12], ['header length byte 13', () => 13], ['header length byte 15', () => 15],
    ['header first byte', () => 16], ['header byte 30', () => 30], ['header middle', (_n, l) => 16 + (l.H >> 1)],
    ['header last byte', (_n, l) => 15 + l.H],
    ['payload first byte', (_n, l) => l.P], ['payload float 1 exponent', (_n, l) => l.P + 7],
    ['payload middle', (_n, l) => l.P + 4 * (l.N >> 1) + 2], ['payload last byte', (n) => n - 5],
    ['checksum byte 0', (n) => n - 4], ['checksum byte 3', (n) => n - 1],
  ];
  it.each(flips)('single bit flip: %s (each of the 8 bits)', (_name, pos) => {
    const p = pos(good.length, L);
    for (let bit = 0; bit < 8; bit++) {
      const bad = Uint8Array.from(good);
      bad[p] ^= 1 << bit;
      const path = writeTmp(dir, `flip-${p}-${bit}.kan`, bad);
      expectModelFileError(() => KAN.load(path), path);
      expectModelFileError(() => loadModel(path), path);
    }
  });

  it('single bit flips at 200 random positions all fail the load', () => {
    const rng = new Rng(2024);
    for (let t = 0; t < 200; t++) {
      const p = rng.int(good.length);
      const bad = Uint8Array.from(good);
      bad[p] ^= 1 << rng.int(8);
      expectModelFileError(() => KAN.fromBytes(bad, `flip@${p}`), `flip@${p}`);
    }
  });

  it('a flip in the padding bytes is caught by the checksum', () => {
    // Find a model whose header leaves padding.
    let bytes: Uint8Array | null = null;
    for (const seed of [1, 12, 123, 1234]) {
      const b = new KAN({ widths: [2, 2], seed }).toBytes();
      const l = layoutOf(b);
      if (l.P > 16 + l.H) { bytes = b; break; }
    }
    expect(bytes).not.toBeNull();
    const l = layoutOf(bytes!);
    const bad = Uint8Array.from(bytes!);
    bad[16 + l.H] ^= 0x10;
    const path = writeTmp(dir, 'pad.kan', bad);
    expectModelFileError(() => KAN.load(path), path, /checksum/);
  });

  it('payload corruption is reported as a checksum mismatch', () => {
    const bad = Uint8Array.from(good);
    bad[L.P + 9] ^= 4;
    const path = writeTmp(dir, 'payload-crc.kan', bad);
    expectModelFileError(() => KAN.load(path), path, /checksum/);
  });

  const foreign: [string, () => Uint8Array | string][] = [
    ['an empty file', () => new Uint8Array(0)],
    ['a PNG header', () => Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
      0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82])],
    ['random bytes', () => { const r = new Rng(8); return Uint8Array.from({ length: 4096 }, () => r.int(256)); }],
    ['a JSON text file', () => JSON.stringify({ kind: 'KAN', config: { widths: [2, 1] }, floats: 3 }) + '\n'],
    ['a text file starting with the magic', () => 'KANMODEL is the magic of kan-native model files, but this is prose.\n'],
    ['the magic and zeros', () => { const b = new Uint8Array(64); b.set(Buffer.from('KANMODEL'), 0); b[8] = 1; return b; }],
  ];
  it.each(foreign)('foreign file: %s', (_name, make) => {
    const path = writeTmp(dir, `foreign-${counter++}.bin`, make());
    expectModelFileError(() => KAN.load(path), path);
    expectModelFileError(() => MLP.load(path), path);
    expectModelFileError(() => loadModel(path), path);
  });

  it.each([2, 3, 0, 256, 0xffffffff])('format version %i (CRC recomputed) is refused by the version check', (version) => {
    const bad = Uint8Array.from(good);
    new DataView(bad.buffer).setUint32(8, version, true);
    const fixed = fixCrc(bad);
    expect(crc32(fixed.subarray(0, fixed.length - 4)) >>> 0).toBe(new DataView(fixed.buffer).getUint32(fixed.length - 4, true));
    const path = writeTmp(dir, `version-${version}.kan`, fixed);
    const e = expectModelFileError(() => KAN.load(path), path, new RegExp(`version ${version}\\b`));
    expect(e.message).not.toMatch(/checksum/);
    expectModelFileError(() => loadModel(path), path, /version/);
  });

  it('a future-version MLP file is refused by loadModel and MLP.load with a version message', () => {
    const bad = Uint8Array.from(modifiedMLP().toBytes());
    new DataView(bad.buffer).setUint32(8, 2, true);
    const path = writeTmp(dir, 'mlp-v2.kan', fixCrc(bad));
    expectModelFileError(() => loadModel(path), path, /version 2/);
    expectModelFileError(() => MLP.load(path), path, /version 2/);
  });

  it.each([1, 3, 4, 100, 4096])('oversized: %i extra trailing bytes', (extra) => {
    const big = new Uint8Array(good.length + extra);
    big.set(good);
    const path = writeTmp(dir, `over-${extra}.kan`, big);
    expectModelFileError(() => KAN.load(path), path, /oversized|bytes/);
    expectModelFileError(() => loadModel(path), path);
  });

  it('oversized with a recomputed checksum at the new end is still refused (length check)', () => {
    const big = new Uint8Array(good.length + 8);
    big.set(good.subarray(0, good.length - 4));
    const path = writeTmp(dir, 'over-crc.kan', fixCrc(big));
    expectModelFileError(() => KAN.load(path), path, /oversized|bytes/);
  });

  /** Replaces `from` by `to` (same length) inside the header and recomputes the CRC. */
  function patchHeader(bytes: Uint8Array, from: string, to: string): Uint8Array {
    expect(to.length).toBe(from.length);
    const l = layoutOf(bytes);
    const text = Buffer.from(bytes.subarray(16, 16 + l.H)).toString('utf8');
    expect(text).toContain(from);
    const out = Uint8Array.from(bytes);
    out.set(Buffer.from(text.replace(from, to), 'utf8'), 16);
    return fixCrc(out);
  }

  it.each([
    ['widths [3,4,2] → [3,5,2]', '"widths":[3,4,2]', '"widths":[3,5,2]'],
    ['gridSize 6 → 7', '"gridSize":6', '"gridSize":7'],
    ['splineOrder 2 → 3', '"splineOrder":2', '"splineOrder":3'],
    ['widths [3,4,2] → [2,4,2]', '"widths":[3,4,2]', '"widths":[2,4,2]'],
  ])('header config inconsistent with the floats count (%s, CRC recomputed)', (_name, from, to) => {
    const bad = patchHeader(good, from, to);
    const path = writeTmp(dir, `inconsistent-${counter++}.kan`, bad);
    expectModelFileError(() => KAN.load(path), path, new RegExp(`needs \\d+ floats but the file holds ${L.N}`));
    expectModelFileError(() => loadModel(path), path, /floats/);
  });

  it.each([
    ['gridSize 0', '"gridSize":6', '"gridSize":0', /gridSize/],
    ['unknown base', '"base":"silu"', '"base":"relu"', /base/],
    ['unknown kind', '"kind":"KAN"', '"kind":"XYZ"', /XYZ/],
    ['splineOrder 9', '"splineOrder":2', '"splineOrder":9', /splineOrder/],
  ])('header config that is invalid (%s, CRC recomputed) names the problem', (_name, from, to, re) => {
    const bad = patchHeader(good, from, to);
    const path = writeTmp(dir, `invalid-${counter++}.kan`, bad);
    expectModelFileError(() => KAN.load(path), path, re);
    expectModelFileError(() => loadModel(path), path, re);
  });

  it('a header whose floats count disagrees with the config and the file length (rebuilt file)', () => {
    const m = modifiedKAN('silu');
    const cut = m.data.subarray(0, m.data.length - 3);
    const file = buildFile({ kind: 'KAN', config: m.config(), floats: cut.length }, cut);
    const path = writeTmp(dir, 'fewer-floats.kan', file);
    expectModelFileError(() => KAN.load(path), path, new RegExp(`needs ${m.data.length} floats but the file holds ${cut.length}`));
  });

  it.each([
    ['header without config', (d: Float32Array) => buildFile({ kind: 'KAN' }, d), /lacks|config/],
    ['header without floats', (d: Float32Array) => buildFile({ kind: 'KAN', config: {} }, d), /lacks|floats/],
    ['header that is an array', (d: Float32Array) => buildFile([1, 2, 3], d), /lacks/],
    ['fractional floats', (d: Float32Array) => buildFile({ kind: 'KAN', config: {}, floats: 2.5 }, d), /lacks|floats/],
  ])('malformed header: %s', (_name, make, re) => {
    const path = writeTmp(dir, `malformed-${counter++}.kan`, make(new Float32Array(4)));
    expectModelFileError(() => KAN.load(path), path, re);
  });

  it('a header that is not JSON (CRC recomputed)', () => {
    const bad = Uint8Array.from(good);
    bad[16] = 0x7b ^ 0x01;  // '{' → 'z'
    const path = writeTmp(dir, 'notjson.kan', fixCrc(bad));
    expectModelFileError(() => KAN.load(path), path, /JSON/);
  });

  it('a KAN file loaded with MLP.load gives a clear error naming both kinds', () => {
    const path = writeTmp(dir, 'a-kan.kan', good);
    expectModelFileError(() => MLP.load(path), path, /MLP[\s\S]*KAN|KAN[\s\S]*MLP/);
    // and the other way round
    const mpath = writeTmp(dir, 'an-mlp.kan', modifiedMLP().toBytes());
    expectModelFileError(() => KAN.load(mpath), mpath, /MLP[\s\S]*KAN|KAN[\s\S]*MLP/);
    // loadModel dispatches on the kind, so both load
    expect(loadModel(path)).toBeInstanceOf(KAN);
    expect(loadModel(mpath)).toBeInstanceOf(MLP);
  });

  it('a missing file throws an error naming the path', () => {
    const path = join(dir, 'does-not-exist.kan');
    expect(() => KAN.load(path)).toThrow(path);
    expect(() => loadModel(path)).toThrow(path);
  });

  it('fromBytes with a non-Uint8Array throws TypeError', () => {
    expect(() => KAN.fromBytes('hello' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => MLP.fromBytes(null as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('fromBytes reads a Uint8Array view at a non-zero, unaligned offset', () => {
    const big = new Uint8Array(good.length + 7);
    big.set(good, 3);
    const view = big.subarray(3, 3 + good.length);
    const m = KAN.fromBytes(view);
    expect(bits(m.data)).toEqual(bits(KAN.fromBytes(good).data));
  });
});

describe('atomic save', () => {
  const reset = () => { faults.write = null; faults.fsync = null; faults.rename = null; faults.writes = 0; faults.chunk = 0; };
  beforeEach(reset);
  afterAll(reset);

  it('saving into a missing directory throws and creates nothing', () => {
    const dir = subdir('missing');
    const target = join(dir, 'no', 'such', 'dir', 'm.kan');
    expect(() => modifiedKAN('silu').save(target)).toThrow(/ENOENT|no such/i);
    expect(fs.existsSync(join(dir, 'no'))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
    const target2 = join(dir, 'absent', 'm.kan');
    expect(() => modifiedMLP().save(target2)).toThrow();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('saving over an existing file replaces it with a new inode (rename), leaving no temp file', () => {
    const dir = subdir('replace');
    const path = join(dir, 'm.kan');
    const first = modifiedKAN('silu');
    first.save(path);
    const ino1 = fs.statSync(path).ino;
    const second = modifiedKAN('zero');
    second.params[10] = 42;
    // While the new file is being written, the target still holds the complete old file.
    let seenDuringWrite: Buffer | null = null;
    faults.chunk = 100;  // short writes: the save must loop until everything is written
    faults.write = () => { if (!seenDuringWrite) seenDuringWrite = fs.readFileSync(path); };
    second.save(path);
    faults.write = null;
    faults.chunk = 0;
    expect(faults.writes).toBeGreaterThan(second.toBytes().length / 100 - 1);
    expect(seenDuringWrite).not.toBeNull();
    expect(new Uint8Array(seenDuringWrite!)).toEqual(first.toBytes());
    expect(fs.statSync(path).ino).not.toBe(ino1);
    expect(new Uint8Array(fs.readFileSync(path))).toEqual(second.toBytes());
    const back = KAN.load(path);
    expect(back.params[10]).toBe(42);
    expect(back.cfg.base).toBe('zero');
    expect(fs.readdirSync(dir)).toEqual(['m.kan']);
    // Saving an MLP over a KAN file is allowed too; loadModel then finds an MLP.
    modifiedMLP().save(path);
    expect(loadModel(path)).toBeInstanceOf(MLP);
    expect(fs.readdirSync(dir)).toEqual(['m.kan']);
  });

  it('a save whose target is an existing directory throws, leaves the directory and the neighbour intact, no temp file', () => {
    const dir = subdir('isdir');
    const prev = join(dir, 'prev.kan');
    const m = modifiedKAN('silu');
    m.save(prev);
    const prevBytes = fs.readFileSync(prev);
    const target = join(dir, 'target');
    fs.mkdirSync(target);
    fs.writeFileSync(join(target, 'inside.txt'), 'keep me');
    expect(() => modifiedKAN('identity').save(target)).toThrow();
    expect(fs.statSync(target).isDirectory()).toBe(true);
    expect(fs.readFileSync(join(target, 'inside.txt'), 'utf8')).toBe('keep me');
    expect(fs.readFileSync(prev)).toEqual(prevBytes);
    expectBitwiseEqual(KAN.load(prev).data, m.data);
    expect(tmpLeftovers(dir)).toEqual([]);
    expect(tmpLeftovers(target)).toEqual([]);
    expect(fs.readdirSync(dir).sort()).toEqual(['prev.kan', 'target']);
    // An empty directory as target fails the same way.
    const empty = join(dir, 'empty');
    fs.mkdirSync(empty);
    expect(() => modifiedMLP().save(empty)).toThrow();
    expect(fs.statSync(empty).isDirectory()).toBe(true);
    expect(tmpLeftovers(dir)).toEqual([]);
  });

  it('a save under a path whose parent is a regular file throws (ENOTDIR) and changes nothing', () => {
    const dir = subdir('notdir');
    const file = join(dir, 'plain');
    fs.writeFileSync(file, 'plain');
    expect(() => modifiedKAN('silu').save(join(file, 'm.kan'))).toThrow(/ENOTDIR|not a directory/i);
    expect(fs.readFileSync(file, 'utf8')).toBe('plain');
    expect(fs.readdirSync(dir)).toEqual(['plain']);
  });

  const failures: [string, () => void][] = [
    ['a write failing after a first short chunk (ENOSPC)', () => {
      faults.chunk = 64;
      faults.write = () => {
        if (faults.writes > 1) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      };
    }],
    ['the first write failing (EIO)', () => {
      faults.write = () => { throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }); };
    }],
    ['fsync failing', () => {
      faults.fsync = () => { throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }); };
    }],
    ['rename failing', () => {
      faults.rename = () => { throw Object.assign(new Error('EXDEV: cross-device link not permitted, rename'), { code: 'EXDEV' }); };
    }],
  ];
  it.each(failures)('when %s, the previous file is left intact and loadable and no .tmp remains', (_name, arm) => {
    const dir = subdir('fail');
    const path = join(dir, 'm.kan');
    const old = modifiedKAN('silu');
    old.save(path);
    const oldBytes = fs.readFileSync(path);
    const ino = fs.statSync(path).ino;
    // A larger model, so a partial write would be visible as a size change.
    const next = new KAN({ widths: [4, 6, 3], gridSize: 9, seed: 1 });
    arm();
    expect(() => next.save(path)).toThrow(/ENOSPC|EIO|EXDEV/);
    reset();
    expect(fs.statSync(path).ino).toBe(ino);
    expect(fs.readFileSync(path)).toEqual(oldBytes);
    const back = KAN.load(path);
    expectBitwiseEqual(back.data, old.data);
    expect(fs.readdirSync(dir)).toEqual(['m.kan']);
    expect(tmpLeftovers(dir)).toEqual([]);
    // The same save succeeds once the fault is gone.
    next.save(path);
    expectBitwiseEqual(KAN.load(path).data, next.data);
    expect(fs.readdirSync(dir)).toEqual(['m.kan']);
  });

  it('saving into a fresh path creates exactly that file', () => {
    const dir = subdir('fresh');
    const path = join(dir, 'new model.kan');
    modifiedMLP().save(path);
    expect(fs.readdirSync(dir)).toEqual(['new model.kan']);
    expect(MLP.load(path)).toBeInstanceOf(MLP);
  });

  it('save and load refuse an empty or non-string path with TypeError', () => {
    expect(() => modifiedKAN('silu').save('')).toThrow(TypeError);
    expect(() => modifiedKAN('silu').save(3 as unknown as string)).toThrow(TypeError);
    expect(() => KAN.load('')).toThrow(TypeError);
    expect(() => loadModel(undefined as unknown as string)).toThrow(TypeError);
  });
});
