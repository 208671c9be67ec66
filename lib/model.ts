// model.ts — what KAN and MLP share: one Float32Array with named views for all of a model's
// tensors, gradient buffers of the same layout, parameter groups, per-batch-size workspaces,
// and the forward/backward entry points the trainer uses.
import * as check from './check.js';

/** A contiguous range of `params` that an optimizer updates as one group (e.g. all `coef`). */
export interface ParamGroup {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  trainable: boolean;
}

/** A named slice of a model's data (parameters first, then fixed state such as grids). */
export interface TensorSpec { name: string; length: number; }

export interface Model {
  readonly kind: 'KAN' | 'MLP';
  readonly inputDim: number;
  readonly outputDim: number;
  /** Every tensor of the model, parameters first: what save() writes. */
  readonly data: Float32Array;
  /** The trainable-capable prefix of `data`, laid out group after group. */
  readonly params: Float32Array;
  /** Gradients, same layout as `params`. */
  readonly grads: Float32Array;
  readonly groups: ParamGroup[];
  /** Number of parameters (length of params). */
  readonly numParams: number;
  config(): Record<string, unknown>;
  /** y (B, outputDim) for x (B, inputDim), as a new array. */
  forward(x: Float32Array): Float32Array;
  /** Same as forward, computed on a native worker thread. */
  forwardAsync(x: Float32Array): Promise<Float32Array>;
  /** Training forward: caches what backward needs; returns a workspace view (valid until the next call). */
  forwardTrain(x: Float32Array, B: number): Float32Array;
  /** Accumulates d loss / d params into grads from dy (B, outputDim) of the last forwardTrain. */
  backward(dy: Float32Array): void;
  /** Sets grads to 0. */
  zeroGrad(): void;
  save(path: string): void;
  toBytes(): Uint8Array;
}

/** Checks x for a model with `inDim` inputs and returns the batch size. */
export function batchOf(name: string, x: unknown, inDim: number): number {
  const a = check.f32(name, x, { multipleOf: inDim });
  return a.length / inDim;
}

/** Lays out tensors in one Float32Array; returns the array and the views by name. */
export function allocate(specs: TensorSpec[]): { data: Float32Array; views: Map<string, Float32Array>; offsets: Map<string, number> } {
  let total = 0;
  for (const s of specs) total += s.length;
  check.sizeOf('model data', total);
  const data = new Float32Array(total);
  const views = new Map<string, Float32Array>();
  const offsets = new Map<string, number>();
  let off = 0;
  for (const s of specs) {
    views.set(s.name, data.subarray(off, off + s.length));
    offsets.set(s.name, off);
    off += s.length;
  }
  return { data, views, offsets };
}
