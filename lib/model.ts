// model.ts — what KAN and MLP share: one Float32Array with named views for all of a model's
// tensors, gradient buffers of the same layout, parameter groups, per-batch-size workspaces,
// and the forward/backward entry points the trainer uses.
import * as check from './check.js';
import { alignedF32 } from './native.js';
import { modelToBytes, saveModelFile } from './io.js';

/** A contiguous range of `params` that an optimizer updates as one group (e.g. all `coef`). */
export interface ParamGroup {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  trainable: boolean;
}

/** A named slice of a model's data (parameters first, then fixed state such as grids). */
export interface TensorSpec { name: string; length: number; }

/**
 * The model is busy: a training run holds it (forwardTrain/backward/zeroGrad/updateGrid from
 * outside the trainer, a second train()) or an asynchronous training step is writing its
 * parameters (forward(), save()). forwardAsync() never throws this: it waits for the step.
 */
export class ModelBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelBusyError';
  }
}

/**
 * Concurrency on one model (readers: forwardAsync; writer: a training step). A forwardAsync
 * holds a read lock for its whole multi-layer pass, so it sees the weights of one step —
 * before or after, never a mix; a step waits until running readers finish, and readers that
 * arrive while a step waits or runs queue behind it (first come, first served).
 */
export class ModelLock {
  private readers = 0;
  private writing = false;
  private waiting: { write: boolean; resolve: () => void }[] = [];
  /** A train() run holds the model (set and cleared by the trainer). */
  training = false;

  /** True while an asynchronous step may be writing parameters. */
  get isWriting(): boolean { return this.writing; }

  /** Nothing holds or waits for the lock: write() would run its function at once. */
  get free(): boolean { return !this.writing && this.readers === 0 && this.waiting.length === 0; }

  async read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writing || this.waiting.length > 0) await new Promise<void>((r) => this.waiting.push({ write: false, resolve: r }));
    else this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      this.drain();
    }
  }

  /** Runs fn as the only user of the parameters. Synchronous (no await) when nothing else holds the lock. */
  write<T>(fn: () => T | Promise<T>): T | Promise<T> {
    if (this.free) {
      this.writing = true;
      let r: T | Promise<T>;
      try {
        r = fn();
      } catch (err) {
        this.writing = false;
        this.drain();
        throw err;
      }
      if (r instanceof Promise) return r.finally(() => { this.writing = false; this.drain(); });
      this.writing = false;
      this.drain();
      return r;
    }
    return new Promise<void>((res) => this.waiting.push({ write: true, resolve: res })).then(async () => {
      try {
        return await fn();
      } finally {
        this.writing = false;
        this.drain();
      }
    });
  }

  /** Runs a synchronous fn(arg) as the only user of the parameters, at once; the lock must be free. */
  writeNow<A, T>(fn: (arg: A) => T, arg: A): T {
    if (!this.free) throw new Error('internal: writeNow() while the lock is held');
    this.writing = true;
    try {
      return fn(arg);
    } finally {
      this.writing = false;
      this.drain();
    }
  }

  private drain(): void {
    while (this.waiting.length > 0) {
      const head = this.waiting[0];
      if (head.write) {
        if (this.readers === 0 && !this.writing) {
          this.waiting.shift();
          this.writing = true;
          head.resolve();
        }
        return;
      }
      if (this.writing) return;
      this.waiting.shift();
      this.readers++;
      head.resolve();
    }
  }
}

/** A native call made synchronously (returns nothing) or asynchronously (a Promise). */
export type NativeCall = void | Promise<void>;

