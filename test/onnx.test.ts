// onnx.test.ts — ONNX export (lib/onnx/export.ts): exported KANs and MLPs run in onnxruntime-node
// and match the native forward inside and outside the grid (knots, range ends, ±5×range), for
// several widths, grid sizes, spline orders, bases, adapted grids, masks and MLP activations, at
// batch 1 and 1,000 on one session; the file is standard (opset/IR, input/output, ai.onnx only,
// producer, metadata); the graph embeds the model's own parameters (checked against values and a
// Cox–de Boor reference computed here); bad input; and `kan export` (dist/lib/cli.js).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { KAN } from '../lib/kan.js';
import { MLP, type Activation } from '../lib/mlp.js';
import { updateGrid } from '../lib/grid.js';
import { exportOnnx, toOnnx, verifyOnnx, type OnnxOptions } from '../lib/onnx/export.js';
import { ModelProto } from '../lib/onnx/schema.js';
import type { Model } from '../lib/model.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'lib', 'cli.js');
const pkgVersion = JSON.parse(fs.readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const tmp = fs.mkdtempSync(join(tmpdir(), 'kan-onnx-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Helpers

/** mulberry32: the test's own seeded stream (independent of lib/rng.ts). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f32buf = new Float32Array(1), i32buf = new Int32Array(f32buf.buffer);
/** The float32 next to v (toward +∞ when up, else toward −∞); v is a finite non-zero float32. */
function nextF32(v: number, up: boolean): number {
  f32buf[0] = v;
  if (v === 0) return up ? 1e-45 : -1e-45;
  i32buf[0] += (v > 0) === up ? 1 : -1;
  return f32buf[0];
}

/** Random O(1) spline coefficients (and optionally wb, ws), so the spline branch really matters. */
function randomize(model: KAN, seed: number, groups: { coef?: boolean; wb?: boolean; ws?: boolean } = { coef: true }): KAN {
  const r = rng(seed);
  for (const layer of model.layers) {
    if (groups.coef) for (let q = 0; q < layer.coef.length; q++) layer.coef[q] = 2 * r() - 1;
    if (groups.wb) for (let q = 0; q < layer.wb.length; q++) layer.wb[q] = 2 * r() - 1;
    if (groups.ws) for (let q = 0; q < layer.ws.length; q++) layer.ws[q] = 2 * r() - 1;
  }
  return model;
}

/**
 * n inputs (n ≥ 1000) for a model: for a KAN, every column first walks through its own knot row
 * (each knot exactly, and one float32 below and above it), the grid range ends, 0, ±5×range and
 * 5a, 5b; the rest is uniform over 3× the range (inside and outside). For an MLP: 0, ±1, ±5, ±50
 * and uniform in [-3, 3].
 */
function makeInputs(model: Model, n: number, seed: number): { x: Float32Array; specials: number } {
  const I = model.inputDim;
  const x = new Float32Array(n * I);
  const r = rng(seed);
  let specials = 0;
  for (let i = 0; i < I; i++) {
    const list: number[] = [];
    let lo = -3, hi = 3;
    if (model instanceof KAN) {
      const [a, b] = model.cfg.gridRange;
      const w = b - a;
      lo = a - w; hi = b + w;
      const layer = model.layers[0];
      const NK = layer.numKnots;
      for (let m = 0; m < NK; m++) {
        const t = layer.grid[i * NK + m];
        list.push(t);
        if (t !== 0) list.push(nextF32(t, false), nextF32(t, true));
      }
      list.push(a, b, 0, a - 5 * w, b + 5 * w, (a + b) / 2 - 5 * w, (a + b) / 2 + 5 * w, 5 * a, 5 * b);
    } else {
      list.push(0, 1, -1, 5, -5, 50, -50);
    }
    if (list.length > n) throw new Error('too many special inputs');
    specials = Math.max(specials, list.length);
    for (let s = 0; s < n; s++) x[s * I + i] = s < list.length ? list[s] : lo + (hi - lo) * r();
  }
  // Shuffle the special rows of different columns against each other a little (column i offset by i)
  // so multi-input layers see knots of one input together with off-grid values of another.
  if (I > 1)
    for (let i = 1; i < I; i++) {
      const S = specials;
      const col = Array.from({ length: S }, (_, s) => x[s * I + i]);
      for (let s = 0; s < S; s++) x[s * I + i] = col[(s + 3 * i) % S];
    }
  return { x, specials };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let q = 0; q < a.length; q++) {
    const e = Math.abs(a[q] - b[q]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
  }
  return d;
}
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let q = 0; q < a.length; q++) m = Math.max(m, Math.abs(a[q]));
  return m;
}

async function runOrt(session: ort.InferenceSession, x: Float32Array, inDim: number): Promise<ort.Tensor> {
  const out = await session.run({ x: new ort.Tensor('float32', x, [x.length / inDim, inDim]) });
  return out.y;
}

interface Row { model: string; n: number; batch: number; single: number; scale: number; }
const report: Row[] = [];
afterAll(() => {
  if (report.length === 0) return;
  const lines = report.map((r) => `  ${r.model.padEnd(44)} n=${String(r.n).padStart(4)}  max|y|=${r.scale.toExponential(2)}` +
    `  max|Δ| batch ${r.batch.toExponential(2)}  batch-1 ${r.single.toExponential(2)}  rel ${(Math.max(r.batch, r.single) / Math.max(1, r.scale)).toExponential(2)}`);
  console.log(`ONNX (onnxruntime-node ${ort.env.versions.common}) vs native forward:\n${lines.join('\n')}`);
});

/**
 * Exports `model`, runs the bytes in ONE onnxruntime session at batch n and at batch 1 (several
 * single rows: knots, far outside, random), and checks max |onnx − native| ≤ 1e-5·max(1, max|y|).
 */
async function checkAgainstNative(label: string, model: Model, opts: { n?: number; seed?: number; onnx?: OnnxOptions } = {}) {
  const n = opts.n ?? 1000;
  const { x, specials } = makeInputs(model, n, opts.seed ?? 7);
  const I = model.inputDim, O = model.outputDim;
  const want = model.forward(x);
  for (let q = 0; q < want.length; q++) expect(Number.isFinite(want[q])).toBe(true);
  const scale = maxAbs(want);
  const tol = 1e-5 * Math.max(1, scale);
  const bytes = toOnnx(model, opts.onnx);
  const session = await ort.InferenceSession.create(bytes);
  try {
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['y']);
    const y = await runOrt(session, x, I);
    expect(y.dims).toEqual([n, O]);
    expect(y.type).toBe('float32');
    const batch = maxAbsDiff(y.data as Float32Array, want);
    // Batch 1 on the same session: a knot row, a far-outside row (specials end with them), random rows.
    const rows = [0, 1, specials - 1, specials - 3, specials - 6, specials + 5, n - 1];
    let single = 0;
    for (const s of rows) {
      const y1 = await runOrt(session, x.slice(s * I, (s + 1) * I), I);
      expect(y1.dims).toEqual([1, O]);
      single = Math.max(single, maxAbsDiff(y1.data as Float32Array, want.subarray(s * O, (s + 1) * O)));
    }
    report.push({ model: label, n, batch, single, scale });
    expect(batch, `${label}: batch ${n}`).toBeLessThanOrEqual(tol);
    expect(single, `${label}: batch 1`).toBeLessThanOrEqual(tol);
    return { x, want, got: y.data as Float32Array, bytes };
  } finally {
    await session.release();
  }
}

