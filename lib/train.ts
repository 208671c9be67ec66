// train.ts — losses, optimizers and the minibatch training loop.
//
// Per step the loop allocates only the loss value (a number from the addon) and onStep's argument:
// batch buffers, the loss gradient and optimizer state are allocated once per train() call, the
// models reuse per-batch-size workspaces, and synchronous steps run in plain loops — no
// generators, promises or per-sample subarrays (test/leaks.test.ts measures it: ~17 bytes a step
// by hand, ~20 in train() with onStep). Each step is a handful of synchronous native calls; the
// loop yields to the event loop about every 10 ms. Asynchronous steps allocate a few promises per
// native call.
import * as check from './check.js';
import { alignedF32, native } from './native.js';
import { ModelBusyError, runAsync, type Model, type NativeCall, type ParamGroup } from './model.js';
import { Rng } from './rng.js';
import { LBFGS } from './lbfgs.js';
import { KAN } from './kan.js';
import { gridUpdateForTrainer } from './grid.js';

export type LossName = 'mse' | 'crossEntropy';
export type OptimizerName = 'adam' | 'sgd' | 'lbfgs';

export interface AdamOptions { lr?: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number; }
export interface SGDOptions { lr?: number; momentum?: number; weightDecay?: number; }

export interface Optimizer {
  /** One update from model.grads, synchronously. */
  step(): void;
  /** The same update on the native pool, off the event loop. */
  stepAsync(): Promise<void>;
  readonly t: number;
}

function trainableGroups(model: Model): ParamGroup[] {
  return model.groups.filter((g) => g.trainable && g.length > 0);
}

/** Adam with bias correction; weightDecay is L2 (added to the gradient, as torch.optim.Adam). */
export class Adam implements Optimizer {
  readonly lr: number; readonly beta1: number; readonly beta2: number; readonly eps: number; readonly weightDecay: number;
  private m: Float32Array; private v: Float32Array;
  private views: { p: Float32Array; g: Float32Array; m: Float32Array; v: Float32Array }[];
  t = 0;
  constructor(readonly model: Model, o: AdamOptions = {}) {
    this.lr = o.lr === undefined ? 1e-3 : check.num('lr', o.lr, 0, Infinity, { openLo: true });
    this.beta1 = o.beta1 === undefined ? 0.9 : check.num('beta1', o.beta1, 0, 1, { openHi: true });
    this.beta2 = o.beta2 === undefined ? 0.999 : check.num('beta2', o.beta2, 0, 1, { openHi: true });
    this.eps = o.eps === undefined ? 1e-8 : check.num('eps', o.eps, 0, Infinity, { openLo: true });
    this.weightDecay = o.weightDecay === undefined ? 0 : check.num('weightDecay', o.weightDecay, 0);
    this.m = alignedF32(model.params.length);
    this.v = alignedF32(model.params.length);
    this.views = trainableGroups(model).map((g) => ({
      p: model.params.subarray(g.offset, g.offset + g.length), g: model.grads.subarray(g.offset, g.offset + g.length),
      m: this.m.subarray(g.offset, g.offset + g.length), v: this.v.subarray(g.offset, g.offset + g.length),
    }));
  }
  private update(q: number, async: boolean): NativeCall {
    const w = this.views[q];
    return native.adamStep(w.p, w.m, w.v, w.g, w.p.length, this.lr, this.beta1, this.beta2, this.eps, this.weightDecay, this.t, async);
  }
  private *calls(): Generator<NativeCall> {
    this.t++;
    for (let q = 0; q < this.views.length; q++) yield this.update(q, true);
  }
  // a plain loop (a generator and its results would be a few hundred bytes a step)
  step(): void {
    this.t++;
    for (let q = 0; q < this.views.length; q++) this.update(q, false);
  }
  stepAsync(): Promise<void> { return runAsync(this.calls()); }
}