/** Options of Model.backward. */
export interface BackwardOptions {
  /** true (default): add this batch's gradient to grads; false: set grads to it. */
  accumulate?: boolean;
}

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
  /**
   * Training forward: caches what backward needs; returns a workspace view (valid until the next
   * call). Low-level: throws ModelBusyError while train() holds the model.
   */
  forwardTrain(x: Float32Array, B: number): Float32Array;
  /**
   * Accumulates d loss / d params into grads from dy (B, outputDim) of the last forwardTrain.
   * With `{ accumulate: false }` grads are set to this batch's gradient instead: the same result,
   * bit for bit, as zeroGrad() then backward(dy), without the pass that zeroes them (what train() does).
   */
  backward(dy: Float32Array, options?: BackwardOptions): void;
  /** Sets grads to 0. */
  zeroGrad(): void;
  /** Concurrency state (see ModelLock). */
  readonly lock: ModelLock;
  /** @internal The trainer's entry points: native calls of one forwardTrain / backward, sync or async. */
  trainSteps(x: Float32Array, B: number, async: boolean): Generator<NativeCall, Float32Array>;
  /** @internal */
  backwardSteps(dy: Float32Array, async: boolean, accumulate?: boolean): Generator<NativeCall>;
  /** @internal The same calls made synchronously without a generator (a step allocates nothing). */
  trainSync(x: Float32Array, B: number): Float32Array;
  /** @internal */
  backwardSync(dy: Float32Array, accumulate: boolean): void;
  save(path: string): void;
  toBytes(): Uint8Array;
}

const BACKWARD_KEYS = ['accumulate'] as const;

/** Checks x for a model with `inDim` inputs and returns the batch size. */
export function batchOf(name: string, x: unknown, inDim: number): number {
  const a = check.f32(name, x, { multipleOf: inDim });
  return a.length / inDim;
}

/** A forward's layer output: 64-byte aligned when the next layer reads it (the caller's result
 *  is a plain array of its own), unless short (then the extra native call costs more than the
 *  kernels would save). */
function outputArray(n: number, last: boolean): Float32Array {
  return n >= 1024 && !last ? alignedF32(n) : new Float32Array(n);
}

