// runner.ts — sequential-task (continual) learning: train on tasks in order and, after each,
// evaluate every task, giving R[i][j] = test error (or accuracy) on task j after training
// through task i. Metrics (DESIGN.md), with T the last phase:
//   errors:     average final = mean_j R[T][j]; BWT = mean_{j<T} (R[T][j] − R[j][j]) (> 0: forgot);
//               forgetting_j = R[T][j] − min_{j≤l<T} R[l][j]
//   accuracies: average final = mean_j R[T][j]; BWT = mean_{j<T} (R[T][j] − R[j][j]) (< 0: forgot);
//               forgetting_j = max_{j≤l<T} R[l][j] − R[T][j]
// so forgetting is positive when a task was forgotten, for both kinds.
import * as check from '../check.js';
import type { Model } from '../model.js';
import { native } from '../native.js';
import { checkDataset, train, type TrainOptions } from '../train.js';

export interface RegressionSet { x: Float32Array; y: Float32Array; }
export interface ClassificationSet { x: Float32Array; y: Int32Array; }
export interface Task<S = RegressionSet | ClassificationSet> {
  name: string;
  train: S;
  test: S;
  /**
   * Classification only: the classes this task uses. With `heads: 'multi'` the softmax (training)
   * and the argmax (evaluation) are restricted to them — a separate head per task.
   */
  classes?: number[];
}

export type Metric = 'mse' | 'accuracy';

export interface ProgressEvent {
  phase: number;          // index of the task being trained
  phases: number;
  task: string;
  step: number;           // step within the phase
  steps: number;
  loss: number;
}

export interface SequentialOptions {
  /** Training of each phase (loss defaults from the metric: mse → 'mse', accuracy → 'crossEntropy'). */
  train: TrainOptions;
  /** 'mse' for regression, 'accuracy' for classification. Default 'mse'. */
  metric?: Metric;
  /** Classification: a shared output head over all classes (default) or one head per task. */
  heads?: 'shared' | 'multi';
  /** Regression: a set evaluated after every phase as well (e.g. the whole input domain). */
  domain?: RegressionSet;
  /** Called during training (throttled by the trainer's own onStep) and after each phase. */
  onProgress?: (e: ProgressEvent) => void;
  /** Called after each phase with the model (e.g. to record predictions for a figure). */
  afterPhase?: (phase: number, model: Model) => void;
}

export interface SequentialResult {
  tasks: string[];
  metric: Metric;
  /** R[i][j]: metric on task j's test set after training through task i. */
  R: number[][];
  /** Metric on options.domain after each phase (regression with a domain only). */
  domain: number[] | null;
  averageFinal: number;
  bwt: number;
  /** forgetting[j] for j < T (the last task cannot have been forgotten yet). */
  forgetting: number[];
  meanForgetting: number;
  /** Milliseconds of training per phase, and of all evaluations. */
  trainMs: number[];
  evalMs: number;
}

/** Mean squared error of the model on a regression set. */
export function mseOn(model: Model, set: RegressionSet): number {
  return mseOf(model.forward(set.x), set.y);
}

/** Accuracy on a classification set; with `classes`, the argmax runs over those only. */
export function accuracyOn(model: Model, set: ClassificationSet, classes?: number[]): number {
  return accuracyOf(model.forward(set.x), model.outputDim, set.y, classes);
}

function mseOf(pred: Float32Array, y: Float32Array): number {
  return native.mseLoss(null, pred, y, pred.length);
}

function accuracyOf(pred: Float32Array, C: number, y: Int32Array, classes?: number[]): number {
  const B = y.length;
  const cand = classes ?? Array.from({ length: C }, (_, c) => c);
  let correct = 0;
  for (let b = 0; b < B; b++) {
    let best = cand[0];
    for (const c of cand) if (pred[b * C + c] > pred[b * C + best]) best = c;
    if (best === y[b]) correct++;
  }
  return B ? correct / B : 0;
}

export function continualMetrics(R: number[][], metric: Metric) {
  const T = R.length - 1;
  const last = R[T];
  const averageFinal = last.reduce((s, v) => s + v, 0) / last.length;
  const sign = metric === 'mse' ? 1 : -1;
  const forgetting: number[] = [];
  let bwt = 0;
  for (let j = 0; j < T; j++) {
    bwt += last[j] - R[j][j];
    let best = R[j][j];
    for (let l = j; l < T; l++) best = sign > 0 ? Math.min(best, R[l][j]) : Math.max(best, R[l][j]);
    forgetting.push(sign * (last[j] - best));
  }
  return {
    averageFinal, bwt: T > 0 ? bwt / T : 0, forgetting,
    meanForgetting: T > 0 ? forgetting.reduce((s, v) => s + v, 0) / T : 0,
  };
}

