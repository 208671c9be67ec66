// experiments.ts — the built-in continual-learning experiments. All data is generated in code
// (seeded) or read from the digits file shipped in data/; nothing is downloaded.
//
//   peaks       the KAN paper's five Gaussian peaks (Fig. 3.4), KAN vs MLPs, plus ablations
//   bumps-nd    Gaussian bumps in different regions of [-1,1]^d: forgetting against dimension
//   split-digits class-incremental UCI digits, five tasks of two classes, shared or multi-head
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { KAN } from '../kan.js';
import { MLP } from '../mlp.js';
import type { Model } from '../model.js';
import { packageRoot } from '../native.js';
import { Rng } from '../rng.js';
import type { TrainOptions } from '../train.js';
import type { ClassificationSet, Metric, RegressionSet, Task } from './runner.js';

export interface ModelSpec {
  /** Short id used on the command line (e.g. 'kan', 'mlp-adam'). */
  id: string;
  /** What it is, for tables and figures. */
  label: string;
  make(seed: number): Model;
  train: TrainOptions;
}

export interface Experiment {
  name: string;
  description: string;
  metric: Metric;
  heads?: 'shared' | 'multi';
  tasks: Task[];
  /** Regression: the whole input domain, evaluated after each phase. */
  domain?: RegressionSet;
  /** 1-D regression: the ground truth, for figures. */
  truth?: (x: number) => number;
  models: ModelSpec[];
  defaultModels: string[];
}

// ---------------------------------------------------------------------------------------------
// peaks

export const PEAK_CENTRES = [-0.8, -0.4, 0, 0.4, 0.8];
export const peaksFunction = (x: number) => PEAK_CENTRES.reduce((s, c) => s + Math.exp(-300 * (x - c) ** 2), 0);

function evenly(lo: number, hi: number, n: number, f: (x: number) => number): RegressionSet {
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let q = 0; q < n; q++) { x[q] = lo + ((hi - lo) * q) / (n - 1); y[q] = f(x[q]); }
  return { x, y };
}

export interface PeaksOptions {
  /** Optimizer steps per phase (LBFGS, 20 inner iterations each). Default 100 (the paper's setup). */
  steps?: number;
  /** Adam steps per phase for the 'mlp-adam' baseline. Default 1000. */
  adamSteps?: number;
}

export function peaksExperiment(options: PeaksOptions = {}): Experiment {
  const steps = options.steps ?? 100, adamSteps = options.adamSteps ?? 1000;
  const f = peaksFunction;
  // Train: 100 evenly spaced points per region; test: 201 points on the same region (a denser,
  // different set); domain: 1001 points on [-1, 1].
  const tasks: Task[] = PEAK_CENTRES.map((c, q) => ({
    name: `peak ${q + 1}`, train: evenly(c - 0.2, c + 0.2, 100, f), test: evenly(c - 0.2, c + 0.2, 201, f),
  }));
  const lbfgs: TrainOptions = { optimizer: 'lbfgs', steps };
  const paperKan = (seed: number, extra: Partial<ConstructorParameters<typeof KAN>[0]> = {}) => new KAN({
    widths: [1, 1], gridSize: 200, splineOrder: 3, base: 'zero', noiseScale: 0.1, seed,
    trainable: { coef: true, wb: false, ws: false }, ...extra,
  });
  return {
    name: 'peaks',
    description: "The KAN paper's five Gaussian peaks learned one after another (KAN [1,1] G=200 vs MLPs)",
    metric: 'mse', tasks, domain: evenly(-1, 1, 1001, f), truth: f,
    models: [
      { id: 'kan', label: 'KAN [1,1] G=200 k=3, base zero, wb/ws frozen, LBFGS', make: (s) => paperKan(s), train: lbfgs },
      { id: 'mlp', label: 'MLP [1,32,32,1] silu, LBFGS', make: (s) => new MLP({ widths: [1, 32, 32, 1], activation: 'silu', seed: s }), train: lbfgs },
      { id: 'mlp-adam', label: `MLP [1,32,32,1] silu, Adam lr 1e-2 x${adamSteps}`, make: (s) => new MLP({ widths: [1, 32, 32, 1], activation: 'silu', seed: s }),
        train: { optimizer: 'adam', lr: 1e-2, steps: adamSteps } },
      { id: 'kan-grid', label: 'KAN as paper + grid update each phase (every 10 steps to 50)', make: (s) => paperKan(s),
        train: { ...lbfgs, gridUpdate: { every: 10, until: 50 } } },
      { id: 'kan-silu', label: 'KAN [1,1] G=200, silu base, trainable wb/ws, LBFGS', make: (s) => paperKan(s, { base: 'silu', trainable: { coef: true, wb: true, ws: true } }),
        train: lbfgs },
    ],
    defaultModels: ['kan', 'mlp', 'mlp-adam', 'kan-grid', 'kan-silu'],
  };
}

