// io.ts — the model file format (version 1). All integers little-endian.
//
//   offset  size  field
//   0       8     magic "KANMODEL" (ASCII)
//   8       4     u32 format version (1)
//   12      4     u32 H: header length in bytes
//   16      H     header: UTF-8 JSON {"kind": "KAN" | "MLP", "config": {...}, "floats": N}
//   16+H    pad   zero bytes up to the next multiple of 4 (offset P)
//   P       4N    the model's data as float32: parameters (group after group), then fixed state
//                 (grids, masks); the order is the one the model's constructor lays out
//   P+4N    4     u32 CRC-32 (zlib's) of bytes [0, P+4N)
//
// The file is exactly P + 4N + 4 bytes long. Loading checks the magic, the version, the header
// length against the file, the JSON, that the config is valid and implies exactly N floats, the
// total length and the checksum, all before the model is allocated. Saving writes a temporary
// file beside the target, fsyncs it, renames it over the target and fsyncs the directory, so a
// crash or a failed write leaves the previous file intact.
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { threadId } from 'node:worker_threads';

export const MAGIC = 'KANMODEL';
export const FORMAT_VERSION = 1;

let tmpCounter = 0;

/** A model file that cannot be read: truncated, corrupted, foreign or from a newer version. */
export class ModelFileError extends Error {
  constructor(readonly source: string, message: string) {
    super(`Invalid model file ${source}: ${message}`);
    this.name = 'ModelFileError';
  }
}

export function modelToBytes(kind: string, config: Record<string, unknown>, data: Float32Array): Uint8Array {
  const header = Buffer.from(JSON.stringify({ kind, config, floats: data.length }), 'utf8');
  const P = (16 + header.length + 3) & ~3;
  const total = P + 4 * data.length + 4;
  const out = Buffer.alloc(total);
  out.write(MAGIC, 0, 'ascii');
  out.writeUInt32LE(FORMAT_VERSION, 8);
  out.writeUInt32LE(header.length, 12);
  header.copy(out, 16);
  const payload = new Float32Array(out.buffer, out.byteOffset + P, data.length);
  if (isLittleEndian()) payload.set(data);
  else for (let q = 0; q < data.length; q++) out.writeFloatLE(data[q], P + 4 * q);
  out.writeUInt32LE(crc32(out.subarray(0, total - 4)) >>> 0, total - 4);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}

export interface ParsedModel { kind: string; config: Record<string, unknown>; data: Float32Array; }

/** Validates a file's config for its kind (TypeError/RangeError) and returns the model's float count. */
export type FloatsFor = (kind: string, config: Record<string, unknown>) => number;

/** How one kind of model is checked and built from a parsed file (kan.ts, mlp.ts). */
export interface ModelReader<M> {
  /** Validates the config; returns how many floats the model stores. */
  floats(config: Record<string, unknown>): number;
  /** Builds the model from the parsed file, refusing data the model cannot use. */
  build(parsed: ParsedModel, source: string): M;
}

/** Reads a model file of one of the given kinds. */
export function readModel<M>(bytes: Uint8Array, source: string, readers: Record<string, ModelReader<M>>): M {
  const parsed = parseModelBytes(bytes, source, (kind, config) => {
    const r = Object.prototype.hasOwnProperty.call(readers, kind) ? readers[kind] : undefined;
    if (!r) throw new RangeError(`Expected ${Object.keys(readers).map((k) => (k === 'MLP' ? 'an MLP' : `a ${k}`)).join(' or ')} model in ${source} but it holds a ${kind}`);
    return r.floats(config);
  });
  return readers[parsed.kind].build(parsed, source);
}

/**
 * Parses and checks a model file: layout, checksum, config (through `floatsFor`), float count and
 * finiteness of every value. Throws ModelFileError naming `source`.
 */