// Decoding ------------------------------------------------------------------------------------

interface DTensor { name: string; dims: number[]; dataType: number; rawData?: Uint8Array; int64Data?: number[]; floatData?: number[]; }
interface DNode { opType: string; input: string[]; output: string[]; domain?: string; }
interface DValueInfo { name: string; type: { tensorType: { elemType: number; shape: { dim: { dimValue?: number; dimParam?: string }[] } } }; }
interface DModel {
  irVersion: number; producerName: string; producerVersion: string;
  opsetImport: { domain?: string; version: number }[];
  metadataProps?: { key: string; value: string }[];
  graph: { node: DNode[]; initializer: DTensor[]; input: DValueInfo[]; output: DValueInfo[] };
}
function decode(bytes: Uint8Array): DModel {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, arrays: true }) as unknown as DModel;
}
function floatsOf(t: DTensor): Float32Array {
  expect(t.dataType).toBe(1);
  if (t.rawData && t.rawData.length > 0) {
    const dv = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    const out = new Float32Array(t.rawData.byteLength / 4);
    for (let q = 0; q < out.length; q++) out[q] = dv.getFloat32(4 * q, true);
    return out;
  }
  return Float32Array.from(t.floatData ?? []);
}
function initializerBytes(m: DModel): number {
  let s = 0;
  for (const t of m.graph.initializer) s += (t.rawData?.length ?? 0) + 8 * (t.int64Data?.length ?? 0) + 4 * (t.floatData?.length ?? 0);
  return s;
}
/** Constant weights of MatMul nodes, with their dims. */
function matmulWeights(m: DModel): DTensor[] {
  const inits = new Map(m.graph.initializer.map((t) => [t.name, t]));
  return m.graph.node.filter((nd) => nd.opType === 'MatMul').flatMap((nd) => nd.input.map((i) => inits.get(i)).filter((t): t is DTensor => !!t));
}

// The standard ai.onnx operator set (names), to tell a standard file from one using custom ops.
const AI_ONNX_OPS = new Set(['Abs', 'Acos', 'Add', 'And', 'ArgMax', 'ArgMin', 'BatchNormalization', 'Cast', 'Ceil', 'Clip',
  'Concat', 'Constant', 'ConstantOfShape', 'Conv', 'Cos', 'Div', 'Equal', 'Erf', 'Exp', 'Expand', 'Flatten', 'Floor', 'Gather',
  'GatherElements', 'Gemm', 'Greater', 'GreaterOrEqual', 'Identity', 'Less', 'LessOrEqual', 'Log', 'MatMul', 'Max', 'Min', 'Mod',
  'Mul', 'Neg', 'Not', 'Or', 'Pow', 'Reciprocal', 'ReduceSum', 'Relu', 'Reshape', 'Shape', 'Sigmoid', 'Sign', 'Slice', 'Softmax',
  'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tanh', 'Tile', 'Transpose', 'Unsqueeze', 'Where', 'Xor']);

// onnx/helper.py VERSION_TABLE: the IR version that goes with each ai.onnx opset (release notes).
const IR_FOR_OPSET: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

