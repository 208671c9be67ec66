// export.ts — trained KANs and MLPs as standard ONNX (ai.onnx operators only; opset 17 by
// default, 13–21 on request). Input `x` [N, in] float32 with N dynamic; output `y` [N, out].
//
// A KAN layer is evaluated exactly as DESIGN.md: the Cox–de Boor recursion over all G+k bases on
// constant knot tensors, with the reciprocals of the knot differences precomputed (0 where a
// difference is 0: the 0/0 terms), so adapted (non-uniform) grids, inputs outside the grid (the
// half-open order-0 indicators make every basis 0 there) and every k from 1 to 5 come out right:
//   B0[n,i,m] = Cast(x >= t[i,m] And x < t[i,m+1])
//   Bp[n,i,m] = (x − t[i,m])·R1p[i,m]·B(p−1)[n,i,m] + (t[i,m+p+1] − x)·R2p[i,m]·B(p−1)[n,i,m+1]
// then one MatMul of the flattened bases [N, I·NB] with coef·ws·mask [I·NB, O], plus the base
// branch MatMul(base(x), wb·mask). MLP layers are MatMul, Add and the activation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as check from '../check.js';
import { KAN } from '../kan.js';
import { MLP } from '../mlp.js';
import type { Model } from '../model.js';
import { writeFileAtomic } from '../io.js';
import { packageRoot } from '../native.js';
import { AttrType, ModelProto, TensorDataType } from './schema.js';

export interface OnnxOptions {
  /** ai.onnx opset version, 13..21. Default 17. */
  opset?: number;
  /** Graph name. Default 'kan-native'. */
  name?: string;
}

export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

// Lowest IR version that carries each opset (onnx/helper.py's VERSION_TABLE).
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
}

interface Tensor { name: string; dims: number[]; dataType: number; rawData?: Uint8Array; int64Data?: number[]; }
interface Node { opType: string; input: string[]; output: string[]; name: string; attribute: Record<string, unknown>[]; }

class GraphBuilder {
  nodes: Node[] = [];
  initializers: Tensor[] = [];
  private n = 0;
  fresh(prefix: string): string { return `${prefix}_${this.n++}`; }
  constF(prefix: string, dims: number[], values: ArrayLike<number>): string {
    const name = this.fresh(prefix);
    const f = Float32Array.from(values as ArrayLike<number>);
    const bytes = new Uint8Array(f.length * 4);
    const dv = new DataView(bytes.buffer);
    for (let q = 0; q < f.length; q++) dv.setFloat32(q * 4, f[q], true);
    this.initializers.push({ name, dims, dataType: TensorDataType.FLOAT, rawData: bytes });
    return name;
  }
  constI64(prefix: string, values: number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dims: [values.length], dataType: TensorDataType.INT64, int64Data: values });
    return name;
  }
  op(opType: string, input: string[], attrs: Record<string, unknown>[] = [], out?: string): string {
    const o = out ?? this.fresh(opType.toLowerCase());
    this.nodes.push({ opType, input, output: [o], name: this.fresh(`n_${opType}`), attribute: attrs });
    return o;
  }
}

function assertFinite(model: Model): void {
  const d = model.data;
  for (let q = 0; q < d.length; q++)
    if (!Number.isFinite(d[q])) throw new RangeError(`Expected finite parameters in model but found ${d[q]} at data index ${q}; cannot export`);
}

