// experiment-run.ts — runs a built-in experiment for a set of models and seeds (what
// `kan continual` does), collecting the continual-learning results, per-phase predictions for
// the figure (1-D regression) and timings. JSON-serialisable.
import * as check from '../check.js';
import { bumpsExperiment, digitsExperiment, EXPERIMENTS, peaksExperiment, type Experiment, type ExperimentName } from './experiments.js';
import { runSequential, type ProgressEvent, type SequentialResult } from './runner.js';

export interface ExperimentRunOptions {
  experiment?: ExperimentName;
  /** Model ids (default: the experiment's default list). */
  models?: string[];
  /** Initialisation seeds. Default [0]. */
  seeds?: number[];
  /** Steps per phase (overrides the experiment's default). */
  steps?: number;
  /** bumps-nd: input dimension, hidden width and grid size. */
  dim?: number; size?: number; grid?: number;
  /** split-digits: output heads. */
  heads?: 'shared' | 'multi';
  /** Points of the figure's curves per panel (1-D experiments). Default 400. */
  curvePoints?: number;
  onProgress?: (model: string, seed: number, e: ProgressEvent) => void;
  onRunDone?: (model: string, seed: number, r: SequentialResult) => void;
}

export interface ModelRun { model: string; label: string; seed: number; result: SequentialResult; }

export interface ExperimentRun {
  experiment: string;
  description: string;
  metric: 'mse' | 'accuracy';
  tasks: string[];
  runs: ModelRun[];
  /** First seed of each model: predictions on [-1,1] after each phase (1-D regression only). */
  curves: { model: string; label: string; phase: number; x: number[]; pred: number[]; truth: number[] }[];
  regions: { phase: number; lo: number; hi: number }[];
}

export function buildExperiment(o: ExperimentRunOptions): Experiment {
  const name = o.experiment ?? 'peaks';
  if (name === 'peaks') return peaksExperiment(o.steps !== undefined ? { steps: o.steps } : {});
  if (name === 'bumps-nd') return bumpsExperiment({ dim: o.dim, size: o.size, grid: o.grid, steps: o.steps });
  if (name === 'split-digits') return digitsExperiment({ heads: o.heads, steps: o.steps });
  throw check.rangeError('experiment', `one of ${EXPERIMENTS.join(', ')}`, name);
}

export async function runExperiment(o: ExperimentRunOptions = {}): Promise<ExperimentRun> {
  const exp = buildExperiment(o);
  const ids = o.models ?? exp.defaultModels;
  for (const id of ids)
    if (!exp.models.some((m) => m.id === id))
      throw new RangeError(`Unknown model '${id}' for experiment ${exp.name}; expected one of ${exp.models.map((m) => m.id).join(', ')}`);
  const seeds = o.seeds ?? [0];
  seeds.forEach((s, q) => check.int(`seeds[${q}]`, s, 0, 2 ** 32 - 1));
  const oneD = exp.truth !== undefined && exp.tasks[0].train.x.length === exp.tasks[0].train.y.length && exp.metric === 'mse';
  const np = o.curvePoints ?? 400;
  const grid = new Float32Array(np).map((_, q) => -1 + (2 * q) / (np - 1));
  const out: ExperimentRun = {
    experiment: exp.name, description: exp.description, metric: exp.metric, tasks: exp.tasks.map((t) => t.name),
    runs: [], curves: [],
    regions: oneD ? exp.tasks.map((t, phase) => {
      const x = t.train.x;
      let lo = Infinity, hi = -Infinity;
      for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      return { phase, lo, hi };
    }) : [],
  };
  for (const id of ids) {
    const spec = exp.models.find((m) => m.id === id)!;
    for (const seed of seeds) {
      const model = spec.make(seed);
      const first = seed === seeds[0];
      const result = await runSequential(model, exp.tasks, {
        train: spec.train, metric: exp.metric, heads: exp.heads, domain: exp.domain,
        onProgress: o.onProgress ? (e) => o.onProgress!(id, seed, e) : undefined,
        afterPhase: oneD && first ? (phase, m) => {
          const pred = m.forward(grid);
          out.curves.push({ model: id, label: spec.label, phase, x: Array.from(grid), pred: Array.from(pred),
            truth: Array.from(grid, (v) => exp.truth!(v)) });
        } : undefined,
      });
      out.runs.push({ model: id, label: spec.label, seed, result });
      o.onRunDone?.(id, seed, result);
    }
  }
  return out;
}
