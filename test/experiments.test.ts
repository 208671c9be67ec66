// experiments.test.ts — the expected results of the built-in continual-learning experiments
// (DESIGN.md "Models, training, continual learning"), at full size where that is fast:
//   peaks        the paper's KAN keeps every peak (local plasticity), the MLPs and both ablations forget
//   bumps-nd     runs at d = 1 and d = 4; the data is seeded and its targets follow the documented formula
//   split-digits the digits file, the class-pair tasks and their 70/30 split; shared vs multi heads
//   runExperiment's result is JSON-serialisable, with curves for 1-D regression only.
// Every expected value is recomputed here from the specification, never copied from a run.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  PEAK_CENTRES, bumpsExperiment, digitsExperiment, loadDigits, peaksExperiment,
} from '../lib/continual/experiments.js';
import { runExperiment, type ExperimentRun } from '../lib/continual/experiment-run.js';
import { runSequential, type ClassificationSet, type RegressionSet, type SequentialResult } from '../lib/continual/runner.js';
import { KAN } from '../lib/kan.js';
import { train } from '../lib/train.js';

// ---------------------------------------------------------------------------------------------
// helpers (independent of lib/continual)

/** The peaks ground truth as the issue states it, in double precision. */
const peaks = (x: number) => [-0.8, -0.4, 0, 0.4, 0.8].reduce((s, c) => s + Math.exp(-300 * (x - c) ** 2), 0);

/** forgetting_j = R[T][j] − min_{j≤l<T} R[l][j] (errors) or max − R[T][j] (accuracies), j < T. */
function forgettingOf(R: number[][], metric: 'mse' | 'accuracy'): number[] {
  const T = R.length - 1, out: number[] = [];
  for (let j = 0; j < T; j++) {
    const earlier = R.slice(j, T).map((row) => row[j]);
    out.push(metric === 'mse' ? R[T][j] - Math.min(...earlier) : Math.max(...earlier) - R[T][j]);
  }
  return out;
}
const meanOf = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

/** Checks the runner's summary numbers against R, recomputed here. */
function expectConsistentMetrics(r: SequentialResult) {
  const T = r.R.length - 1;
  const f = forgettingOf(r.R, r.metric);
  expect(r.forgetting.length).toBe(T);
  r.forgetting.forEach((v, j) => expect(v).toBeCloseTo(f[j], 12));
  expect(r.meanForgetting).toBeCloseTo(meanOf(f), 12);
  expect(r.averageFinal).toBeCloseTo(meanOf(r.R[T]), 12);
  expect(r.bwt).toBeCloseTo(meanOf(Array.from({ length: T }, (_, j) => r.R[T][j] - r.R[j][j])), 12);
}

function expectEvenlySpaced(x: Float32Array, lo: number, hi: number, n: number) {
  expect(x.length).toBe(n);
  for (let q = 0; q < n; q++) expect(Math.abs(x[q] - (lo + ((hi - lo) * q) / (n - 1)))).toBeLessThan(1e-6);
}

function runOf(run: ExperimentRun, model: string, seed: number): SequentialResult {
  const r = run.runs.find((m) => m.model === model && m.seed === seed);
  expect(r, `run of ${model} seed ${seed}`).toBeDefined();
  return r!.result;
}

const fmt = (v: number) => v.toExponential(2);

/**
 * `back` (a JSON round trip of `orig`) holds the same value: plain objects, arrays, strings,
 * booleans, null and finite numbers only (NaN/Infinity would come back as null, typed arrays as
 * objects). Numbers compare with === (JSON has no −0; −0 === 0).
 */
function expectSameJsonValue(back: unknown, orig: unknown, path: string): void {
  if (typeof orig === 'number') {
    expect(Number.isFinite(orig), `${path} is ${orig}`).toBe(true);
    expect(back === orig, `${path}: ${String(back)} vs ${orig}`).toBe(true);
  } else if (orig === null || typeof orig === 'string' || typeof orig === 'boolean') {
    expect(back, path).toBe(orig);
  } else if (Array.isArray(orig)) {
    expect(Array.isArray(back), `${path} is an array`).toBe(true);
    expect((back as unknown[]).length, path).toBe(orig.length);
    orig.forEach((v, q) => expectSameJsonValue((back as unknown[])[q], v, `${path}[${q}]`));
  } else {
    expect(typeof orig, `${path} is a plain object`).toBe('object');
    expect(Object.getPrototypeOf(orig), `${path} is a plain object`).toBe(Object.prototype);
    const keys = Object.keys(orig as object).filter((k) => (orig as Record<string, unknown>)[k] !== undefined);
    expect(Object.keys(back as object).sort(), path).toEqual(keys.sort());
    for (const k of keys) expectSameJsonValue((back as Record<string, unknown>)[k], (orig as Record<string, unknown>)[k], `${path}.${k}`);
  }
}

