// mlp.ts — the multilayer perceptron baseline on the native dense kernels.
// Layer l: z = x W_l + b_l, W_l (I, O) row-major, then the activation on hidden layers (the last
// layer is linear). Initialisation as PyTorch's nn.Linear: W, b ~ U(-1/sqrt(I), 1/sqrt(I)).
import * as check from './check.js';
import { alignedF32, native } from './native.js';
import { allocate, BaseModel, type Model, type NativeCall, type ParamGroup, type TensorSpec } from './model.js';
import { Rng } from './rng.js';
import { loadModelFile, readModel, type ModelReader } from './io.js';

export type Activation = 'identity' | 'relu' | 'silu' | 'tanh';
export const ACTIVATIONS: readonly Activation[] = ['identity', 'relu', 'silu', 'tanh'];  // index = native code

export interface MLPOptions {
  /** Layer widths, e.g. [1, 32, 32, 1]. */
  widths: number[];
  /** Hidden-layer activation. Default 'silu'. */
  activation?: Activation;
  /** Seed of the initialisation. Default 0. */
  seed?: number;
  /** Which groups the optimizers update. Default both. */
  trainable?: { weight?: boolean; bias?: boolean };
}

export interface MLPConfig { widths: number[]; activation: Activation; seed: number; trainable: { weight: boolean; bias: boolean }; }

export function normalizeMLPOptions(options: unknown): MLPConfig {
  const o = check.plainObject('options', options);
  check.knownKeys('options', o, ['widths', 'activation', 'seed', 'trainable']);
  const widths = o.widths;
  if (!Array.isArray(widths)) throw check.typeError('options.widths', 'array of at least 2 positive integers', widths);
  if (widths.length < 2) throw check.rangeError('options.widths', 'array of at least 2 positive integers', widths);
  for (let q = 0; q < widths.length; q++) check.int(`options.widths[${q}]`, widths[q], 1, 1_000_000);
  const activation = o.activation === undefined ? 'silu' : check.oneOf('options.activation', o.activation, ACTIVATIONS);
  const seed = o.seed === undefined ? 0 : check.int('options.seed', o.seed, 0, 2 ** 32 - 1);
  const trainable = { weight: true, bias: true };
  if (o.trainable !== undefined) {
    const t = check.plainObject('options.trainable', o.trainable);
    check.knownKeys('options.trainable', t, ['weight', 'bias']);
    for (const key of ['weight', 'bias'] as const)
      if (t[key] !== undefined) trainable[key] = check.bool(`options.trainable.${key}`, t[key]);
  }
  let total = 0;
  for (let l = 0; l + 1 < widths.length; l++) total += check.sizeOf('the model that options.widths describes', widths[l], widths[l + 1]) + widths[l + 1];
  check.sizeOf('the model that options.widths describes', total);
  return { widths: widths.slice(), activation, seed, trainable };
}

export class DenseLayer {
  constructor(
    readonly inDim: number, readonly outDim: number,
    /** (I, O) */ readonly weight: Float32Array,
    /** (O) */ readonly bias: Float32Array,
    readonly dweight: Float32Array, readonly dbias: Float32Array,
    /** native activation code of this layer */ readonly act: number,
  ) {}
}

export class MLP extends BaseModel implements Model {
  readonly kind = 'MLP' as const;
  readonly cfg: MLPConfig;
  readonly data: Float32Array;
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly groups: ParamGroup[];
  readonly layers: DenseLayer[];

  constructor(options: MLPOptions, restore?: Float32Array) {
    super();
    const cfg = normalizeMLPOptions(options);
    this.cfg = cfg;
    const w = cfg.widths, L = w.length - 1;
    const specs: TensorSpec[] = [];
    for (let l = 0; l < L; l++) specs.push({ name: `weight${l}`, length: w[l] * w[l + 1] });
    for (let l = 0; l < L; l++) specs.push({ name: `bias${l}`, length: w[l + 1] });
    const { data, views, offsets } = allocate(specs);
    this.data = data;
    this.params = data;
    this.grads = alignedF32(data.length);
    const gv = (name: string) => this.grads.subarray(offsets.get(name)!, offsets.get(name)! + views.get(name)!.length);
    this.groups = (['weight', 'bias'] as const).map((g) => {
      const offset = offsets.get(`${g}0`)!;
      const end = offsets.get(`${g}${L - 1}`)! + views.get(`${g}${L - 1}`)!.length;
      return { name: g, offset, length: end - offset, trainable: cfg.trainable[g] };
    });
    const act = ACTIVATIONS.indexOf(cfg.activation);
    this.layers = [];
    for (let l = 0; l < L; l++)
      this.layers.push(new DenseLayer(w[l], w[l + 1], views.get(`weight${l}`)!, views.get(`bias${l}`)!,
        gv(`weight${l}`), gv(`bias${l}`), l === L - 1 ? 0 : act));
    if (restore) {
      if (restore.length !== data.length) throw new RangeError(`Expected ${data.length} floats of model data but received ${restore.length}`);
      data.set(restore);
    } else {
      const rng = new Rng(cfg.seed);
      for (const layer of this.layers) {
        const r = 1 / Math.sqrt(layer.inDim);
        for (let q = 0; q < layer.weight.length; q++) layer.weight[q] = rng.range(-r, r);
        for (let q = 0; q < layer.bias.length; q++) layer.bias[q] = rng.range(-r, r);
      }
    }
  }

  get widths(): number[] { return this.cfg.widths.slice(); }
  protected get dims(): readonly number[] { return this.cfg.widths; }
  protected get numLayers(): number { return this.layers.length; }
  config(): Record<string, unknown> { return JSON.parse(JSON.stringify(this.cfg)); }

  protected override needsPreactivation(l: number): boolean { return this.layers[l].act !== 0; }

  protected layerForward(l: number, y: Float32Array, z: Float32Array | null, x: Float32Array, B: number, async: boolean): NativeCall {
    const L = this.layers[l];
    return native.denseForward(y, z, x, L.weight, L.bias, B, L.inDim, L.outDim, L.act, async);
  }

  protected layerBackward(l: number, dx: Float32Array | null, dy: Float32Array, x: Float32Array, y: Float32Array,
    z: Float32Array | null, B: number, async: boolean, overwrite: boolean): NativeCall {
    const L = this.layers[l];
    // identity layers keep no pre-activation: it equals the output
    return native.denseBackward(dx, L.dweight, L.dbias, dy, x, z ?? y, L.weight, B, L.inDim, L.outDim, L.act, async, overwrite);
  }

  static load(path: string): MLP { return MLP.fromBytes(loadModelFile(path), path); }

  static fromBytes(bytes: Uint8Array, source = 'bytes'): MLP {
    return readModel(bytes, source, { MLP: mlpReader });
  }
}

/** @internal How a model file's MLP is checked and built (io.ts; values already checked finite). */
export const mlpReader: ModelReader<MLP> = {
  floats: (config) => {
    const cfg = normalizeMLPOptions(config);
    let n = 0;
    for (let l = 0; l + 1 < cfg.widths.length; l++) n += cfg.widths[l] * cfg.widths[l + 1] + cfg.widths[l + 1];
    return n;
  },
  build: (parsed) => new MLP(parsed.config as unknown as MLPOptions, parsed.data),
};