/** Trains `model` on `tasks` in order (in place) and measures what it forgets. */
export async function runSequential(model: Model, tasks: Task[], options: SequentialOptions): Promise<SequentialResult> {
  if (!Array.isArray(tasks) || tasks.length === 0) throw check.typeError('tasks', 'non-empty array of tasks', tasks);
  const o = check.plainObject('options', options);
  check.knownKeys('options', o, ['train', 'metric', 'heads', 'domain', 'onProgress', 'afterPhase']);
  const metric = o.metric === undefined ? 'mse' : check.oneOf('options.metric', o.metric, ['mse', 'accuracy'] as const);
  const heads = o.heads === undefined ? 'shared' : check.oneOf('options.heads', o.heads, ['shared', 'multi'] as const);
  const trainOpts = { ...(check.plainObject('options.train', o.train) as TrainOptions) };
  const loss = metric === 'mse' ? 'mse' : 'crossEntropy';
  if (trainOpts.loss !== undefined && trainOpts.loss !== loss)
    throw new RangeError(`Expected options.train.loss '${loss}' for metric '${metric}' but received '${trainOpts.loss}'`);
  tasks.forEach((t, q) => {
    check.plainObject(`tasks[${q}]`, t);
    if (typeof t.name !== 'string') throw check.typeError(`tasks[${q}].name`, 'string', t.name);
    checkDataset(model, t.train, loss, `tasks[${q}].train`);
    checkDataset(model, t.test, loss, `tasks[${q}].test`);
    if (heads === 'multi') {
      if (!Array.isArray(t.classes) || t.classes.length === 0)
        throw check.typeError(`tasks[${q}].classes`, "non-empty array of class indices (needed with heads: 'multi')", t.classes);
      t.classes.forEach((c, r) => check.int(`tasks[${q}].classes[${r}]`, c, 0, model.outputDim - 1));
      if (new Set(t.classes).size !== t.classes.length) throw new RangeError(`Expected distinct class indices in tasks[${q}].classes`);
      for (const part of ['train', 'test'] as const) {
        const y = (t[part] as ClassificationSet).y;
        for (let r = 0; r < y.length; r++)
          if (!t.classes.includes(y[r]))
            throw new RangeError(`Expected labels among tasks[${q}].classes in tasks[${q}].${part}.y but received ${y[r]} at index ${r}`);
      }
    }
  });
  const domain = o.domain as RegressionSet | undefined;
  if (domain !== undefined) {
    if (metric !== 'mse') throw new RangeError("options.domain applies to metric 'mse' only");
    checkDataset(model, domain, 'mse', 'options.domain');
  }
  const onProgress = o.onProgress as SequentialOptions['onProgress'];
  const afterPhase = o.afterPhase as SequentialOptions['afterPhase'];
  const userOnStep = trainOpts.onStep;

  const R: number[][] = [];
  const domainErr: number[] = [];
  const trainMs: number[] = [];
  let evalMs = 0;
  const steps = trainOpts.steps ?? 100;
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i];
    const opts: TrainOptions = {
      ...trainOpts, loss,
      onStep: (s) => {
        userOnStep?.(s);
        onProgress?.({ phase: i, phases: tasks.length, task: task.name, step: s.step + 1, steps, loss: s.loss });
      },
    };
    if (heads === 'multi') opts.classes = task.classes;
    const t0 = performance.now();
    await train(model, task.train, opts);
    trainMs.push(performance.now() - t0);
    const e0 = performance.now();
    // Evaluations run on the native pool (forwardAsync), off the event loop.
    const row: number[] = [];
    for (const t of tasks) {
      const pred = await model.forwardAsync(t.test.x);
      row.push(metric === 'mse' ? mseOf(pred, (t.test as RegressionSet).y)
        : accuracyOf(pred, model.outputDim, (t.test as ClassificationSet).y, heads === 'multi' ? t.classes : undefined));
    }
    R.push(row);
    if (domain) domainErr.push(mseOf(await model.forwardAsync(domain.x), domain.y));
    evalMs += performance.now() - e0;
    afterPhase?.(i, model);
  }
  return { tasks: tasks.map((t) => t.name), metric, R, domain: domain ? domainErr : null, ...continualMetrics(R, metric), trainMs, evalMs };
}