// ---------------------------------------------------------------------------------------------
// peaks

describe('peaks', () => {
  let run: ExperimentRun;
  let ms = 0;
  beforeAll(async () => {
    const t0 = performance.now();
    run = await runExperiment({ experiment: 'peaks', seeds: [0, 1] });
    ms = performance.now() - t0;
    console.log(`peaks, 5 models x 2 seeds, full size: ${(ms / 1000).toFixed(2)} s`);
    for (const m of run.runs) {
      const r = m.result;
      console.log(`  ${m.model.padEnd(9)} seed ${m.seed}: whole-domain MSE ${fmt(r.domain![r.domain!.length - 1])}, ` +
        `mean forgetting ${fmt(r.meanForgetting)}, BWT ${fmt(r.bwt)}, train ${(r.trainMs.reduce((s, v) => s + v, 0) / 1000).toFixed(2)} s`);
    }
  });

  it('runs the five default models (kan, mlp, mlp-adam, kan-grid, kan-silu) for each seed', () => {
    expect(run.experiment).toBe('peaks');
    expect(run.metric).toBe('mse');
    expect(run.runs.map((r) => `${r.model}/${r.seed}`)).toEqual(
      ['kan', 'mlp', 'mlp-adam', 'kan-grid', 'kan-silu'].flatMap((m) => [`${m}/0`, `${m}/1`]));
    for (const m of run.runs) {
      expect(m.result.R.length).toBe(5);
      for (const row of m.result.R) { expect(row.length).toBe(5); for (const v of row) expect(Number.isFinite(v)).toBe(true); }
      expect(m.result.domain!.length).toBe(5);
      expect(m.result.trainMs.length).toBe(5);
      expectConsistentMetrics(m.result);
    }
  });

  it("the paper's KAN keeps every peak: whole-domain MSE < 1e-7 and mean forgetting < 1e-8 (seeds 0 and 1)", () => {
    for (const seed of [0, 1]) {
      const r = runOf(run, 'kan', seed);
      expect(r.domain![4]).toBeLessThan(1e-7);
      expect(r.meanForgetting).toBeLessThan(1e-8);
      // each task was actually learned when trained, and is still known at the end
      for (let j = 0; j < 5; j++) { expect(r.R[j][j]).toBeLessThan(1e-7); expect(r.R[4][j]).toBeLessThan(1e-7); }
      // and the domain error falls as peaks are added (the unlearned peaks dominate it before)
      for (let i = 0; i < 4; i++) expect(r.domain![i]).toBeGreaterThan(1e-3);
    }
  });

  it('the MLPs forget: mean forgetting > 1e-2 (LBFGS and Adam)', () => {
    for (const model of ['mlp', 'mlp-adam'])
      for (const seed of [0, 1]) expect(runOf(run, model, seed).meanForgetting, `${model} seed ${seed}`).toBeGreaterThan(1e-2);
  });

  it('each ablation forgets: grid update each phase (kan-grid), silu base with trainable wb/ws (kan-silu): > 1e-4', () => {
    for (const model of ['kan-grid', 'kan-silu'])
      for (const seed of [0, 1]) {
        const r = runOf(run, model, seed);
        console.log(`  ablation ${model} seed ${seed}: mean forgetting ${fmt(r.meanForgetting)}, forgetting ${r.forgetting.map(fmt).join(' ')}`);
        expect(r.meanForgetting).toBeGreaterThan(1e-4);
        // ... and by far more than the paper's configuration
        expect(r.meanForgetting).toBeGreaterThan(1e3 * runOf(run, 'kan', seed).meanForgetting);
      }
  });

  it('the data is as specified: 5 tasks of 100 evenly spaced points on [c−0.2, c+0.2], y = Σ exp(−300(x−c)²); domain on [−1, 1]', () => {
    const exp = peaksExperiment();
    expect(PEAK_CENTRES).toEqual([-0.8, -0.4, 0, 0.4, 0.8]);
    expect(exp.tasks.length).toBe(5);
    exp.tasks.forEach((t, q) => {
      const c = [-0.8, -0.4, 0, 0.4, 0.8][q];
      const tr = t.train as RegressionSet, te = t.test as RegressionSet;
      expectEvenlySpaced(tr.x, c - 0.2, c + 0.2, 100);
      expect(tr.y.length).toBe(100);
      for (let i = 0; i < 100; i++) expect(Math.abs(tr.y[i] - peaks(tr.x[i]))).toBeLessThan(1e-6);
      // the test set covers the same region
      expect(te.x.length).toBeGreaterThan(0);
      for (let i = 0; i < te.x.length; i++) {
        expect(te.x[i]).toBeGreaterThanOrEqual(Math.fround(c - 0.2) - 1e-6);
        expect(te.x[i]).toBeLessThanOrEqual(Math.fround(c + 0.2) + 1e-6);
        expect(Math.abs(te.y[i] - peaks(te.x[i]))).toBeLessThan(1e-6);
      }
    });
    const dom = exp.domain!;
    expect(dom.x.length).toBeGreaterThanOrEqual(1000);
    expectEvenlySpaced(dom.x, -1, 1, dom.x.length);
    for (let i = 0; i < dom.x.length; i++) expect(Math.abs(dom.y[i] - peaks(dom.x[i]))).toBeLessThan(1e-6);
    for (const v of [-1, -0.5, 0.13, 0.8, 1]) expect(exp.truth!(v)).toBeCloseTo(peaks(v), 12);
  });

  it("the 'kan' model is the paper's: KAN [1,1], G=200, k=3, base zero, wb/ws frozen, noise 0.1, LBFGS 100 steps", () => {
    const spec = peaksExperiment().models.find((m) => m.id === 'kan')!;
    const model = spec.make(0) as KAN;
    expect(model).toBeInstanceOf(KAN);
    expect(model.cfg).toMatchObject({ widths: [1, 1], gridSize: 200, splineOrder: 3, base: 'zero', noiseScale: 0.1,
      trainable: { coef: true, wb: false, ws: false } });
    expect(spec.train).toMatchObject({ optimizer: 'lbfgs', steps: 100 });
    expect(spec.train.gridUpdate).toBeUndefined();
  });

  it('local plasticity: during each phase the KAN changes no coefficient whose basis support lies outside [c−0.2, c+0.2]', async () => {
    const exp = peaksExperiment();
    const spec = exp.models.find((m) => m.id === 'kan')!;
    const model = spec.make(0) as KAN;
    const layer = model.layers[0];
    const { splineOrder: k, numBasis: NB, numKnots: NK, outDim: O, inDim: I } = layer;
    expect([I, O, NB, NK]).toEqual([1, 1, 203, 207]);
    const coefs = [Float32Array.from(layer.coef)], grids = [Float32Array.from(layer.grid)];
    await runSequential(model, exp.tasks, {
      train: spec.train, metric: 'mse', domain: exp.domain,
      afterPhase: () => { coefs.push(Float32Array.from(layer.coef)); grids.push(Float32Array.from(layer.grid)); },
    });
    expect(coefs.length).toBe(6);
    for (let p = 0; p < 5; p++) {
      const c = PEAK_CENTRES[p], lo = Math.fround(c - 0.2), hi = Math.fround(c + 0.2);
      const x = (exp.tasks[p].train as RegressionSet).x;
      expect(Math.min(...x)).toBeGreaterThanOrEqual(lo - 1e-7);
      expect(Math.max(...x)).toBeLessThanOrEqual(hi + 1e-7);
      // no grid update in the paper's setup: the knots of the phase are the knots before it
      expect(grids[p + 1]).toEqual(grids[p]);
      const t = grids[p];
      let outside = 0, inside = 0, changedInside = 0;
      for (let m = 0; m < NB; m++) {
        // B_m is supported on [t_m, t_{m+k+1}] (and vanishes at both ends)
        const out = t[m + k + 1] <= lo || t[m] >= hi;
        for (let o = 0; o < O; o++) {
          const before = coefs[p][m * O + o], after = coefs[p + 1][m * O + o];
          if (out) {
            outside++;
            expect(after, `phase ${p + 1}: coef row ${m} (support [${t[m]}, ${t[m + k + 1]}]) changed`).toBe(before);
          } else {
            inside++;
            if (after !== before) changedInside++;
          }
        }
      }
      // the check is not vacuous: most rows lie outside a region of 40 of the 200 intervals, and
      // the rows inside it are what the phase trained
      expect(outside).toBeGreaterThan(150);
      expect(inside).toBeGreaterThanOrEqual(40);
      expect(changedInside).toBeGreaterThanOrEqual(inside - 2);
    }
  });

  it('curves: one per model per phase for the first seed, the model\'s predictions on [−1, 1] after that phase', async () => {
    expect(run.curves.length).toBe(5 * 5);
    for (const m of ['kan', 'mlp', 'mlp-adam', 'kan-grid', 'kan-silu'])
      expect(run.curves.filter((c) => c.model === m).map((c) => c.phase)).toEqual([0, 1, 2, 3, 4]);
    for (const c of run.curves) {
      expect(c.x.length).toBe(400);
      expect(c.pred.length).toBe(400);
      expect(c.x[0]).toBeCloseTo(-1, 6);
      expect(c.x[399]).toBeCloseTo(1, 6);
      c.x.forEach((x, q) => expect(c.truth[q]).toBeCloseTo(peaks(x), 5));
    }
    expect(run.regions.length).toBe(5);
    run.regions.forEach((r, p) => {
      expect(r.phase).toBe(p);
      expect(r.lo).toBeCloseTo(PEAK_CENTRES[p] - 0.2, 6);
      expect(r.hi).toBeCloseTo(PEAK_CENTRES[p] + 0.2, 6);
    });
    // The kan curves are what a fresh seed-0 KAN predicts after each phase, trained here by hand.
    const exp = peaksExperiment();
    const spec = exp.models.find((m) => m.id === 'kan')!;
    const model = spec.make(0);
    const kanCurves = run.curves.filter((c) => c.model === 'kan');
    const grid = Float32Array.from(kanCurves[0].x);
    for (let p = 0; p < 5; p++) {
      await train(model, exp.tasks[p].train, { ...spec.train, loss: 'mse' });
      const pred = model.forward(grid);
      let maxDiff = 0;
      pred.forEach((v, q) => { maxDiff = Math.max(maxDiff, Math.abs(v - kanCurves[p].pred[q])); });
      expect(maxDiff, `phase ${p + 1}`).toBeLessThan(1e-6);
    }
    // after the last phase the KAN's curve is the ground truth
    const last = kanCurves[4];
    last.x.forEach((_, q) => expect(Math.abs(last.pred[q] - last.truth[q])).toBeLessThan(1e-3));
  });

  it('the whole default run is fast (~3 s documented; here < 30 s for two seeds)', () => {
    expect(ms).toBeLessThan(30_000);
  });
});