/** SGD with momentum (buf = momentum*buf + g; p -= lr*buf) and L2 weight decay. */
export class SGD implements Optimizer {
  readonly lr: number; readonly momentum: number; readonly weightDecay: number;
  private buf: Float32Array;
  private views: { p: Float32Array; g: Float32Array; b: Float32Array }[];
  t = 0;
  constructor(readonly model: Model, o: SGDOptions = {}) {
    this.lr = o.lr === undefined ? 1e-2 : check.num('lr', o.lr, 0, Infinity, { openLo: true });
    this.momentum = o.momentum === undefined ? 0 : check.num('momentum', o.momentum, 0, 1, { openHi: true });
    this.weightDecay = o.weightDecay === undefined ? 0 : check.num('weightDecay', o.weightDecay, 0);
    this.buf = alignedF32(model.params.length);
    this.views = trainableGroups(model).map((g) => ({
      p: model.params.subarray(g.offset, g.offset + g.length), g: model.grads.subarray(g.offset, g.offset + g.length),
      b: this.buf.subarray(g.offset, g.offset + g.length),
    }));
  }
  private update(q: number, async: boolean): NativeCall {
    const w = this.views[q];
    return native.sgdStep(w.p, w.b, w.g, w.p.length, this.lr, this.momentum, this.weightDecay, async);
  }
  private *calls(): Generator<NativeCall> {
    this.t++;
    for (let q = 0; q < this.views.length; q++) yield this.update(q, true);
  }
  step(): void {
    this.t++;
    for (let q = 0; q < this.views.length; q++) this.update(q, false);
  }
  stepAsync(): Promise<void> { return runAsync(this.calls()); }
}

/** Mean squared error over all elements; writes d loss / d pred into dpred when given. */
export function mseLoss(pred: Float32Array, target: Float32Array, dpred: Float32Array | null = null): number {
  check.f32('pred', pred, { finite: false });
  check.f32('target', target, { length: pred.length, finite: false });
  if (dpred) check.f32('dpred', dpred, { length: pred.length, finite: false });
  return native.mseLoss(dpred, pred, target, pred.length);
}

/** Mean softmax cross-entropy of logits (B, C) against labels in [0, C). */
export function crossEntropyLoss(logits: Float32Array, labels: Int32Array, C: number, dlogits: Float32Array | null = null): number {
  check.int('C', C, 1);
  check.f32('logits', logits, { multipleOf: C, finite: false });
  const B = logits.length / C;
  if (!(labels instanceof Int32Array)) throw check.typeError('labels', 'Int32Array', labels);
  if (labels.length !== B) throw new RangeError(`Expected Int32Array of length ${B} for labels but received length ${labels.length}`);
  if (dlogits) check.f32('dlogits', dlogits, { length: logits.length, finite: false });
  return native.crossEntropyLoss(dlogits, logits, labels, B, C);
}

export interface StepInfo { step: number; loss: number; }

export interface TrainOptions {
  optimizer?: OptimizerName;
  lr?: number;
  /** Optimizer steps. Default 100. */
  steps?: number;
  /** Minibatch size; default (or larger than the data): full batch. */
  batchSize?: number;
  loss?: LossName;
  /** Seed of the minibatch shuffling. Default 0. */
  seed?: number;
  beta1?: number; beta2?: number; eps?: number; weightDecay?: number; momentum?: number;
  /** LBFGS: stored curvature pairs (10) and iterations per step (20), as pykan. */
  historySize?: number; maxIter?: number;
  /**
   * KAN only: update the grid from the current minibatch's inputs (grid.ts) at steps 0, every,
   * 2·every, … while step < until (pykan: update_grid with grid_update_num / stop_grid_update_step).
   */
  gridUpdate?: { every: number; until: number; gridEps?: number };
  /**
   * crossEntropy only: restrict the softmax to these classes (a separate output head per task in
   * task-incremental learning); the other logits get no gradient. Labels must be among them.
   */
  classes?: number[];
  /** Called after every step with the step's training loss (before the update). */
  onStep?: (info: StepInfo) => void;
  /** Stops the run between two steps (the model keeps the last completed step); train() rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Run each step's native calls on the native pool off the event loop (true), on the calling
   * thread yielding to the event loop every ~10 ms (false), or choose by the step's size ('auto',
   * the default: off-loop when a step is ~1e7 multiply-adds, a few milliseconds, or more).
   */
  async?: boolean | 'auto';
}