// Reference KAN forward in float64, straight from DESIGN.md (Cox–de Boor with 0/0 = 0).
function refBasis(t: ArrayLike<number>, off: number, NK: number, k: number, x: number): number[] {
  let B: number[] = [];
  for (let m = 0; m < NK - 1; m++) B.push(t[off + m] <= x && x < t[off + m + 1] ? 1 : 0);
  for (let p = 1; p <= k; p++) {
    const nb: number[] = [];
    for (let m = 0; m < NK - 1 - p; m++) {
      const d1 = t[off + m + p] - t[off + m], d2 = t[off + m + p + 1] - t[off + m + 1];
      const left = d1 > 0 ? ((x - t[off + m]) / d1) * B[m] : 0;
      const right = d2 > 0 ? ((t[off + m + p + 1] - x) / d2) * B[m + 1] : 0;
      nb.push(left + right);
    }
    B = nb;
  }
  return B;
}
function refForward(model: KAN, x: Float32Array): Float64Array {
  const B = x.length / model.inputDim;
  let h: Float64Array = Float64Array.from(x);
  for (const layer of model.layers) {
    const { inDim: I, outDim: O, numKnots: NK, numBasis: NB, splineOrder: k } = layer;
    const y = new Float64Array(B * O);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < I; i++) {
        const v = h[b * I + i];
        const bs = refBasis(layer.grid, i * NK, NK, k, v);
        const base = model.cfg.base === 'silu' ? v / (1 + Math.exp(-v)) : model.cfg.base === 'identity' ? v : 0;
        for (let o = 0; o < O; o++) {
          let sp = 0;
          for (let m = 0; m < NB; m++) sp += layer.coef[(i * NB + m) * O + o] * bs[m];
          y[b * O + o] += layer.mask[i * O + o] * (layer.wb[i * O + o] * base + layer.ws[i * O + o] * sp);
        }
      }
    h = y;
  }
  return h;
}

function isUniformRow(t: ArrayLike<number>, off: number, NK: number): { ratio: number } {
  let lo = Infinity, hi = 0;
  for (let m = 0; m + 1 < NK; m++) {
    const d = t[off + m + 1] - t[off + m];
    lo = Math.min(lo, d); hi = Math.max(hi, d);
  }
  return { ratio: hi / lo };
}