/** Lays out tensors in one Float32Array (64-byte aligned); returns the array and the views by name. */
export function allocate(specs: TensorSpec[]): { data: Float32Array; views: Map<string, Float32Array>; offsets: Map<string, number> } {
  let total = 0;
  for (const s of specs) total += s.length;
  check.sizeOf('model data', total);
  const data = alignedF32(total);
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

/** Runs a generator of native calls synchronously and returns its result. */
export function runSync<T>(steps: Generator<NativeCall, T>): T {
  let r = steps.next();
  while (!r.done) {
    if (r.value) throw new Error('internal: asynchronous native call in a synchronous run');
    r = steps.next();
  }
  return r.value;
}

/** Runs a generator of native calls, awaiting each, and returns its result. */
export async function runAsync<T>(steps: Generator<NativeCall, T>): Promise<T> {
  let r = steps.next();
  while (!r.done) {
    await r.value;
    r = steps.next();
  }
  return r.value;
}

/** Per-batch-size buffers of the training forward/backward. */
export interface Workspace {
  B: number;
  x: Float32Array | null;
  /** (B, widths[l+1]) layer outputs */
  outs: Float32Array[];
  /** (B, widths[l+1]) pre-activations, for layers that need them in backward (else null) */
  zs: (Float32Array | null)[];
  /** (B, widths[l]) input gradients (null for layer 0) */
  dxs: (Float32Array | null)[];
}

/**
 * What KAN and MLP share: inference (sync, async), the training forward/backward on cached
 * workspaces, the concurrency rules of ModelLock, and saving. A subclass provides one native call
 * per layer forward and backward.
 */
export abstract class BaseModel {
  abstract readonly kind: 'KAN' | 'MLP';
  abstract readonly data: Float32Array;
  abstract readonly params: Float32Array;
  abstract readonly grads: Float32Array;
  abstract readonly groups: ParamGroup[];
  readonly lock = new ModelLock();
  private workspaces = new Map<number, Workspace>();
  /** Sync forward's layer outputs for small batches, by batch size (see forward). */
  private inferOuts = new Map<number, Float32Array[]>();
  private last: Workspace | null = null;

  /** Layer widths, input first (a copy). */
  abstract get widths(): number[];
  /** The model's own widths array (not a copy: what the per-step paths read, allocating nothing). */
  protected abstract get dims(): readonly number[];
  abstract config(): Record<string, unknown>;
  get inputDim(): number { return this.dims[0]; }
  get outputDim(): number { const w = this.dims; return w[w.length - 1]; }
  get numParams(): number { return this.params.length; }
  protected abstract get numLayers(): number;
  /** y (B, out_l) = layer l of x (B, in_l); z: pre-activation cache to fill, or null. */
  protected abstract layerForward(l: number, y: Float32Array, z: Float32Array | null, x: Float32Array, B: number, async: boolean): NativeCall;
  /**
   * Accumulates the gradients of layer l (and dx unless null) from dy; with overwrite, sets the
   * layer's gradients to this batch's (the same bits as zeroing them first), dx still accumulated.
   */
  protected abstract layerBackward(l: number, dx: Float32Array | null, dy: Float32Array, x: Float32Array, y: Float32Array,
    z: Float32Array | null, B: number, async: boolean, overwrite: boolean): NativeCall;
  /** Whether layer l's backward needs its pre-activation. */
  protected needsPreactivation(_l: number): boolean { return false; }

  /** The layers in turn on the native pool; their outputs go to new arrays. */
  private *inferSteps(x: Float32Array, B: number): Generator<NativeCall, Float32Array> {
    let h = x;
    for (let l = 0; l < this.numLayers; l++) {
      const y = this.inferOutput(l, B);
      yield this.layerForward(l, y, null, h, B, true);
      h = y;
    }
    return h;
  }

  /** Layer l's output array for a batch of B: a new one (64-byte aligned unless the last or short). */
  private inferOutput(l: number, B: number): Float32Array {
    return outputArray(check.sizeOf('layer output', B, this.dims[l + 1]), l === this.numLayers - 1);
  }

  /** y (B, outputDim) for x (B, inputDim), as a new array. Throws ModelBusyError during an asynchronous training step. */
  forward(x: Float32Array): Float32Array {
    const B = batchOf('x', x, this.inputDim);
    if (this.lock.isWriting) throw new ModelBusyError('forward(): a training step is updating this model; use forwardAsync(), which waits for it');
    // a small batch: the layers write into arrays kept for this batch size (the call runs to the
    // end before anything else can use them) and the caller gets a copy of the last
    const outs = this.smallInferOuts(B);
    let h = x;
    for (let l = 0; l < this.numLayers; l++) {
      const y = outs ? outs[l] : this.inferOutput(l, B);
      this.layerForward(l, y, null, h, B, false);
      h = y;
    }
    return outs ? h.slice() : h;
  }

  /**
   * The kept layer outputs of a small batch (at most 16,384 floats over all layers), or null.
   * Every new Float32Array the addon receives costs ~1 µs there (V8 materialises or registers
   * its backing store), ~2.6 µs of a 35 µs single-sample forward of config a with two layers;
   * a copy of the result stays in JS.
   */
  private smallInferOuts(B: number): Float32Array[] | null {
    let outs = this.inferOuts.get(B);
    if (outs) return outs;
    const w = this.dims;
    let total = 0;
    for (let l = 1; l < w.length; l++) total += B * w[l];
    if (total > 16384) return null;
    outs = [];
    for (let l = 1; l < w.length; l++) outs.push(alignedF32(B * w[l]));
    if (this.inferOuts.size >= 4) this.inferOuts.clear();
    this.inferOuts.set(B, outs);
    return outs;
  }

  /**
   * Same as forward, on the native pool off the event loop. x is copied first (the caller may
   * reuse it at once); the pass sees the weights between two training steps, never a mix.
   */
  async forwardAsync(x: Float32Array): Promise<Float32Array> {
    const B = batchOf('x', x, this.inputDim);
    const xc = x.slice();
    return this.lock.read(() => runAsync(this.inferSteps(xc, B)));
  }

  private workspace(B: number): Workspace {
    let ws = this.workspaces.get(B);
    if (!ws) {
      const w = this.dims, L = this.numLayers;
      ws = { B, x: null, outs: [], zs: [], dxs: [] };
      for (let l = 0; l < L; l++) {
        const n = check.sizeOf('layer output', B, w[l + 1]);
        ws.outs.push(l === L - 1 ? new Float32Array(n) : alignedF32(n));  // forwardTrain returns the last
        ws.zs.push(this.needsPreactivation(l) ? alignedF32(B * w[l + 1]) : null);
        ws.dxs.push(l === 0 ? null : alignedF32(check.sizeOf('layer input gradient', B, w[l])));
      }
      if (this.workspaces.size >= 4) this.workspaces.clear();
      this.workspaces.set(B, ws);
    }
    return ws;
  }

  // The training forward and backward: each as a generator of native calls (asynchronous calls
  // awaited between layers; the trainer's async steps) and as a plain loop (synchronous calls:
  // forwardTrain, backward, the trainer's sync steps). The loops allocate nothing — a generator
  // and its results are a few hundred bytes a call.

  /** The workspace of batch B, holding x for the backward. */
  private trainWorkspace(x: Float32Array, B: number): Workspace {
    const ws = this.workspace(B);
    ws.x = x;
    return ws;
  }

  /** @internal The trainer's forward: native calls of one training forward. */
  *trainSteps(x: Float32Array, B: number, async: boolean): Generator<NativeCall, Float32Array> {
    const ws = this.trainWorkspace(x, B);
    for (let l = 0; l < this.numLayers; l++) yield this.layerForward(l, ws.outs[l], ws.zs[l], l === 0 ? x : ws.outs[l - 1], B, async);
    this.last = ws;
    return ws.outs[this.numLayers - 1];
  }

  /** @internal */
  trainSync(x: Float32Array, B: number): Float32Array {
    const ws = this.trainWorkspace(x, B);
    for (let l = 0; l < this.numLayers; l++) this.layerForward(l, ws.outs[l], ws.zs[l], l === 0 ? x : ws.outs[l - 1], B, false);
    this.last = ws;
    return ws.outs[this.numLayers - 1];
  }

  /** The last training forward's workspace, for a backward. */
  private lastWorkspace(): Workspace {
    const ws = this.last;
    if (!ws || !ws.x) throw new Error('backward() needs a forwardTrain() first');
    return ws;
  }

  /** Layer l's backward on workspace ws (its output gradient: dy for the last layer, else the next
   *  layer's input gradient); returns the call. */
  private backwardLayer(ws: Workspace, l: number, dy: Float32Array, async: boolean, accumulate: boolean): NativeCall {
    const dx = ws.dxs[l];
    if (dx) dx.fill(0);
    const g = l === this.numLayers - 1 ? dy : ws.dxs[l + 1]!;
    return this.layerBackward(l, dx, g, l === 0 ? ws.x! : ws.outs[l - 1], ws.outs[l], ws.zs[l], ws.B, async, !accumulate);
  }

  /** @internal The trainer's backward. */
  *backwardSteps(dy: Float32Array, async: boolean, accumulate = true): Generator<NativeCall> {
    const ws = this.lastWorkspace();
    for (let l = this.numLayers - 1; l >= 0; l--) yield this.backwardLayer(ws, l, dy, async, accumulate);
  }

  /** @internal */
  backwardSync(dy: Float32Array, accumulate: boolean): void {
    const ws = this.lastWorkspace();
    for (let l = this.numLayers - 1; l >= 0; l--) this.backwardLayer(ws, l, dy, false, accumulate);
  }

  private assertNotTraining(what: string): void {
    if (this.lock.training) throw new ModelBusyError(`${what}: the model is being trained by train(); wait for it to finish`);
  }

  forwardTrain(x: Float32Array, B: number): Float32Array {
    this.assertNotTraining('forwardTrain()');
    check.int('B', B, 1);
    check.f32Length('x', x, B * this.inputDim);
    return this.trainSync(x, B);
  }

  backward(dy: Float32Array, options?: BackwardOptions): void {
    this.assertNotTraining('backward()');
    let accumulate = true;
    if (options !== undefined) {
      const o = check.plainObject('options', options);
      check.knownKeys('options', o, BACKWARD_KEYS);
      if (o.accumulate !== undefined) accumulate = check.bool('options.accumulate', o.accumulate);
    }
    if (this.last) check.f32Length('dy', dy, this.last.B * this.outputDim, false);
    this.backwardSync(dy, accumulate);
  }

  zeroGrad(): void {
    this.assertNotTraining('zeroGrad()');
    this.grads.fill(0);
  }

  toBytes(): Uint8Array {
    if (this.lock.isWriting) throw new ModelBusyError('toBytes()/save(): a training step is updating this model; save between steps (e.g. in onStep)');
    return modelToBytes(this.kind, this.config(), this.data);
  }

  /** Writes the model file atomically (io.ts): a failed save leaves the previous file intact. */
  save(path: string): void {
    saveModelFile(path, this.toBytes());
  }
}