export interface TrainResult {
  steps: number;
  /** Loss of each step's minibatch (before that step's update). */
  losses: Float32Array;
  finalLoss: number;
  timeMs: number;
}

export interface Dataset { x: Float32Array; y: Float32Array | Int32Array; }

const TRAIN_KEYS = ['optimizer', 'lr', 'steps', 'batchSize', 'loss', 'seed', 'beta1', 'beta2', 'eps', 'weightDecay', 'momentum',
  'historySize', 'maxIter', 'gridUpdate', 'classes', 'onStep', 'signal', 'async'];

// Multiply-adds of one training step (forward + backward), to choose sync or async steps.
function stepWork(model: Model, B: number): number {
  const { widths: w, splineOrder: k = 0 } = model.config() as { widths: number[]; splineOrder?: number };
  let per = 0;
  for (let l = 0; l + 1 < w.length; l++) per += w[l] * w[l + 1] * (model.kind === 'KAN' ? 4 * k + 10 : 3);
  return per * B;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The training run was aborted', 'AbortError');
}

/** Mean cross-entropy with the softmax over `classes` only; writes dlogits (0 outside them). */
export function maskedCrossEntropy(dlogits: Float32Array, logits: Float32Array, labels: Int32Array, B: number, C: number,
  classes: Int32Array): number {
  let total = 0;
  dlogits.fill(0);
  for (let b = 0; b < B; b++) {
    let mx = -Infinity;
    for (const c of classes) mx = Math.max(mx, logits[b * C + c]);
    let sum = 0;
    for (const c of classes) sum += Math.exp(logits[b * C + c] - mx);
    const lse = mx + Math.log(sum);
    total += lse - logits[b * C + labels[b]];
    for (const c of classes) dlogits[b * C + c] = Math.exp(logits[b * C + c] - lse) / B;
    dlogits[b * C + labels[b]] -= 1 / B;
  }
  return B ? total / B : 0;
}

/** Checks a dataset against a model and loss; returns the number of samples. */
/**
 * Checks a dataset against a model and loss; returns the number of samples. With values: false
 * only types and lengths are checked (the values are checked as they are copied, see train()).
 */
export function checkDataset(model: Model, data: unknown, loss: LossName, name = 'data', values = true): number {
  const d = check.plainObject(name, data);
  const x = check.f32(`${name}.x`, d.x, { multipleOf: model.inputDim, finite: values });
  const n = x.length / model.inputDim;
  if (loss === 'mse') {
    check.f32(`${name}.y`, d.y, { length: n * model.outputDim, finite: values });
  } else {
    const y = d.y;
    if (!(y instanceof Int32Array)) throw check.typeError(`${name}.y`, 'Int32Array of class labels', y);
    if (y.length !== n) throw new RangeError(`Expected Int32Array of length ${n} for ${name}.y but received length ${y.length}`);
    if (values) checkLabels(y, 0, n, model.outputDim, name);
  }
  return n;
}

function checkLabels(y: Int32Array, from: number, to: number, C: number, name: string): void {
  for (let q = from; q < to; q++)
    if (y[q] < 0 || y[q] >= C)
      throw new RangeError(`Expected class labels in [0, ${C}) in ${name}.y but received ${y[q]} at index ${q}`);
}

/**
 * Checks the values of a (copied) typed array — finite floats, or labels in [0, C) — a slice at a
 * time, giving the event loop a turn every few milliseconds: a large dataset never blocks it.
 */
async function checkValues(a: Float32Array | Int32Array, name: string, labelsOf?: number): Promise<void> {
  const SLICE = 1 << 16;
  let last = performance.now();
  for (let from = 0; from < a.length; from += SLICE) {
    const to = Math.min(a.length, from + SLICE);
    if (labelsOf !== undefined) checkLabels(a as Int32Array, from, to, labelsOf, name.replace(/\.y$/, ''));
    else {
      const q = check.firstNonFinite(a as Float32Array, from, to);
      if (q >= 0) throw new RangeError(`Expected finite values in ${name} but received ${a[q]} at index ${q}`);
    }
    if (performance.now() - last > 4) {
      await new Promise<void>((r) => setImmediate(r));
      last = performance.now();
    }
  }
}