// ---------------------------------------------------------------------------------------------
describe('exported models match the native forward in onnxruntime (batch 1000 and 1, one session)', () => {
  it('KAN [2,5,1] G=5 (random coefficients)', async () => {
    await checkAgainstNative('KAN [2,5,1] G=5 k=3 silu', randomize(new KAN({ widths: [2, 5, 1], gridSize: 5, seed: 1 }), 11));
  });

  it('KAN [2,5,1] G=5 with its default (pykan) initialisation', async () => {
    await checkAgainstNative('KAN [2,5,1] G=5 default init', new KAN({ widths: [2, 5, 1], gridSize: 5, seed: 3 }));
  });

  it('KAN [784,64,10] G=5 (1,000 inputs); reports nodes and initializer bytes', async () => {
    const model = randomize(new KAN({ widths: [784, 64, 10], gridSize: 5, seed: 2 }), 12);
    const { bytes } = await checkAgainstNative('KAN [784,64,10] G=5 k=3 silu', model, { n: 1000, seed: 8 });
    const m = decode(bytes);
    const nodes = m.graph.node.length, initBytes = initializerBytes(m);
    console.log(`KAN [784,64,10] G=5 k=3: ${bytes.length} bytes of ONNX, ${nodes} nodes, ${m.graph.initializer.length} initializers, ` +
      `${initBytes} initializer bytes (parameters: ${model.numParams} floats = ${4 * model.numParams} bytes)`);
    // The parameters (coef, wb, ws as coef·ws·mask and wb·mask) are all embedded ...
    expect(initBytes).toBeGreaterThanOrEqual(4 * model.numParams - 4 * (784 * 64 + 64 * 10));
    // ... and the graph's size does not grow with width or grid: a [2,5,1] G=20 KAN has as many nodes.
    const small = decode(toOnnx(new KAN({ widths: [2, 5, 1], gridSize: 20 })));
    expect(nodes).toBe(small.graph.node.length);
  });

  it('KAN [1,1] G=200 (random coefficients; every knot of the grid among the inputs)', async () => {
    await checkAgainstNative('KAN [1,1] G=200 k=3 silu', randomize(new KAN({ widths: [1, 1], gridSize: 200, seed: 4 }), 13));
  });

  for (const k of [1, 2, 3, 5])
    it(`spline order k=${k}: KAN [2,3,2] G=7`, async () => {
      const model = randomize(new KAN({ widths: [2, 3, 2], gridSize: 7, splineOrder: k, gridRange: [-2, 3], seed: 5 }), 20 + k);
      await checkAgainstNative(`KAN [2,3,2] G=7 k=${k} range [-2,3]`, model, { seed: 30 + k });
    });

  for (const base of ['silu', 'identity', 'zero'] as const)
    it(`base ${base}: KAN [3,4,2] G=6`, async () => {
      const model = randomize(new KAN({ widths: [3, 4, 2], gridSize: 6, base, seed: 6 }), 40, { coef: true, wb: true });
      await checkAgainstNative(`KAN [3,4,2] G=6 k=3 base ${base}`, model);
    });

  it('KAN after updateGrid (non-uniform knots in both layers)', async () => {
    const model = randomize(new KAN({ widths: [2, 5, 1], gridSize: 5, seed: 7 }), 50);
    const r = rng(51);
    const samples = new Float32Array(2 * 400);
    for (let q = 0; q < samples.length; q++) { const u = 2 * r() - 1; samples[q] = 1.2 * u * u * u + 0.3; }  // clustered near 0.3
    const before = model.layers[0].grid.slice();
    updateGrid(model, samples);
    for (const layer of model.layers)
      for (let i = 0; i < layer.inDim; i++) expect(isUniformRow(layer.grid, i * layer.numKnots, layer.numKnots).ratio).toBeGreaterThan(1.5);
    expect(maxAbsDiff(before, model.layers[0].grid)).toBeGreaterThan(0.05);
    await checkAgainstNative('KAN [2,5,1] G=5 after updateGrid', model, { seed: 52 });
  });

  it('KAN after updateGrid with gridEps 0 on repeated samples (repeated knots: 0/0 terms)', async () => {
    const model = randomize(new KAN({ widths: [1, 3], gridSize: 8, splineOrder: 3, seed: 8 }), 60);
    const r = rng(61);
    const samples = new Float32Array(300);
    for (let q = 0; q < samples.length; q++) samples[q] = q < 150 ? 0.25 : 2 * r() - 1;  // half the samples equal
    updateGrid(model, samples, { gridEps: 0 });
    const t = model.layers[0].grid;
    let repeats = 0;
    for (let m = 0; m + 1 < t.length; m++) if (t[m + 1] === t[m]) repeats++;
    expect(repeats).toBeGreaterThan(0);
    await checkAgainstNative('KAN [1,3] G=8 repeated knots', model, { seed: 62 });
  });

  it('masked KAN (zeros and non-binary mask values, random wb/ws)', async () => {
    const model = randomize(new KAN({ widths: [3, 4, 2], gridSize: 5, seed: 9 }), 70, { coef: true, wb: true, ws: true });
    const values = [0, 1, 0.5, -1.25, 2, 0, 0.75, -0.3];
    for (const layer of model.layers) for (let q = 0; q < layer.mask.length; q++) layer.mask[q] = values[q % values.length];
    // The mask matters: the same model unmasked gives different outputs.
    const { x } = makeInputs(model, 1000, 71);
    const masked = model.forward(x);
    const saved = model.layers.map((l) => l.mask.slice());
    for (const layer of model.layers) layer.mask.fill(1);
    const unmasked = model.forward(x);
    model.layers.forEach((l, q) => l.mask.set(saved[q]));
    expect(maxAbsDiff(masked, unmasked)).toBeGreaterThan(0.1);
    await checkAgainstNative('KAN [3,4,2] G=5 masked', model, { seed: 71 });
  });

  for (const activation of ['identity', 'relu', 'silu', 'tanh'] as Activation[])
    it(`MLP [3,16,16,2] activation ${activation}`, async () => {
      await checkAgainstNative(`MLP [3,16,16,2] ${activation}`, new MLP({ widths: [3, 16, 16, 2], activation, seed: 10 }));
    });

  it('the activation reaches the file: MLPs with the same weights and different activations give different ONNX outputs', async () => {
    const { x } = makeInputs(new MLP({ widths: [3, 16, 16, 2] }), 1000, 5);
    const outs: Float32Array[] = [];
    for (const activation of ['identity', 'relu', 'silu', 'tanh'] as Activation[]) {
      const s = await ort.InferenceSession.create(toOnnx(new MLP({ widths: [3, 16, 16, 2], activation, seed: 10 })));
      outs.push((await runOrt(s, x, 3)).data as Float32Array);
      await s.release();
    }
    for (let a = 0; a < outs.length; a++) for (let b = a + 1; b < outs.length; b++) expect(maxAbsDiff(outs[a], outs[b])).toBeGreaterThan(1e-3);
  });
});