// ---------------------------------------------------------------------------------------------
// bumps-nd

/** The centres the doc describes: c_t[j] spaced over [−0.6, 0.6], a per-coordinate rotation. */
function bumpCentres(T: number, d: number): number[][] {
  return Array.from({ length: T }, (_, t) => Array.from({ length: d }, (_, j) => -0.6 + (1.2 * ((t + j) % T)) / (T - 1)));
}
const bump = (x: Float32Array, off: number, c: number[], d: number) => {
  let r = 0;
  for (let j = 0; j < d; j++) r += (x[off + j] - c[j]) ** 2;
  return Math.exp(-r / (2 * 0.15 * 0.15 * d));
};

describe('bumps-nd', () => {
  for (const d of [1, 4]) {
    it(`d = ${d}: runs (steps 10) and returns finite metrics`, async () => {
      const t0 = performance.now();
      const run = await runExperiment({ experiment: 'bumps-nd', dim: d, steps: 10, models: ['kan', 'kan-silu', 'mlp'] });
      const ms = performance.now() - t0;
      expect(run.experiment).toBe('bumps-nd');
      expect(run.metric).toBe('mse');
      expect(run.tasks.length).toBe(4);
      expect(run.runs.map((r) => r.model)).toEqual(['kan', 'kan-silu', 'mlp']);
      for (const m of run.runs) {
        const r = m.result;
        expect(r.R.length).toBe(4);
        for (const row of r.R) { expect(row.length).toBe(4); for (const v of row) expect(Number.isFinite(v)).toBe(true); }
        for (const v of [r.averageFinal, r.bwt, r.meanForgetting, ...r.domain!, ...r.forgetting, ...r.trainMs]) expect(Number.isFinite(v)).toBe(true);
        expect(r.domain!.length).toBe(4);
        expectConsistentMetrics(r);
        console.log(`  bumps-nd d=${d} ${m.model.padEnd(8)}: final domain MSE ${fmt(r.domain![3])}, mean forgetting ${fmt(r.meanForgetting)}`);
      }
      console.log(`  bumps-nd d=${d}, steps 10, 3 models: ${(ms / 1000).toFixed(2)} s`);
      // curves for 1-D regression only
      if (d === 1) {
        expect(run.curves.length).toBe(3 * 4);
        expect(run.regions.length).toBe(4);
      } else {
        expect(run.curves).toEqual([]);
        expect(run.regions).toEqual([]);
      }
      // the model sizes follow the documented shapes: KAN [d, 4, 1], MLP [d, 16, 16, 1]
      const exp = bumpsExperiment({ dim: d });
      expect((exp.models.find((m) => m.id === 'kan')!.make(0) as KAN).cfg.widths).toEqual([d, 4, 1]);
      expect(exp.models.find((m) => m.id === 'mlp')!.make(0).inputDim).toBe(d);
    });

    it(`d = ${d}: the data is seeded (same data twice, another seed differs)`, () => {
      const a = bumpsExperiment({ dim: d }), b = bumpsExperiment({ dim: d }), c = bumpsExperiment({ dim: d, dataSeed: 1 });
      expect(a.tasks.length).toBe(4);
      a.tasks.forEach((t, q) => {
        expect(t.train.x).toEqual(b.tasks[q].train.x);
        expect(t.train.y).toEqual(b.tasks[q].train.y);
        expect(t.test.x).toEqual(b.tasks[q].test.x);
        expect(t.test.y).toEqual(b.tasks[q].test.y);
        expect(t.train.x).not.toEqual(c.tasks[q].train.x);
        expect(t.train.x.length).toBe(200 * d);
        expect(t.train.y.length).toBe(200);
      });
      expect(a.domain!.x).toEqual(b.domain!.x);
      expect(a.domain!.y).toEqual(b.domain!.y);
    });

    it(`d = ${d}: samples lie in c_t ± 0.2 (clipped to [−1,1]^d) and the targets are the sum of the Gaussian bumps exp(−|x−c|²/(2·0.15²·d))`, () => {
      const exp = bumpsExperiment({ dim: d });
      const C = bumpCentres(4, d);
      // the centres differ between tasks in every coordinate
      for (let t = 0; t < 4; t++) for (let u = t + 1; u < 4; u++) for (let j = 0; j < d; j++) expect(C[t][j]).not.toBe(C[u][j]);
      const target = (x: Float32Array, off: number) => C.reduce((s, c) => s + bump(x, off, c, d), 0);
      exp.tasks.forEach((task, t) => {
        for (const set of [task.train, task.test] as RegressionSet[]) {
          const n = set.y.length;
          for (let q = 0; q < n; q++) {
            for (let j = 0; j < d; j++) {
              const v = set.x[q * d + j];
              expect(v).toBeGreaterThanOrEqual(Math.max(-1, C[t][j] - 0.2) - 1e-6);
              expect(v).toBeLessThanOrEqual(Math.min(1, C[t][j] + 0.2) + 1e-6);
            }
            expect(Math.abs(set.y[q] - target(set.x, q * d))).toBeLessThan(1e-6);
          }
        }
      });
      // the whole domain: uniform on [−1,1]^d with the same target
      const dom = exp.domain!;
      for (let q = 0; q < dom.y.length; q++) {
        for (let j = 0; j < d; j++) { expect(dom.x[q * d + j]).toBeGreaterThanOrEqual(-1); expect(dom.x[q * d + j]).toBeLessThanOrEqual(1); }
        expect(Math.abs(dom.y[q] - target(dom.x, q * d))).toBeLessThan(1e-6);
      }
      if (d === 1) {
        // in 1-D the tasks occupy disjoint input intervals
        const iv = exp.tasks.map((t) => [Math.min(...t.train.x), Math.max(...t.train.x)]).sort((p, q) => p[0] - q[0]);
        for (let t = 1; t < 4; t++) expect(iv[t][0]).toBeGreaterThanOrEqual(iv[t - 1][1] - 1e-6);
      }
    });

    it(`d = ${d}: as documented, the other bumps add up to ~0.4 on a task's region at d ≤ 2 and ~0 from d = 4 on`, () => {
      const exp = bumpsExperiment({ dim: d });
      const C = bumpCentres(4, d);
      let maxOther = 0;
      exp.tasks.forEach((task, t) => {
        const { x, y } = task.train as RegressionSet;
        for (let q = 0; q < y.length; q++) {
          let other = 0;
          C.forEach((c, u) => { if (u !== t) other += bump(x, q * d, c, d); });
          maxOther = Math.max(maxOther, other, Math.abs(y[q] - bump(x, q * d, C[t], d)));
        }
      });
      console.log(`  bumps-nd d=${d}: largest contribution of the other bumps to a task's target: ${maxOther.toFixed(4)}`);
      if (d <= 2) { expect(maxOther).toBeGreaterThan(0.1); expect(maxOther).toBeLessThan(0.45); }
      else expect(maxOther).toBeLessThan(1e-2);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// split-digits

describe('split-digits', () => {
  it('the digits file loads: 1,797 samples, 64 features in [−1, 1], 10 classes of ~180', () => {
    const d = loadDigits();
    expect(d.n).toBe(1797);
    expect(d.x.length).toBe(1797 * 64);
    expect(d.y.length).toBe(1797);
    let lo = Infinity, hi = -Infinity;
    for (const v of d.x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    expect(lo).toBe(-1);     // 0/8 − 1
    expect(hi).toBe(1);      // 16/8 − 1
    // scaled from integer pixel counts 0..16: x = v/8 − 1
    for (const v of d.x) expect(Number.isInteger((v + 1) * 8)).toBe(true);
    const counts = new Array(10).fill(0);
    for (const c of d.y) { expect(Number.isInteger(c) && c >= 0 && c <= 9).toBe(true); counts[c]++; }
    for (const n of counts) { expect(n).toBeGreaterThanOrEqual(170); expect(n).toBeLessThanOrEqual(190); }
    // not constant images
    const first = d.x.subarray(0, 64);
    expect(new Set(first).size).toBeGreaterThan(3);
  });

  it('5 tasks of class pairs 0/1, 2/3, …, a 70/30 split per class, no sample in both train and test', () => {
    const d = loadDigits();
    const key = (x: Float32Array, r: number) => Array.from(x.subarray(r * 64, r * 64 + 64)).join(',');
    const inData = new Map<string, number>();
    for (let q = 0; q < d.n; q++) inData.set(key(d.x, q), (inData.get(key(d.x, q)) ?? 0) + 1);
    const classCount = new Array(10).fill(0);
    for (const c of d.y) classCount[c]++;
    for (const heads of ['shared', 'multi'] as const) {
      const exp = digitsExperiment({ heads });
      expect(exp.metric).toBe('accuracy');
      expect(exp.heads).toBe(heads);
      expect(exp.tasks.length).toBe(5);
      const seenTrain = new Map<string, number>(), seenTest = new Map<string, number>();
      exp.tasks.forEach((task, t) => {
        expect(task.classes).toEqual([2 * t, 2 * t + 1]);
        const tr = task.train as ClassificationSet, te = task.test as ClassificationSet;
        for (const c of [2 * t, 2 * t + 1]) {
          const nTr = tr.y.filter((v) => v === c).length, nTe = te.y.filter((v) => v === c).length;
          expect(nTr + nTe).toBe(classCount[c]);
          expect(nTr).toBe(Math.round(0.7 * classCount[c]));
        }
        for (const v of [...tr.y, ...te.y]) expect([2 * t, 2 * t + 1]).toContain(v);
        for (const [set, seen] of [[tr, seenTrain], [te, seenTest]] as const)
          for (let r = 0; r < set.y.length; r++) {
            const kx = key(set.x, r);
            expect(inData.has(kx)).toBe(true);
            seen.set(kx, (seen.get(kx) ?? 0) + 1);
          }
      });
      // every sample of the file is used exactly once: train and test are disjoint
      let total = 0;
      for (const [kx, n] of inData) {
        const a = seenTrain.get(kx) ?? 0, b = seenTest.get(kx) ?? 0;
        expect(a + b).toBe(n);
        if (n === 1) expect(a * b).toBe(0);
        total += a + b;
      }
      expect(total).toBe(1797);
    }
    // the split is seeded: same split twice
    const a = digitsExperiment(), b = digitsExperiment();
    a.tasks.forEach((t, q) => { expect(t.train.x).toEqual(b.tasks[q].train.x); expect(t.test.y).toEqual(b.tasks[q].test.y); });
  });

  it('shared head (class-incremental): KAN and MLP forget; multi heads: forgetting at least 3x lower', async () => {
    const t0 = performance.now();
    const shared = await runExperiment({ experiment: 'split-digits', heads: 'shared' });
    const multi = await runExperiment({ experiment: 'split-digits', heads: 'multi' });
    console.log(`  split-digits, full size (200 Adam steps per task), kan+mlp, shared+multi: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    expect(shared.curves).toEqual([]);
    expect(multi.curves).toEqual([]);
    expect(shared.description).toMatch(/shared/);
    expect(multi.description).toMatch(/head per task/);
    for (const model of ['kan', 'mlp']) {
      const s = runOf(shared, model, 0), m = runOf(multi, model, 0);
      for (const r of [s, m]) {
        expect(r.metric).toBe('accuracy');
        expect(r.domain).toBeNull();
        for (const row of r.R) for (const v of row) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(1); }
        expectConsistentMetrics(r);
      }
      const show = (r: SequentialResult) => `first task ${r.R[0][0].toFixed(3)} -> ${r.R[4][0].toFixed(3)}, ` +
        `final mean ${r.averageFinal.toFixed(3)}, mean forgetting ${r.meanForgetting.toFixed(3)}, BWT ${r.bwt.toFixed(3)}`;
      console.log(`  ${model} shared: ${show(s)}\n  ${model} multi:  ${show(m)}`);
      // each task is learned when it is trained (both settings)
      for (let j = 0; j < 5; j++) { expect(s.R[j][j]).toBeGreaterThan(0.9); expect(m.R[j][j]).toBeGreaterThan(0.9); }
      // shared head: the first task is forgotten
      expect(s.R[4][0]).toBeLessThan(0.5);
      expect(s.meanForgetting).toBeGreaterThan(0.3);
      // multi heads: much less forgetting
      expect(3 * m.meanForgetting).toBeLessThan(s.meanForgetting);
      expect(m.averageFinal).toBeGreaterThan(s.averageFinal + 0.3);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// runExperiment result

describe('runExperiment result', () => {
  it('is JSON-serialisable (a JSON round trip gives it back unchanged), with curves for 1-D regression and none for digits', async () => {
    const peaksRun = await runExperiment({ experiment: 'peaks', models: ['kan', 'mlp'], steps: 5, seeds: [3], curvePoints: 50 });
    const digitsRun = await runExperiment({ experiment: 'split-digits', models: ['kan'], steps: 5, heads: 'multi' });
    for (const run of [peaksRun, digitsRun]) {
      const text = JSON.stringify(run);
      expectSameJsonValue(JSON.parse(text), run, 'run');
      // no typed arrays or other non-plain values hiding inside
      JSON.parse(text, (_k, v) => { expect(['object', 'string', 'number', 'boolean']).toContain(typeof v); return v; });
      expect(run.runs.length).toBeGreaterThan(0);
    }
    expect(peaksRun.runs.map((r) => [r.model, r.seed])).toEqual([['kan', 3], ['mlp', 3]]);
    expect(peaksRun.curves.length).toBe(2 * 5);
    expect(peaksRun.curves.map((c) => `${c.model}:${c.phase}`)).toEqual(['kan', 'mlp'].flatMap((m) => [0, 1, 2, 3, 4].map((p) => `${m}:${p}`)));
    for (const c of peaksRun.curves) { expect(c.x.length).toBe(50); expect(c.pred.length).toBe(50); expect(c.truth.length).toBe(50); }
    expect(digitsRun.metric).toBe('accuracy');
    expect(digitsRun.curves).toEqual([]);
    expect(digitsRun.regions).toEqual([]);
  });

  it('refuses unknown experiments, models and seeds', async () => {
    await expect(runExperiment({ experiment: 'nope' as never })).rejects.toThrow(RangeError);
    await expect(runExperiment({ experiment: 'peaks', models: ['foo'] })).rejects.toThrow(/Unknown model 'foo'/);
    await expect(runExperiment({ experiment: 'peaks', models: ['kan'], seeds: [-1] })).rejects.toThrow(RangeError);
  });
});