function kanLayer(g: GraphBuilder, model: KAN, l: number, h: string): string {
  const layer = model.layers[l];
  const { inDim: I, outDim: O, splineOrder: k, numKnots: NK, numBasis: NB } = layer;
  const t = layer.grid;
  const T = (i: number, m: number) => t[i * NK + m];
  const slice = (from: number, len: number) => {
    const out = new Float32Array(I * len);
    for (let i = 0; i < I; i++) for (let m = 0; m < len; m++) out[i * len + m] = T(i, from + m);
    return out;
  };
  // Clip first: outside every knot row the order-0 indicators are 0 anyway, and a finite x keeps
  // (x - t)·0 from turning into NaN for infinite inputs.
  let lo = Infinity, hi = -Infinity;
  for (let q = 0; q < t.length; q++) { lo = Math.min(lo, t[q]); hi = Math.max(hi, t[q]); }
  const span = hi - lo + 1;
  const xc = g.op('Clip', [h, g.constF('clip_lo', [], [lo - span]), g.constF('clip_hi', [], [hi + span])]);
  const x3 = g.op('Unsqueeze', [xc, g.constI64('axes', [2])]);                        // [N, I, 1]
  const ge = g.op('GreaterOrEqual', [x3, g.constF(`l${l}_t_lo`, [I, NK - 1], slice(0, NK - 1))]);
  const lt = g.op('Less', [x3, g.constF(`l${l}_t_hi`, [I, NK - 1], slice(1, NK - 1))]);
  let B = g.op('Cast', [g.op('And', [ge, lt])], [{ name: 'to', type: AttrType.INT, i: TensorDataType.FLOAT }]);  // [N, I, NK-1]
  for (let p = 1; p <= k; p++) {
    const L = NK - 1 - p;
    const r1 = new Float32Array(I * L), r2 = new Float32Array(I * L);
    for (let i = 0; i < I; i++)
      for (let m = 0; m < L; m++) {
        const d1 = T(i, m + p) - T(i, m), d2 = T(i, m + p + 1) - T(i, m + 1);
        r1[i * L + m] = d1 > 0 ? 1 / d1 : 0;
        r2[i * L + m] = d2 > 0 ? 1 / d2 : 0;
      }
    const left = g.op('Mul', [g.op('Sub', [x3, g.constF(`l${l}_a${p}`, [I, L], slice(0, L))]), g.constF(`l${l}_r1_${p}`, [I, L], r1)]);
    const right = g.op('Mul', [g.op('Sub', [g.constF(`l${l}_c${p}`, [I, L], slice(p + 1, L)), x3]), g.constF(`l${l}_r2_${p}`, [I, L], r2)]);
    const axes = g.constI64('axes', [2]);
    const bLo = g.op('Slice', [B, g.constI64('starts', [0]), g.constI64('ends', [L]), axes]);
    const bHi = g.op('Slice', [B, g.constI64('starts', [1]), g.constI64('ends', [L + 1]), axes]);
    B = g.op('Add', [g.op('Mul', [left, bLo]), g.op('Mul', [right, bHi])]);          // [N, I, NB at p = k]
  }
  const flat = g.op('Reshape', [B, g.constI64('shape', [-1, I * NB])]);               // [N, I*NB]
  const ws = new Float32Array(I * NB * O);
  for (let i = 0; i < I; i++)
    for (let m = 0; m < NB; m++)
      for (let o = 0; o < O; o++) ws[(i * NB + m) * O + o] = layer.coef[(i * NB + m) * O + o] * layer.ws[i * O + o] * layer.mask[i * O + o];
  const ys = g.op('MatMul', [flat, g.constF(`l${l}_spline_w`, [I * NB, O], ws)]);
  if (model.cfg.base === 'zero') return ys;
  const wb = new Float32Array(I * O);
  for (let q = 0; q < I * O; q++) wb[q] = layer.wb[q] * layer.mask[q];
  const bx = model.cfg.base === 'silu' ? g.op('Mul', [h, g.op('Sigmoid', [h])]) : h;
  return g.op('Add', [ys, g.op('MatMul', [bx, g.constF(`l${l}_base_w`, [I, O], wb)])]);
}

function mlpLayer(g: GraphBuilder, model: MLP, l: number, h: string): string {
  const layer = model.layers[l];
  const z = g.op('Add', [g.op('MatMul', [h, g.constF(`l${l}_w`, [layer.inDim, layer.outDim], layer.weight)]), g.constF(`l${l}_b`, [layer.outDim], layer.bias)]);
  switch (layer.act) {
    case 1: return g.op('Relu', [z]);
    case 2: return g.op('Mul', [z, g.op('Sigmoid', [z])]);
    case 3: return g.op('Tanh', [z]);
    default: return z;
  }
}