// ---------------------------------------------------------------------------------------------
describe('the file is standard ONNX', () => {
  const kan = randomize(new KAN({ widths: [2, 5, 1], gridSize: 5, seed: 1 }), 11);
  const mlp = new MLP({ widths: [3, 8, 2], activation: 'tanh', seed: 2 });

  function checkStructure(bytes: Uint8Array, model: Model, opset: number) {
    const m = decode(bytes);
    expect(m.opsetImport).toHaveLength(1);
    expect(m.opsetImport[0].domain ?? '').toBe('');
    expect(m.opsetImport[0].version).toBe(opset);
    expect(m.irVersion).toBe(IR_FOR_OPSET[opset]);
    expect(m.producerName).toBe('kan-native');
    expect(m.producerVersion).toBe(pkgVersion);
    // Input x [N (dim_param), in], output y [N, out], float32.
    expect(m.graph.input.map((v) => v.name)).toEqual(['x']);
    expect(m.graph.output.map((v) => v.name)).toEqual(['y']);
    for (const [v, d] of [[m.graph.input[0], model.inputDim], [m.graph.output[0], model.outputDim]] as const) {
      expect(v.type.tensorType.elemType).toBe(1);
      const dims = v.type.tensorType.shape.dim;
      expect(dims).toHaveLength(2);
      expect(typeof dims[0].dimParam).toBe('string');
      expect(dims[0].dimParam!.length).toBeGreaterThan(0);
      expect(dims[0].dimValue ?? 0).toBe(0);
      expect(dims[1].dimValue).toBe(d);
    }
    // Only ai.onnx operators.
    for (const nd of m.graph.node) {
      expect(nd.domain ?? '').toBe('');
      expect(AI_ONNX_OPS.has(nd.opType), `operator ${nd.opType}`).toBe(true);
    }
    // Every node input is x, an initializer or an earlier node's output (topologically sorted).
    const known = new Set(['x', ...m.graph.initializer.map((t) => t.name)]);
    for (const nd of m.graph.node) {
      for (const i of nd.input) expect(known.has(i), `input ${i} of ${nd.opType}`).toBe(true);
      for (const o of nd.output) known.add(o);
    }
    expect(known.has('y')).toBe(true);
    // The model's config as JSON in metadata_props.
    const configs = (m.metadataProps ?? []).flatMap((p) => { try { return [JSON.parse(p.value)]; } catch { return []; } })
      .filter((v) => v && typeof v === 'object' && Array.isArray(v.widths));
    expect(configs).toHaveLength(1);
    expect(configs[0]).toEqual(model.config());
    return m;
  }

  it('opset 17 by default; 13 and 21 on request; all load and run in onnxruntime with the right IR version', async () => {
    for (const model of [kan, mlp] as Model[]) {
      const { x } = makeInputs(model, 1000, 3);
      const want = model.forward(x);
      for (const opset of [undefined, 13, 17, 21]) {
        const bytes = toOnnx(model, opset === undefined ? {} : { opset });
        checkStructure(bytes, model, opset ?? 17);
        const s = await ort.InferenceSession.create(bytes);
        expect(s.inputNames).toEqual(['x']);
        expect(s.outputNames).toEqual(['y']);
        const y = await runOrt(s, x, model.inputDim);
        expect(maxAbsDiff(y.data as Float32Array, want)).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(want)));
        await s.release();
      }
    }
  });

  it('every opset 13..21 loads and runs', async () => {
    const { x } = makeInputs(kan, 1000, 4);
    const want = kan.forward(x);
    for (let opset = 13; opset <= 21; opset++) {
      const bytes = toOnnx(kan, { opset });
      checkStructure(bytes, kan, opset);
      const s = await ort.InferenceSession.create(bytes);
      expect(maxAbsDiff((await runOrt(s, x, 2)).data as Float32Array, want)).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(want)));
      await s.release();
    }
  });

  it('onnxruntime loads the files without warnings or errors (child process at log severity INFO: INFO lines, no [W]/[E])', () => {
    const files: string[] = [];
    for (const [name, model] of [['kan', kan], ['mlp', mlp], ['kan-zero', new KAN({ widths: [2, 3], base: 'zero' })]] as [string, Model][])
      for (const opset of [13, 17, 21]) {
        const f = join(tmp, `warn-${name}-${opset}.onnx`);
        exportOnnx(model, f, { opset });
        files.push(f);
      }
    const script = `import * as ort from 'onnxruntime-node';
      import { readFileSync } from 'node:fs';
      for (const f of ${JSON.stringify(files)}) {
        const s = await ort.InferenceSession.create(readFileSync(f), { logSeverityLevel: 1 });
        process.stdout.write(f + ' ' + s.inputNames.join() + ' ' + s.outputNames.join() + '\\n');
        await s.release();
      }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(files.length);
    for (const line of r.stdout.trim().split('\n')) expect(line.endsWith(' x y')).toBe(true);
    // Severity 1 logs INFO lines (so logging demonstrably reaches stderr) but there must be no
    // [W:...] warnings or [E:...] errors.
    expect(r.stderr).toMatch(/\[I:onnxruntime/);
    const bad = r.stderr.split('\n').filter((l) => /\[(W|E|F):onnxruntime/.test(l));
    expect(bad, bad.join('\n')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('the graph embeds the model’s own parameters', () => {
  it('spline MatMul weight = coef·ws·mask and base MatMul weight = wb·mask, per layer (computed here)', () => {
    const model = randomize(new KAN({ widths: [3, 4, 2], gridSize: 6, splineOrder: 2, seed: 12 }), 80, { coef: true, wb: true, ws: true });
    for (const layer of model.layers) for (let q = 0; q < layer.mask.length; q++) layer.mask[q] = [1, 0, -0.5, 2.5][q % 4];
    const m = decode(toOnnx(model));
    const weights = matmulWeights(m);
    for (const layer of model.layers) {
      const { inDim: I, outDim: O, numBasis: NB } = layer;
      const spline = weights.filter((t) => t.dims.length === 2 && t.dims[0] === I * NB && t.dims[1] === O);
      expect(spline).toHaveLength(1);
      const got = floatsOf(spline[0]);
      expect(got.length).toBe(I * NB * O);
      let maxErr = 0;
      for (let i = 0; i < I; i++)
        for (let mm = 0; mm < NB; mm++)
          for (let o = 0; o < O; o++) {
            const want = layer.coef[(i * NB + mm) * O + o] * layer.ws[i * O + o] * layer.mask[i * O + o];
            maxErr = Math.max(maxErr, Math.abs(got[(i * NB + mm) * O + o] - want) / Math.max(1e-30, Math.abs(want) || 1));
          }
      expect(maxErr).toBeLessThan(1e-6);
      const base = weights.filter((t) => t.dims.length === 2 && t.dims[0] === I && t.dims[1] === O);
      expect(base).toHaveLength(1);
      const gb = floatsOf(base[0]);
      for (let q = 0; q < I * O; q++) expect(Math.abs(gb[q] - layer.wb[q] * layer.mask[q])).toBeLessThanOrEqual(1e-6 * Math.abs(layer.wb[q] * layer.mask[q]));
    }
  });

  it('the ONNX output agrees with a float64 Cox–de Boor reference written here (adapted grid)', async () => {
    const model = randomize(new KAN({ widths: [2, 5, 1], gridSize: 5, seed: 13 }), 90, { coef: true, wb: true });
    const r = rng(91);
    const samples = new Float32Array(2 * 300).map(() => { const u = 2 * r() - 1; return u * Math.abs(u); });
    updateGrid(model, samples);
    const { x } = makeInputs(model, 1000, 92);
    const ref = refForward(model, x);
    const s = await ort.InferenceSession.create(toOnnx(model));
    const y = (await runOrt(s, x, 2)).data as Float32Array;
    await s.release();
    const d = maxAbsDiff(y, ref), scale = Math.max(1, maxAbs(ref));
    console.log(`KAN [2,5,1] adapted grid: max |onnx − float64 reference| = ${d.toExponential(2)} (max|y| ${maxAbs(ref).toExponential(2)})`);
    expect(d).toBeLessThanOrEqual(1e-5 * scale);
  });

  it('changing one coefficient changes the ONNX output by Δc·ws·mask·B_m(x) on that output only', async () => {
    const model = randomize(new KAN({ widths: [2, 3], gridSize: 5, seed: 14 }), 100, { coef: true, wb: true, ws: true });
    model.layers[0].mask.set([1, 0.5, -2, 1.5, 0, 0.25]);
    const layer = model.layers[0];
    const { numBasis: NB, numKnots: NK, splineOrder: k } = layer;
    const [i, mm, o] = [0, 4, 2], O = 3, delta = 0.75;
    const { x } = makeInputs(model, 1000, 101);
    const run = async () => {
      const s = await ort.InferenceSession.create(toOnnx(model));
      const y = (await runOrt(s, x, 2)).data as Float32Array;
      await s.release();
      return y;
    };
    const y0 = await run(), n0 = model.forward(x);
    layer.coef[(i * NB + mm) * O + o] += delta;
    const y1 = await run(), n1 = model.forward(x);
    let touched = 0, maxErr = 0;
    for (let b = 0; b < 1000; b++) {
      const Bm = refBasis(layer.grid, i * NK, NK, k, x[b * 2 + i])[mm];
      if (Bm > 0.05) touched++;
      for (let oo = 0; oo < O; oo++) {
        const want = oo === o ? delta * layer.ws[i * O + o] * layer.mask[i * O + o] * Bm : 0;
        maxErr = Math.max(maxErr, Math.abs(y1[b * O + oo] - y0[b * O + oo] - want), Math.abs(n1[b * O + oo] - n0[b * O + oo] - want));
      }
    }
    expect(touched).toBeGreaterThan(20);
    expect(maxErr).toBeLessThan(1e-5);
  });
});

// ---------------------------------------------------------------------------------------------
describe('bad input', () => {
  const listing = (dir: string) => fs.readdirSync(dir).sort();

  it('a NaN or ±Infinity parameter: RangeError naming it, and exportOnnx writes nothing (previous file untouched)', () => {
    const dir = fs.mkdtempSync(join(tmp, 'nan-'));
    const prev = join(dir, 'prev.onnx');
    fs.writeFileSync(prev, 'previous contents');
    const cases: [string, (m: KAN) => void, RegExp][] = [
      ['NaN coef', (m) => { m.layers[1].coef[3] = NaN; }, /NaN/],
      ['Infinity wb', (m) => { m.layers[0].wb[2] = Infinity; }, /Infinity/],
      ['-Infinity grid', (m) => { m.layers[0].grid[0] = -Infinity; }, /-Infinity/],
      ['NaN mask', (m) => { m.layers[0].mask[1] = NaN; }, /NaN/],
    ];
    for (const [what, spoil, re] of cases) {
      const m = new KAN({ widths: [2, 3, 1] });
      spoil(m);
      expect(() => toOnnx(m), what).toThrow(RangeError);
      expect(() => toOnnx(m), what).toThrow(re);
      expect(() => toOnnx(m), what).toThrow(/finite/);
      const fresh = join(dir, 'fresh.onnx');
      expect(() => exportOnnx(m, fresh), what).toThrow(RangeError);
      expect(() => exportOnnx(m, prev), what).toThrow(RangeError);
      expect(fs.existsSync(fresh)).toBe(false);
      expect(fs.readFileSync(prev, 'utf8')).toBe('previous contents');
      expect(listing(dir)).toEqual(['prev.onnx']);
    }
    const mlp = new MLP({ widths: [2, 2] });
    mlp.layers[0].bias[1] = NaN;
    expect(() => toOnnx(mlp)).toThrow(RangeError);
    expect(() => toOnnx(mlp)).toThrow(/NaN/);
  });

  it('opset 12, 22, 17.5 → RangeError naming options.opset; a non-number opset → TypeError', () => {
    const m = new KAN({ widths: [2, 1] });
    const dir = fs.mkdtempSync(join(tmp, 'opset-'));
    for (const opset of [12, 22, 17.5, 0, -17, NaN, Infinity]) {
      expect(() => toOnnx(m, { opset }), String(opset)).toThrow(RangeError);
      expect(() => toOnnx(m, { opset }), String(opset)).toThrow(/options\.opset/);
      expect(() => exportOnnx(m, join(dir, 'o.onnx'), { opset }), String(opset)).toThrow(/options\.opset/);
    }
    expect(() => toOnnx(m, { opset: '17' as unknown as number })).toThrow(TypeError);
    expect(() => toOnnx(m, { opset: '17' as unknown as number })).toThrow(/options\.opset/);
    expect(listing(dir)).toEqual([]);
  });

  it('a directory as the target: error naming the path, the directory untouched, no temp file left', () => {
    const dir = fs.mkdtempSync(join(tmp, 'dir-'));
    const target = join(dir, 'model.onnx');
    fs.mkdirSync(target);
    fs.writeFileSync(join(target, 'inside.txt'), 'keep');
    const before = listing(dir);
    let err: unknown;
    try { exportOnnx(new KAN({ widths: [2, 3, 1] }), target); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(target);
    expect(fs.statSync(target).isDirectory()).toBe(true);
    expect(fs.readdirSync(target)).toEqual(['inside.txt']);
    expect(fs.readFileSync(join(target, 'inside.txt'), 'utf8')).toBe('keep');
    expect(listing(dir)).toEqual(before);
  });

  it('a missing directory: error (ENOENT) naming the path, nothing created', () => {
    const dir = fs.mkdtempSync(join(tmp, 'missing-'));
    const target = join(dir, 'no', 'such', 'model.onnx');
    let err: NodeJS.ErrnoException | undefined;
    try { exportOnnx(new KAN({ widths: [2, 3, 1] }), target); } catch (e) { err = e as NodeJS.ErrnoException; }
    expect(err).toBeInstanceOf(Error);
    expect(err!.code).toBe('ENOENT');
    expect(err!.message).toContain(target);
    expect(listing(dir)).toEqual([]);
  });

  it('a write that fails part-way (file size limit, child process): previous file untouched, no temp file left', () => {
    const dir = fs.mkdtempSync(join(tmp, 'efbig-'));
    const target = join(dir, 'model.onnx');
    fs.writeFileSync(target, 'previous contents');
    const script = join(dir, '..', 'efbig-child.mjs');
    fs.writeFileSync(script, `process.on('SIGXFSZ', () => {});
      const { KAN, toOnnx, exportOnnx } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'lib', 'index.js')).href)});
      const m = new KAN({ widths: [784, 64, 10] });
      const size = toOnnx(m).length;
      try { exportOnnx(m, process.argv[2]); console.log(JSON.stringify({ ok: true, size })); }
      catch (e) { console.log(JSON.stringify({ ok: false, size, code: e.code, name: e.name, message: e.message })); }`);
    // 256 KiB limit; the file is about 2 MB, so the write starts and then fails.
    const r = spawnSync('bash', ['-c', `ulimit -f 256 && exec "${process.execPath}" "${script}" "${target}"`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(res.size).toBeGreaterThan(256 * 1024);
    expect(res.ok).toBe(false);
    expect(res.code).toBe('EFBIG');
    expect(res.message).toContain(target);
    expect(fs.readFileSync(target, 'utf8')).toBe('previous contents');
    expect(listing(dir)).toEqual(['model.onnx']);
  });

  it('a non-model argument → TypeError (and no file)', () => {
    const dir = fs.mkdtempSync(join(tmp, 'nonmodel-'));
    for (const bad of [null, undefined, {}, { kind: 'KAN', layers: [] }, new Float32Array(4), 'model.bin', 42]) {
      expect(() => toOnnx(bad as never), String(bad)).toThrow(TypeError);
      expect(() => toOnnx(bad as never), String(bad)).toThrow(/model/);
      expect(() => exportOnnx(bad as never, join(dir, 'm.onnx')), String(bad)).toThrow(TypeError);
    }
    expect(() => exportOnnx(new KAN({ widths: [1, 1] }), '' as string)).toThrow(TypeError);
    expect(listing(dir)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('kan export (CLI)', () => {
  interface Run { status: number | null; stdout: string; stderr: string; }
  const kanCli = (args: string[]): Run => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const parseVerify = (stdout: string) => {
    const m = /max abs difference (\S+) \(output scale (\S+), relative ([^)\s]+)\)/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    return { maxAbsDiff: Number(m![1]), scale: Number(m![2]), relative: Number(m![3]) };
  };
  const oneKanLine = (stderr: string) => {
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0].startsWith('kan:')).toBe(true);
    expect(stderr).not.toMatch(/\n\s+at /);
    return lines[0];
  };

  const model = randomize(new KAN({ widths: [2, 5, 1], gridSize: 5, seed: 21 }), 110, { coef: true, wb: true });
  {
    const r = rng(111);
    updateGrid(model, new Float32Array(2 * 300).map(() => (2 * r() - 1) ** 3));
  }
  const modelFile = join(tmp, 'cli-kan.bin');
  model.save(modelFile);

  it('export --verify exits 0, prints a max difference ≤ 1e-5, and the file is this model', async () => {
    const out = join(tmp, 'cli-kan.onnx');
    const r = kanCli(['export', modelFile, '-o', out, '--verify']);
    expect(r.status, r.stderr).toBe(0);
    const v = parseVerify(r.stdout);
    console.log(`kan export --verify: ${r.stdout.trim().split('\n').pop()}`);
    expect(v.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(v.relative).toBeLessThanOrEqual(1e-5);
    expect(r.stdout).toMatch(/OK/);
    const bytes = fs.readFileSync(out);
    const m = decode(bytes);
    expect(m.opsetImport[0].version).toBe(17);
    // The written file reproduces the in-memory model on this test's inputs.
    const { x } = makeInputs(model, 1000, 112);
    const s = await ort.InferenceSession.create(bytes);
    const y = (await runOrt(s, x, 2)).data as Float32Array;
    await s.release();
    const want = model.forward(x);
    expect(maxAbsDiff(y, want)).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(want)));
  });

  it('export --opset 13 --verify writes an opset-13 file (IR 7) that runs', () => {
    const out = join(tmp, 'cli-kan-13.onnx');
    const r = kanCli(['export', modelFile, '-o', out, '--opset', '13', '--verify']);
    expect(r.status, r.stderr).toBe(0);
    expect(parseVerify(r.stdout).relative).toBeLessThanOrEqual(1e-5);
    const m = decode(fs.readFileSync(out));
    expect(m.opsetImport[0].version).toBe(13);
    expect(m.irVersion).toBe(7);
  });

  it('an MLP model file exports and verifies too', () => {
    const f = join(tmp, 'cli-mlp.bin');
    new MLP({ widths: [3, 8, 2], activation: 'relu', seed: 3 }).save(f);
    const r = kanCli(['export', f, '-o', join(tmp, 'cli-mlp.onnx'), '--verify']);
    expect(r.status, r.stderr).toBe(0);
    expect(parseVerify(r.stdout).relative).toBeLessThanOrEqual(1e-5);
  });

  it('a corrupted model file: non-zero exit, one kan: line on stderr, no output file', () => {
    const bad = join(tmp, 'cli-corrupt.bin');
    const bytes = fs.readFileSync(modelFile);
    bytes[bytes.length - 40] ^= 0x5a;  // a byte of the parameter data
    fs.writeFileSync(bad, bytes);
    const out = join(tmp, 'cli-corrupt.onnx');
    const r = kanCli(['export', bad, '-o', out, '--verify']);
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBeNull();
    const line = oneKanLine(r.stderr);
    expect(line).toContain(bad);
    expect(line).toMatch(/checksum|corrupt/i);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a model file holding a NaN parameter is refused by the loader: exit 1, one kan: line naming it, no output file', () => {
    const m = new KAN({ widths: [2, 3, 1] });
    m.layers[0].coef[0] = NaN;
    const f = join(tmp, 'cli-nan.bin');
    m.save(f);
    const out = join(tmp, 'cli-nan.onnx');
    const r = kanCli(['export', f, '-o', out]);
    expect(r.status).toBe(1);
    expect(oneKanLine(r.stderr)).toMatch(/non-finite value \(NaN\)/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a bad --opset is a usage error (exit 2, one kan: line)', () => {
    for (const opset of ['12', '22', '17.5']) {
      const r = kanCli(['export', modelFile, '-o', join(tmp, 'cli-bad-opset.onnx'), '--opset', opset]);
      expect(r.status).toBe(2);
      expect(oneKanLine(r.stderr)).toContain('--opset');
    }
    expect(fs.existsSync(join(tmp, 'cli-bad-opset.onnx'))).toBe(false);
  });

  it('verifyOnnx flags bytes of a different model (relative > 1e-5) and passes the right ones', async () => {
    const other = randomize(new KAN({ widths: [2, 5, 1], gridSize: 5, seed: 22 }), 120, { coef: true, wb: true });
    const good = await verifyOnnx(model, toOnnx(model));
    const bad = await verifyOnnx(model, toOnnx(other));
    console.log(`verifyOnnx: own bytes relative ${good.relative.toExponential(2)}; another model's bytes relative ${bad.relative.toExponential(2)}`);
    expect(good.relative).toBeLessThanOrEqual(1e-5);
    expect(good.samples).toBe(1000);
    expect(bad.relative).toBeGreaterThan(1e-5);
    // An input-independent change (one coefficient nudged by 1e-3) is caught too.
    const nudged = KAN.fromBytes(model.toBytes());
    nudged.layers[1].coef[7] += 1e-3;
    const slight = await verifyOnnx(model, toOnnx(nudged));
    expect(slight.relative).toBeGreaterThan(1e-5);
  });

  it('export --verify exits 1 when the check fails (honestly reachable only through non-finite outputs)', () => {
    // The CLI exports and verifies the same loaded model, so a finite mismatch cannot be produced
    // without tampering. A model with finite parameters whose outputs overflow to ±Infinity is a
    // real case where the check cannot pass: |Inf − Inf| is NaN, which verify counts as a failure.
    const m = new MLP({ widths: [1, 1, 1], activation: 'identity' });
    m.layers[0].weight[0] = 1e30; m.layers[1].weight[0] = 1e30;
    const probe = m.forward(new Float32Array([0.5, -0.5]));
    expect(Number.isFinite(probe[0])).toBe(false);
    const f = join(tmp, 'cli-overflow.bin');
    m.save(f);
    const r = kanCli(['export', f, '-o', join(tmp, 'cli-overflow.onnx'), '--verify']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAILED/);
    console.log(`kan export --verify on an overflowing MLP (exit ${r.status}): ${r.stdout.trim().split('\n').pop()}`);
    const v = parseVerify(r.stdout);
    expect(v.maxAbsDiff).toBe(Infinity);
    expect(v.relative <= 1e-5).toBe(false);  // Infinity / Infinity: NaN, which is not within tolerance
  });
});