export function parseModelBytes(bytes: Uint8Array, source: string, floatsFor: FloatsFor): ParsedModel {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`Expected Uint8Array for bytes but received ${typeof bytes}`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 20) throw new ModelFileError(source, `it is ${buf.length} bytes long, shorter than any model file (truncated?)`);
  if (buf.toString('latin1', 0, 8) !== MAGIC) throw new ModelFileError(source, 'it does not start with "KANMODEL" (not a kan-native model file)');
  const version = buf.readUInt32LE(8);
  if (version !== FORMAT_VERSION)
    throw new ModelFileError(source, `format version ${version} is not supported (this kan-native reads version ${FORMAT_VERSION})`);
  const H = buf.readUInt32LE(12);
  if (H > buf.length - 20) throw new ModelFileError(source, `header length ${H} exceeds the file (truncated?)`);
  let header: { kind?: unknown; config?: unknown; floats?: unknown };
  try {
    header = JSON.parse(buf.toString('utf8', 16, 16 + H));
  } catch {
    throw new ModelFileError(source, 'the header is not valid JSON (corrupted?)');
  }
  if (typeof header !== 'object' || header === null || typeof header.kind !== 'string' ||
      typeof header.config !== 'object' || header.config === null || !Number.isSafeInteger(header.floats))
    throw new ModelFileError(source, 'the header lacks kind, config or floats');
  const N = header.floats as number;
  const P = (16 + H + 3) & ~3;
  const expected = P + 4 * N + 4;
  if (buf.length !== expected)
    throw new ModelFileError(source, `it is ${buf.length} bytes but its header describes ${expected} (truncated or oversized)`);
  const stored = buf.readUInt32LE(buf.length - 4);
  const actual = crc32(buf.subarray(0, buf.length - 4)) >>> 0;
  if (stored !== actual) throw new ModelFileError(source, `checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)}; corrupted?)`);
  let want: number;
  try {
    want = floatsFor(header.kind, header.config as Record<string, unknown>);
  } catch (err) {
    throw new ModelFileError(source, `its config is invalid: ${(err as Error).message}`);
  }
  if (want !== N) throw new ModelFileError(source, `its config needs ${want} floats but the file holds ${N}`);
  // one copy (an aligned ArrayBuffer slice), read in place on little-endian hosts
  let data: Float32Array;
  if (isLittleEndian()) data = new Float32Array(buf.buffer.slice(buf.byteOffset + P, buf.byteOffset + P + 4 * N));
  else {
    data = new Float32Array(N);
    for (let q = 0; q < N; q++) data[q] = buf.readFloatLE(P + 4 * q);
  }
  // No model can use a non-finite parameter, grid or mask value: refuse them here, for every kind.
  for (let q = 0; q < N; q++)
    if (!Number.isFinite(data[q])) throw new ModelFileError(source, `it holds a non-finite value (${data[q]}) at data index ${q}`);
  return { kind: header.kind, config: header.config as Record<string, unknown>, data };
}

export function loadModelFile(path: string): Uint8Array {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`Expected non-empty string for path but received ${typeof path}`);
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw withPath(err, `cannot read model file ${path}`);
  }
}

// Keeps the error's class and code, puts what was being done and the path first.
function withPath(err: unknown, what: string): Error {
  const e = err as NodeJS.ErrnoException;
  const reason = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EISDIR' ? 'it is a directory'
    : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'ENOSPC' ? 'no space left on device' : e.message;
  e.message = `${what}: ${reason}${e.code && reason !== e.message ? ` (${e.code})` : ''}`;
  return e;
}

/** Atomic save: temp file beside the target, fsync, rename, fsync the directory. */
export function saveModelFile(path: string, bytes: Uint8Array): void {
  writeFileAtomic(path, bytes);
}

/** Writes bytes to path atomically; on failure the previous file is intact and no temp file is left. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`Expected non-empty string for path but received ${typeof path}`);
  const dir = dirname(path);
  // Unique per process, thread and call (worker threads share the pid): concurrent saves to the
  // same target never share a temp file, and a failed save removes only the file it created.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${threadId}.${(tmpCounter++).toString(36)}.${randomBytes(4).toString('hex')}.tmp`);
  let fd = -1;
  let created = false;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    created = true;
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, path);
    created = false;
  } catch (err) {
    if (fd >= 0) try { fs.closeSync(fd); } catch { /* already failing */ }
    if (created) try { fs.unlinkSync(tmp); } catch { /* already gone */ }
    throw withPath(err, `cannot write ${path}`);
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  } catch { /* directories cannot be fsynced on every platform */ }
}