/** The model as an ONNX file's bytes. */
export function toOnnx(model: Model, options: OnnxOptions = {}): Uint8Array {
  if (!(model instanceof KAN) && !(model instanceof MLP)) throw check.typeError('model', 'KAN or MLP', model);
  const o = check.plainObject('options', options);
  check.knownKeys('options', o, ['opset', 'name']);
  const opset = o.opset === undefined ? DEFAULT_OPSET : check.int('options.opset', o.opset, MIN_OPSET, MAX_OPSET);
  const name = o.name === undefined ? 'kan-native' : String(o.name);
  assertFinite(model);
  const g = new GraphBuilder();
  let h = 'x';
  const L = model.layers.length;
  for (let l = 0; l < L; l++) {
    const out = model instanceof KAN ? kanLayer(g, model, l, h) : mlpLayer(g, model, l, h);
    h = out;
  }
  g.op('Identity', [h], [], 'y');
  const vi = (nm: string, d: number) => ({
    name: nm, type: { tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: d }] } } },
  });
  const msg = ModelProto.fromObject({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'kan-native',
    producerVersion: packageVersion(),
    docString: `${model.kind} exported by kan-native`,
    graph: {
      name,
      node: g.nodes,
      initializer: g.initializers,
      input: [vi('x', model.inputDim)],
      output: [vi('y', model.outputDim)],
    },
    metadataProps: [
      { key: 'kan-native.kind', value: model.kind },
      { key: 'kan-native.config', value: JSON.stringify(model.config()) },
    ],
  });
  return ModelProto.encode(msg).finish();
}

/** Writes the ONNX file atomically (temp file, fsync, rename): a failure leaves no partial file. */
export function exportOnnx(model: Model, path: string, options: OnnxOptions = {}): void {
  if (typeof path !== 'string' || path.length === 0) throw check.typeError('path', 'non-empty string', path);
  const bytes = toOnnx(model, options);
  writeFileAtomic(path, bytes);
}

export interface VerifyResult { maxAbsDiff: number; outputScale: number; relative: number; samples: number; }

/**
 * Runs the ONNX bytes in onnxruntime-node on `x` (default: 1,000 inputs per input dimension
 * spread over 1.5× the widest grid range, so both inside and outside) and compares with the
 * model's native forward. relative = maxAbsDiff / max(1, max |y|).
 */
export async function verifyOnnx(model: Model, bytes: Uint8Array, x?: Float32Array): Promise<VerifyResult> {
  const ort = await import('onnxruntime-node');
  const input = x ?? defaultInputs(model, 1000);
  const B = input.length / model.inputDim;
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await session.run({ x: new ort.Tensor('float32', input, [B, model.inputDim]) });
    const got = out.y.data as Float32Array;
    const want = model.forward(input);
    let diff = 0, scale = 1;
    for (let q = 0; q < want.length; q++) {
      const d = Math.abs(got[q] - want[q]);
      diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
      scale = Math.max(scale, Math.abs(want[q]));
    }
    return { maxAbsDiff: diff, outputScale: scale, relative: diff / scale, samples: B };
  } finally {
    await session.release();
  }
}

/** Seeded inputs over 1.5× the model's grid range (or [-1.5, 1.5] for an MLP). */
export function defaultInputs(model: Model, n: number): Float32Array {
  let lo = -1, hi = 1;
  if (model instanceof KAN) { lo = model.cfg.gridRange[0]; hi = model.cfg.gridRange[1]; }
  const mid = (lo + hi) / 2, half = ((hi - lo) / 2) * 1.5;
  const x = new Float32Array(n * model.inputDim);
  let s = 12345;
  for (let q = 0; q < x.length; q++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[q] = mid - half + (2 * half * s) / 2 ** 32;
  }
  return x;
}