/**
 * Trains `model` in place on `data` and resolves when done. The work runs in native calls of
 * one step each; the event loop gets a turn about every 10 ms.
 */
export async function train(model: Model, data: Dataset, options: TrainOptions = {}): Promise<TrainResult> {
  const o = check.plainObject('options', options);
  check.knownKeys('options', o, TRAIN_KEYS);
  const lossName = o.loss === undefined ? 'mse' : check.oneOf('options.loss', o.loss, ['mse', 'crossEntropy'] as const);
  const n = checkDataset(model, data, lossName, 'data', false);  // values: while copying, below
  const steps = o.steps === undefined ? 100 : check.int('options.steps', o.steps, 0, 1e9);
  const batchSize = o.batchSize === undefined ? n : Math.min(n, check.int('options.batchSize', o.batchSize, 1));
  const seed = o.seed === undefined ? 0 : check.int('options.seed', o.seed, 0, 2 ** 32 - 1);
  const optName = o.optimizer === undefined ? 'adam' : check.oneOf('options.optimizer', o.optimizer, ['adam', 'sgd', 'lbfgs'] as const);
  let gridUpdate: { every: number; until: number; gridEps: number } | null = null;
  if (o.gridUpdate !== undefined) {
    const gu = check.plainObject('options.gridUpdate', o.gridUpdate);
    check.knownKeys('options.gridUpdate', gu, ['every', 'until', 'gridEps']);
    if (!(model instanceof KAN)) throw check.typeError('model', 'KAN (options.gridUpdate applies to KANs only)', model);
    gridUpdate = {
      every: check.int('options.gridUpdate.every', gu.every, 1),
      until: check.int('options.gridUpdate.until', gu.until, 0),
      gridEps: gu.gridEps === undefined ? 0.02 : check.num('options.gridUpdate.gridEps', gu.gridEps, 0, 1),
    };
  }
  if (o.onStep !== undefined && typeof o.onStep !== 'function') throw check.typeError('options.onStep', 'function', o.onStep);
  const optOpts = { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, momentum: o.momentum,
    historySize: o.historySize, maxIter: o.maxIter } as Record<string, unknown>;
  for (const key of Object.keys(optOpts)) if (optOpts[key] === undefined) delete optOpts[key];
  const prefixed = (fn: () => Optimizer) => {
    try { return fn(); } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) (err as Error).message = (err as Error).message.replace(/ for (\w+)/, ' for options.$1');
      throw err;
    }
  };
  const allowed: Record<OptimizerName, string[]> = {
    adam: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'], sgd: ['lr', 'momentum', 'weightDecay'], lbfgs: ['lr', 'historySize', 'maxIter'],
  };
  for (const key of Object.keys(optOpts))
    if (!allowed[optName].includes(key)) throw new RangeError(`Option options.${key} does not apply to optimizer ${optName}`);
  const opt = prefixed(() => (optName === 'adam' ? new Adam(model, optOpts as AdamOptions)
    : optName === 'sgd' ? new SGD(model, optOpts as SGDOptions) : new LBFGS(model, optOpts) as unknown as Optimizer));
  const onStep = o.onStep as ((info: StepInfo) => void) | undefined;
  let classes: Int32Array | null = null;
  if (o.classes !== undefined) {
    if (lossName !== 'crossEntropy') throw new RangeError("options.classes applies to loss 'crossEntropy' only");
    if (!Array.isArray(o.classes) || o.classes.length === 0) throw check.typeError('options.classes', 'non-empty array of class indices', o.classes);
    const cls = o.classes as unknown[];
    for (let q = 0; q < cls.length; q++) check.int(`options.classes[${q}]`, cls[q], 0, model.outputDim - 1);
    if (new Set(cls).size !== cls.length) throw new RangeError('Expected distinct class indices in options.classes');
    classes = Int32Array.from(cls as number[]);
    const y = data.y as Int32Array;
    for (let q = 0; q < y.length; q++)
      if (!classes.includes(y[q])) throw new RangeError(`Expected labels among options.classes in data.y but received ${y[q]} at index ${q}`);
  }


  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw check.typeError('options.signal', 'AbortSignal', signal);
  const asyncOpt = o.async === undefined ? 'auto' : o.async;
  if (asyncOpt !== 'auto' && typeof asyncOpt !== 'boolean') throw check.typeError('options.async', "boolean or 'auto'", asyncOpt);
  if (model.lock.training) throw new ModelBusyError('train(): this model is already being trained; wait for the running train() to finish');
  if (signal?.aborted) throw abortError(signal);
  model.lock.training = true;
  try {
    return await trainLocked();
  } finally {
    model.lock.training = false;
  }

  async function trainLocked(): Promise<TrainResult> {

  const inD = model.inputDim, outD = model.outputDim;
  const useAsync: boolean = asyncOpt === 'auto' ? stepWork(model, batchSize) > 1e7 : asyncOpt === true;
  // The data are copied when train() is called (a memcpy, the only part that grows with the
  // data before the first await), so the caller may reuse or change its arrays at once; the
  // values are then checked a slice at a time between event-loop turns.
  const dx = data.x.slice();
  const dy: Float32Array | Int32Array = data.y.slice();
  await checkValues(dx, 'data.x');
  await checkValues(dy, 'data.y', lossName === 'mse' ? undefined : outD);

  const fullBatch = batchSize === n;
  const xb = fullBatch ? dx : alignedF32(batchSize * inD);
  const yb: Float32Array | Int32Array = fullBatch ? dy : (lossName === 'mse' ? alignedF32(batchSize * outD) : new Int32Array(batchSize));
  const dpred = alignedF32(batchSize * outD);
  const order = new Uint32Array(n);
  for (let q = 0; q < n; q++) order[q] = q;
  const rng = new Rng(seed);
  let cursor = n;  // forces a shuffle before the first minibatch
  const losses = new Float32Array(steps);
  const t0 = performance.now();
  let lastYield = t0;

  const ceLoss = (pred: Float32Array) => (classes
    ? maskedCrossEntropy(dpred, pred, yb as Int32Array, batchSize, outD, classes)
    : native.crossEntropyLoss(dpred, pred, yb as Int32Array, batchSize, outD));
  const lossOf = (pred: Float32Array) => (lossName === 'mse'
    ? native.mseLoss(dpred, pred, yb as Float32Array, pred.length)
    : ceLoss(pred));
  // One forward + loss + backward: returns the loss, leaves the gradient in model.grads. The
  // backward writes the gradient (no zeroing pass over grads first).
  function* gradientCalls(): Generator<NativeCall, number> {
    const pred: Float32Array = yield* model.trainSteps(xb, batchSize, true);
    const l = lossOf(pred);
    yield* model.backwardSteps(dpred, true, false);
    return l;
  }
  const gradientSync = (): number => {
    const l = lossOf(model.trainSync(xb, batchSize));
    model.backwardSync(dpred, false);
    return l;
  };
  const gradient = (): number | Promise<number> => (useAsync ? runAsync(gradientCalls()) : gradientSync());

  const gridStep = (step: number) => gridUpdate !== null && step < gridUpdate.until && step % gridUpdate.every === 0;
  const diverged = (loss: number, step: number, hint: string) =>
    new RangeError(`Training diverged: the loss became ${loss} at step ${step}${hint}`);
  // A step of Adam or SGD with synchronous calls: to the end without a promise (an await, even of
  // a number, allocates).
  const syncStep = (step: number): number => {
    const loss = gradientSync();
    if (!Number.isFinite(loss)) throw diverged(loss, step, ' (lower options.lr?)');
    opt.step();
    return loss;
  };
  const runStep = async (step: number): Promise<number> => {
    if (gridStep(step)) await gridUpdateForTrainer(model as KAN, xb, gridUpdate!.gridEps, useAsync);
    if (opt instanceof LBFGS) {
      const loss = await opt.step(gradient);
      if (!Number.isFinite(loss)) throw diverged(loss, step, '');
      return loss;
    }
    if (!useAsync) return syncStep(step);
    const loss = await gradient();
    if (!Number.isFinite(loss)) throw diverged(loss, step, ' (lower options.lr?)');
    await opt.stepAsync();
    return loss;
  };
  const plainSync = !useAsync && !(opt instanceof LBFGS);

  // The next minibatch: samples order[cursor..] (reshuffled when used up), gathered by the addon
  // a run of rows at a time (a subarray per sample would allocate a view each; a JS loop copied
  // 784-float rows at half the speed).
  const fillBatch = (): void => {
    if (fullBatch) return;
    for (let r = 0; r < batchSize;) {
      if (cursor >= n) { rng.shuffle(order); cursor = 0; }
      const k = Math.min(batchSize - r, n - cursor);
      native.gatherRows(xb, batchSize, dx, n, inD, order, n, cursor, k, r);
      if (lossName === 'mse') native.gatherRows(yb as Float32Array, batchSize, dy as Float32Array, n, outD, order, n, cursor, k, r);
      else for (let q = 0; q < k; q++) (yb as Int32Array)[r + q] = (dy as Int32Array)[order[cursor + q]];
      cursor += k;
      r += k;
    }
  };
  // Plain synchronous steps (Adam or SGD, sync calls, no grid update) in a loop without await —
  // an await allocates, even of a number — from step `from`, each holding the model's write lock
  // while it runs (taken at once: the loop goes on only while the lock is free, which onStep's
  // code may change), until ~10 ms have passed; returns the next step. The clock is read after
  // the first step and then after as many steps as the average so far says fit in the time left
  // (a reading allocates a number). Per step only the loss value and onStep's argument are
  // allocated.
  const plainSteps = (from: number): number => {
    const start = performance.now();
    let step = from, budget = 1;
    while (step < steps && !signal?.aborted && !gridStep(step) && model.lock.free) {
      fillBatch();
      const loss = model.lock.writeNow(syncStep, step);
      losses[step] = loss;
      if (onStep) onStep({ step, loss });
      step++;
      if (--budget === 0) {
        const spent = performance.now() - start;
        if (spent > 10) break;
        budget = Math.max(1, Math.floor(((10 - spent) * (step - from)) / Math.max(spent, 1e-3)));
      }
    }
    return step;
  };

  let step = 0;
  while (step < steps) {
    if (plainSync) {
      const next = plainSteps(step);
      if (next > step) {
        step = next;
        await new Promise<void>((r) => setImmediate(r));  // the event loop's turn, about every 10 ms
        lastYield = performance.now();
        continue;
      }
    }
    if (signal?.aborted) throw abortError(signal);
    fillBatch();
    // The step holds the model's write lock: forwardAsync calls wait for it and see whole steps.
    const at = step;
    const loss = await model.lock.write(() => runStep(at));
    losses[step] = loss;
    if (onStep) onStep({ step, loss });
    step++;
    if (!useAsync && performance.now() - lastYield > 10) {
      await new Promise<void>((r) => setImmediate(r));
      lastYield = performance.now();
    }
  }
  return { steps, losses, finalLoss: steps ? losses[steps - 1] : NaN, timeMs: performance.now() - t0 };
  }
}

/** Mean squared error of the model on (x, y). */
export function evaluateMSE(model: Model, x: Float32Array, y: Float32Array): number {
  const pred = model.forward(x);
  check.f32('y', y, { length: pred.length });
  return native.mseLoss(null, pred, y, pred.length);
}

/** Classification accuracy of the model on (x, labels). */
export function evaluateAccuracy(model: Model, x: Float32Array, labels: Int32Array): number {
  const pred = model.forward(x);
  const C = model.outputDim, B = pred.length / C;
  if (!(labels instanceof Int32Array)) throw check.typeError('labels', `Int32Array of length ${B}`, labels);
  if (labels.length !== B) throw new RangeError(`Expected Int32Array of length ${B} for labels but received length ${labels.length}`);
  let correct = 0;
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (pred[b * C + c] > pred[b * C + best]) best = c;
    if (best === labels[b]) correct++;
  }
  return B ? correct / B : 0;
}