// ---------------------------------------------------------------------------------------------
// bumps-nd

export interface BumpsOptions {
  /** Input dimension d (1..64). Default 2. */
  dim?: number;
  /** Number of tasks (bumps). Default 4. */
  tasks?: number;
  /** Hidden width of the KAN [d, h, 1]; the MLP is [d, 4h, 4h, 1]. Default 4. */
  size?: number;
  /** KAN grid intervals. Default 20. */
  grid?: number;
  /** Train and test samples per task. Default 200. */
  samples?: number;
  /** LBFGS steps per phase. Default 30. */
  steps?: number;
  /** Seed of the data (bump centres and samples). Default 0. */
  dataSeed?: number;
}

/**
 * Task t samples the region of bump t, exp(-|x - c_t|² / (2·0.15²·d)), uniformly in the box
 * c_t ± 0.2 (clipped to [-1,1]^d). Centres differ in every coordinate (c_t[j] spaced over
 * [-0.6, 0.6], with a per-coordinate rotation of the order), so in 1-D the tasks occupy disjoint
 * input intervals but in d dimensions each coordinate's projections of later tasks overlap the
 * earlier ones — which is what breaks a KAN's per-edge locality. The target everywhere is the
 * sum of all bumps (the whole-domain function); on a task's region the other bumps add up to ~0.4
 * at d ≤ 2 (neighbouring regions touch) and ~0 from d = 4 on.
 */
export function bumpsExperiment(options: BumpsOptions = {}): Experiment {
  const d = options.dim ?? 2, T = options.tasks ?? 4, h = options.size ?? 4, G = options.grid ?? 20;
  const n = options.samples ?? 200, steps = options.steps ?? 30, seed = options.dataSeed ?? 0;
  const rng = new Rng(1000 + seed);
  const centres: number[][] = [];
  for (let t = 0; t < T; t++) {
    const c: number[] = [];
    for (let j = 0; j < d; j++) c.push(-0.6 + (1.2 * ((t + j) % T)) / Math.max(1, T - 1));
    centres.push(c);
  }
  const s2 = 2 * 0.15 * 0.15 * d;
  const target = (x: Float32Array, off: number) => {
    let y = 0;
    for (const c of centres) {
      let r = 0;
      for (let j = 0; j < d; j++) r += (x[off + j] - c[j]) ** 2;
      y += Math.exp(-r / s2);
    }
    return y;
  };
  const sample = (c: number[], m: number): RegressionSet => {
    const x = new Float32Array(m * d), y = new Float32Array(m);
    for (let q = 0; q < m; q++) {
      for (let j = 0; j < d; j++) x[q * d + j] = Math.max(-1, Math.min(1, c[j] + rng.range(-0.2, 0.2)));
      y[q] = target(x, q * d);
    }
    return { x, y };
  };
  const tasks: Task[] = centres.map((c, t) => ({ name: `bump ${t + 1}`, train: sample(c, n), test: sample(c, n) }));
  const dom = (() => {
    const m = 1000, x = new Float32Array(m * d), y = new Float32Array(m);
    for (let q = 0; q < m; q++) { for (let j = 0; j < d; j++) x[q * d + j] = rng.range(-1, 1); y[q] = target(x, q * d); }
    return { x, y };
  })();
  const lbfgs: TrainOptions = { optimizer: 'lbfgs', steps };
  return {
    name: 'bumps-nd',
    description: `${T} Gaussian bumps in [-1,1]^${d}, learned one after another`,
    metric: 'mse', tasks, domain: dom,
    truth: d === 1 ? (x: number) => { const a = new Float32Array([x]); return target(a, 0); } : undefined,
    models: [
      { id: 'kan', label: `KAN [${d},${h},1] G=${G} k=3, base zero, wb/ws frozen, LBFGS`,
        make: (s) => new KAN({ widths: [d, h, 1], gridSize: G, splineOrder: 3, base: 'zero', noiseScale: 0.1, seed: s,
          trainable: { coef: true, wb: false, ws: false } }), train: lbfgs },
      { id: 'kan-silu', label: `KAN [${d},${h},1] G=${G} k=3, silu base, all trainable, LBFGS`,
        make: (s) => new KAN({ widths: [d, h, 1], gridSize: G, splineOrder: 3, seed: s }), train: lbfgs },
      { id: 'mlp', label: `MLP [${d},${4 * h},${4 * h},1] silu, LBFGS`,
        make: (s) => new MLP({ widths: [d, 4 * h, 4 * h, 1], activation: 'silu', seed: s }), train: lbfgs },
    ],
    defaultModels: ['kan', 'mlp'],
  };
}

