// kan.ts — the Kolmogorov–Arnold Network (DESIGN.md, "The KAN layer"; pykan's semantics).
//
// Layer l maps I = widths[l] inputs to O = widths[l+1] outputs:
//   y[b,o] = sum_i mask[i,o] * (wb[i,o] * base(x[b,i]) + ws[i,o] * sum_m coef[i,m,o] * B_m(x[b,i]))
// with B-spline bases of order k on the knot row grid[i,:] (NK = G + 2k + 1 knots, NB = G + k
// bases). Layouts: grid (I, NK), coef (I, NB, O), wb/ws/mask (I, O), all row-major views into the
// model's one Float32Array.
import * as check from './check.js';
import { alignedF32, native } from './native.js';
import { allocate, BaseModel, type Model, type NativeCall, type ParamGroup, type TensorSpec } from './model.js';
import { Rng } from './rng.js';
import { loadModelFile, ModelFileError, readModel, type ModelReader } from './io.js';

export type BaseFunction = 'silu' | 'identity' | 'zero';
export const BASES: readonly BaseFunction[] = ['zero', 'identity', 'silu'];  // index = native code

export interface KANOptions {
  /** Layer widths, e.g. [2, 5, 1]. At least two entries, each a positive integer. */
  widths: number[];
  /** Grid intervals G (1..10000). Default 5. */
  gridSize?: number;
  /** Spline order k (1..5). Default 3. */
  splineOrder?: number;
  /** Initial grid range [a, b] of every input. Default [-1, 1]. */
  gridRange?: [number, number];
  /** Residual base function. Default 'silu'. */
  base?: BaseFunction;
  /** Scale of the noise the initial splines are fitted to. Default 0.3. */
  noiseScale?: number;
  /** wb = mu/sqrt(I) + sigma * U(-1,1)/sqrt(I). Defaults 0 and 1 (pykan). */
  scaleBaseMu?: number;
  scaleBaseSigma?: number;
  /** Seed of the initialisation. Default 0. */
  seed?: number;
  /** Which parameter groups the optimizers update. Default all true. */
  trainable?: { coef?: boolean; wb?: boolean; ws?: boolean };
}

export interface KANConfig {
  widths: number[]; gridSize: number; splineOrder: number; gridRange: [number, number]; base: BaseFunction;
  noiseScale: number; scaleBaseMu: number; scaleBaseSigma: number; seed: number;
  trainable: { coef: boolean; wb: boolean; ws: boolean };
}

const KAN_KEYS = ['widths', 'gridSize', 'splineOrder', 'gridRange', 'base', 'noiseScale', 'scaleBaseMu',
  'scaleBaseSigma', 'seed', 'trainable'] as const;

export function normalizeKANOptions(options: unknown): KANConfig {
  const o = check.plainObject('options', options);
  check.knownKeys('options', o, KAN_KEYS);
  const widths = o.widths;
  if (!Array.isArray(widths)) throw check.typeError('options.widths', 'array of at least 2 positive integers', widths);
  if (widths.length < 2) throw check.rangeError('options.widths', 'array of at least 2 positive integers', widths);
  for (let q = 0; q < widths.length; q++) check.int(`options.widths[${q}]`, widths[q], 1, 1_000_000);
  const gridSize = o.gridSize === undefined ? 5 : check.int('options.gridSize', o.gridSize, 1, 10000);
  const splineOrder = o.splineOrder === undefined ? 3 : check.int('options.splineOrder', o.splineOrder, 1, 5);
  let gridRange: [number, number] = [-1, 1];
  if (o.gridRange !== undefined) {
    const r = o.gridRange;
    if (!Array.isArray(r) || r.length !== 2) throw check.typeError('options.gridRange', 'array [a, b] with a < b', r);
    const a = check.num('options.gridRange[0]', r[0]);
    const b = check.num('options.gridRange[1]', r[1]);
    if (!(b > a)) throw new RangeError(`Expected array [a, b] with a < b for options.gridRange but received [${a}, ${b}]`);
    gridRange = [a, b];
    // every knot, k intervals beyond each end, must be a finite float32 with a finite spacing
    const k0 = splineOrder, h = (b - a) / gridSize, lo = Math.fround(a - k0 * h), hi = Math.fround(b + k0 * h);
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !Number.isFinite(Math.fround(hi - lo)) || !(Math.fround(h) > 0))
      throw new RangeError(`Expected options.gridRange whose knots (${k0} intervals beyond each end) are finite float32 values but received [${a}, ${b}]`);
  }
  const base = o.base === undefined ? 'silu' : check.oneOf('options.base', o.base, ['silu', 'identity', 'zero'] as const);
  const noiseScale = o.noiseScale === undefined ? 0.3 : check.num('options.noiseScale', o.noiseScale, 0);
  const scaleBaseMu = o.scaleBaseMu === undefined ? 0 : check.num('options.scaleBaseMu', o.scaleBaseMu);
  const scaleBaseSigma = o.scaleBaseSigma === undefined ? 1 : check.num('options.scaleBaseSigma', o.scaleBaseSigma, 0);
  const seed = o.seed === undefined ? 0 : check.int('options.seed', o.seed, 0, 2 ** 32 - 1);
  const trainable = { coef: true, wb: true, ws: true };
  if (o.trainable !== undefined) {
    const t = check.plainObject('options.trainable', o.trainable);
    check.knownKeys('options.trainable', t, ['coef', 'wb', 'ws']);
    for (const key of ['coef', 'wb', 'ws'] as const)
      if (t[key] !== undefined) trainable[key] = check.bool(`options.trainable.${key}`, t[key]);
  }
  // Total size before anything is allocated.
  let total = 0;
  for (let l = 0; l + 1 < widths.length; l++) {
    const I = widths[l], O = widths[l + 1];
    total += check.sizeOf('the model that options.widths describes', I, gridSize + splineOrder, O) + 3 * I * O + I * (gridSize + 2 * splineOrder + 1);
  }
  check.sizeOf('the model that options.widths describes', total);
  return { widths: widths.slice(), gridSize, splineOrder, gridRange, base, noiseScale, scaleBaseMu, scaleBaseSigma, seed, trainable };
}

/** One KAN layer: named Float32Array views into the model's data. */
export class KANLayer {
  constructor(
    readonly inDim: number,
    readonly outDim: number,
    readonly gridSize: number,
    readonly splineOrder: number,
    /** (I, NK) knot rows; non-decreasing; may be non-uniform after a grid update. */
    readonly grid: Float32Array,
    /** (I, NB, O) spline coefficients. */
    readonly coef: Float32Array,
    /** (I, O) base-branch weights. */
    readonly wb: Float32Array,
    /** (I, O) spline-branch weights. */
    readonly ws: Float32Array,
    /** (I, O) 1 for active edges, 0 for pruned ones (any real number is allowed). */
    readonly mask: Float32Array,
    readonly dcoef: Float32Array,
    readonly dwb: Float32Array,
    readonly dws: Float32Array,
  ) {}
  get numBasis(): number { return this.gridSize + this.splineOrder; }
  get numKnots(): number { return this.gridSize + 2 * this.splineOrder + 1; }
}

export class KAN extends BaseModel implements Model {
  readonly kind = 'KAN' as const;
  readonly cfg: KANConfig;
  readonly data: Float32Array;
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly groups: ParamGroup[];
  readonly layers: KANLayer[];
  readonly baseCode: number;

  /** Builds and initialises a KAN (pykan's initialisation, seeded). */
  constructor(options: KANOptions);
  /** @internal Restores a KAN from saved data without initialising. */
  constructor(options: KANOptions, restore: Float32Array);
  constructor(options: KANOptions, restore?: Float32Array) {
    super();
    const cfg = normalizeKANOptions(options);
    this.cfg = cfg;
    this.baseCode = BASES.indexOf(cfg.base);
    const { widths, gridSize: G, splineOrder: k } = cfg;
    const L = widths.length - 1;
    const specs: TensorSpec[] = [];
    for (const g of ['coef', 'wb', 'ws'])
      for (let l = 0; l < L; l++)
        specs.push({ name: `${g}${l}`, length: g === 'coef' ? widths[l] * (G + k) * widths[l + 1] : widths[l] * widths[l + 1] });
    let nParams = 0;
    for (const s of specs) nParams += s.length;
    for (let l = 0; l < L; l++) specs.push({ name: `grid${l}`, length: widths[l] * (G + 2 * k + 1) });
    for (let l = 0; l < L; l++) specs.push({ name: `mask${l}`, length: widths[l] * widths[l + 1] });
    const { data, views, offsets } = allocate(specs);
    this.data = data;
    this.params = data.subarray(0, nParams);
    this.grads = alignedF32(nParams);
    const gv = (name: string) => this.grads.subarray(offsets.get(name)!, offsets.get(name)! + views.get(name)!.length);
    this.groups = (['coef', 'wb', 'ws'] as const).map((g) => {
      const offset = offsets.get(`${g}0`)!;
      const end = offsets.get(`${g}${L - 1}`)! + views.get(`${g}${L - 1}`)!.length;
      return { name: g, offset, length: end - offset, trainable: cfg.trainable[g] };
    });
    this.layers = [];
    for (let l = 0; l < L; l++)
      this.layers.push(new KANLayer(widths[l], widths[l + 1], G, k, views.get(`grid${l}`)!, views.get(`coef${l}`)!,
        views.get(`wb${l}`)!, views.get(`ws${l}`)!, views.get(`mask${l}`)!, gv(`coef${l}`), gv(`wb${l}`), gv(`ws${l}`)));
    if (restore) {
      if (restore.length !== data.length) throw new RangeError(`Expected ${data.length} floats of model data but received ${restore.length}`);
      data.set(restore);
    } else {
      this.initialise();
    }
  }