// ---------------------------------------------------------------------------------------------
// split-digits

export interface DigitsData { x: Float32Array; y: Int32Array; n: number; }

let digitsCache: DigitsData | null = null;

/** The UCI optical digits (1,797 images of 8×8, classes 0..9), scaled to [-1, 1] as x/8 − 1. */
export function loadDigits(): DigitsData {
  if (digitsCache) return digitsCache;
  const file = join(packageRoot(), 'data', 'digits.csv.gz');
  const lines = gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n');
  const n = lines.length, x = new Float32Array(n * 64), y = new Int32Array(n);
  lines.forEach((line, q) => {
    const v = line.split(',').map(Number);
    if (v.length !== 65) throw new Error(`${file}: line ${q + 1} has ${v.length} values, expected 65`);
    for (let j = 0; j < 64; j++) x[q * 64 + j] = v[j] / 8 - 1;
    y[q] = v[64];
  });
  digitsCache = { x, y, n };
  return digitsCache;
}

export interface DigitsOptions {
  /** 'shared' (class-incremental, one 10-way head) or 'multi' (a head per task). Default 'shared'. */
  heads?: 'shared' | 'multi';
  /** Adam steps per task. Default 200. */
  steps?: number;
  /** Seed of the 70/30 split. Default 0. */
  dataSeed?: number;
}

export function digitsExperiment(options: DigitsOptions = {}): Experiment {
  const heads = options.heads ?? 'shared', steps = options.steps ?? 200, seed = options.dataSeed ?? 0;
  const data = loadDigits();
  const rng = new Rng(2000 + seed);
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  for (let q = 0; q < data.n; q++) byClass[data.y[q]].push(q);
  const pick = (ids: number[]): ClassificationSet => {
    const x = new Float32Array(ids.length * 64), y = new Int32Array(ids.length);
    ids.forEach((id, r) => { x.set(data.x.subarray(id * 64, id * 64 + 64), r * 64); y[r] = data.y[id]; });
    return { x, y };
  };
  const tasks: Task[] = [];
  for (let t = 0; t < 5; t++) {
    const classes = [2 * t, 2 * t + 1];
    const tr: number[] = [], te: number[] = [];
    for (const c of classes) {
      const ids = byClass[c].slice();
      rng.shuffle(ids);
      const cut = Math.round(ids.length * 0.7);
      tr.push(...ids.slice(0, cut));
      te.push(...ids.slice(cut));
    }
    tasks.push({ name: `digits ${classes.join('/')}`, train: pick(tr), test: pick(te), classes });
  }
  const adam: TrainOptions = { optimizer: 'adam', lr: 1e-3, steps, batchSize: 64 };
  return {
    name: 'split-digits',
    description: `Split UCI digits, 5 tasks of 2 classes, ${heads === 'shared' ? 'shared 10-way head (class-incremental)' : 'one head per task (task-incremental)'}`,
    metric: 'accuracy', heads, tasks,
    models: [
      { id: 'kan', label: 'KAN [64,32,10] G=5 k=3, Adam', make: (s) => new KAN({ widths: [64, 32, 10], gridSize: 5, splineOrder: 3, seed: s }), train: adam },
      // 64·h + h + 10·h + 10 ≈ the KAN's 23,680 parameters → h = 315
      { id: 'mlp', label: 'MLP [64,315,10] relu, Adam', make: (s) => new MLP({ widths: [64, 315, 10], activation: 'relu', seed: s }), train: adam },
    ],
    defaultModels: ['kan', 'mlp'],
  };
}

export const EXPERIMENTS = ['peaks', 'bumps-nd', 'split-digits'] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];