  get widths(): number[] { return this.cfg.widths.slice(); }
  protected get dims(): readonly number[] { return this.cfg.widths; }
  protected get numLayers(): number { return this.layers.length; }

  config(): Record<string, unknown> { return JSON.parse(JSON.stringify(this.cfg)); }

  // pykan: uniform grid on gridRange extended by k knots each side; coef fitted by least squares
  // to noise (U[0,1)-1/2)*noiseScale/G at the G+1 grid points; wb = mu/sqrt(I) + sigma*U(-1,1)/sqrt(I);
  // ws = mask/sqrt(I); mask = 1. Draw order per layer: noise (n, i, o), then wb (i, o).
  private initialise(): void {
    const rng = new Rng(this.cfg.seed);
    const { gridSize: G, splineOrder: k, gridRange: [a, b], noiseScale, scaleBaseMu: mu, scaleBaseSigma: sigma } = this.cfg;
    const h = (b - a) / G;
    for (const layer of this.layers) {
      const { inDim: I, outDim: O, numKnots: NK } = layer;
      for (let i = 0; i < I; i++)
        for (let m = 0; m < NK; m++) layer.grid[i * NK + m] = a + (m - k) * h;
      const n = G + 1;
      const xs = new Float32Array(n * I);
      for (let s = 0; s < n; s++) for (let i = 0; i < I; i++) xs[s * I + i] = layer.grid[i * NK + k + s];
      const noise = new Float32Array(n * I * O);
      for (let q = 0; q < noise.length; q++) noise[q] = (rng.uniform() - 0.5) * noiseScale / G;
      native.splineFit(layer.coef, xs, noise, layer.grid, n, I, O, G, k, 1e-8);
      const r = 1 / Math.sqrt(I);
      for (let q = 0; q < I * O; q++) {
        layer.wb[q] = mu * r + sigma * (rng.uniform() * 2 - 1) * r;
        layer.mask[q] = 1;
        layer.ws[q] = layer.mask[q] * r;
      }
    }
  }

  protected layerForward(l: number, y: Float32Array, _z: Float32Array | null, x: Float32Array, B: number, async: boolean): NativeCall {
    const L = this.layers[l];
    return native.kanForward(y, x, L.grid, L.coef, L.wb, L.ws, L.mask, B, L.inDim, L.outDim, L.gridSize, L.splineOrder,
      this.baseCode, async);
  }

  protected layerBackward(l: number, dx: Float32Array | null, dy: Float32Array, x: Float32Array, _y: Float32Array,
    _z: Float32Array | null, B: number, async: boolean, overwrite: boolean): NativeCall {
    const L = this.layers[l];
    // overwrite: the kernel writes the layer's gradients (no zeroing pass over them first)
    return native.kanBackward(dx, L.dcoef, L.dwb, L.dws, dy, x, L.grid, L.coef, L.wb, L.ws, L.mask, B, L.inDim, L.outDim,
      L.gridSize, L.splineOrder, this.baseCode, async, overwrite);
  }

  /** Loads a KAN saved with save(); see io.ts for the format and its checks. */
  static load(path: string): KAN {
    return kanFromBytes(loadModelFile(path), path);
  }

  static fromBytes(bytes: Uint8Array, source = 'bytes'): KAN {
    return kanFromBytes(bytes, source);
  }
}

/** @internal How a model file's KAN is checked and built (io.ts). */
export const kanReader: ModelReader<KAN> = {
  floats: (config) => floatsOfKAN(normalizeKANOptions(config)),
  build: (parsed, source) => {
    const model = new KAN(parsed.config as unknown as KANOptions, parsed.data);
    // (values are finite: parseModelBytes checked them) every knot row must be non-decreasing
    for (const [l, layer] of model.layers.entries()) {
      const NK = layer.numKnots;
      for (let i = 0; i < layer.inDim; i++)
        for (let m = 1; m < NK; m++)
          if (!(layer.grid[i * NK + m] >= layer.grid[i * NK + m - 1]))
            throw new ModelFileError(source, `knot row ${i} of layer ${l} decreases at knot ${m}`);
    }
    return model;
  },
};

function kanFromBytes(bytes: Uint8Array, source: string): KAN {
  return readModel(bytes, source, { KAN: kanReader });
}

/** Number of floats a KAN of this config stores (parameters, grids and masks). */
export function floatsOfKAN(cfg: KANConfig): number {
  const { widths, gridSize: G, splineOrder: k } = cfg;
  let n = 0;
  for (let l = 0; l + 1 < widths.length; l++) n += widths[l] * (G + k) * widths[l + 1] + 3 * widths[l] * widths[l + 1] + widths[l] * (G + 2 * k + 1);
  return n;
}
