// lbfgs.test.ts — L-BFGS with the strong-Wolfe line search (lib/lbfgs.ts, a port of
// torch.optim.LBFGS as pykan uses it) on problems whose minimisers are known: a convex quadratic,
// a 1-D quadratic (the secant step is exact), the 2-D Rosenbrock function; the strong-Wolfe
// conditions at accepted steps; frozen groups; a KAN fitted through train({optimizer: 'lbfgs'});
// determinism; option validation. (step() may return the loss or a Promise of it: awaited.)
import { afterAll, describe, expect, it } from 'vitest';
import { LBFGS } from '../lib/lbfgs.js';
import { KAN } from '../lib/kan.js';
import { train } from '../lib/train.js';
import type { Model, ParamGroup } from '../lib/model.js';
import * as R from './reference.js';

const report: string[] = [];
afterAll(() => console.log('[lbfgs]\n  ' + report.join('\n  ')));

/**
 * A Model-like object with what LBFGS reads (params, grads, groups), and a closure computing
 * f and its gradient in float64 from the float32 params. Every evaluation is recorded.
 */
interface Rec { x: Float64Array; f: number; g: Float64Array; }
function fake(n: number, groups?: ParamGroup[]) {
  const params = new Float32Array(n), grads = new Float32Array(n);
  const model = { params, grads, groups: groups ?? [{ name: 'all', offset: 0, length: n, trainable: true }] } as unknown as Model;
  return { model, params, grads };
}
function closureOf(m: { params: Float32Array; grads: Float32Array }, fg: (x: Float64Array, g: Float64Array) => number, log?: Rec[]) {
  return () => {
    const x = Float64Array.from(m.params);
    const g = new Float64Array(x.length);
    const f = fg(x, g);
    m.grads.set(g);
    log?.push({ x, f, g });
    return f;
  };
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let q = 0; q < a.length; q++) s += a[q] * b[q]; return s; };

/** Solves A x = b (A n×n row-major, float64) by Gaussian elimination with partial pivoting. */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = A.slice(), x = b.slice();
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    for (let j = 0; j < n; j++) { const t = M[c * n + j]; M[c * n + j] = M[p * n + j]; M[p * n + j] = t; }
    { const t = x[c]; x[c] = x[p]; x[p] = t; }
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / M[c * n + c];
      for (let j = c; j < n; j++) M[r * n + j] -= f * M[c * n + j];
      x[r] -= f * x[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let j = r + 1; j < n; j++) s -= M[r * n + j] * x[j];
    x[r] = s / M[r * n + r];
  }
  return x;
}

/** A random SPD matrix Q^T Q + shift·I and a right-hand side. */
function quadratic(seed: number, n: number, shift: number) {
  const rng = new R.TestRng(seed);
  const Q = Float64Array.from(rng.f32(n * n, -1, 1));
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? shift : 0;
      for (let r = 0; r < n; r++) s += Q[r * n + i] * Q[r * n + j];
      A[i * n + j] = s;
    }
  const b = Float64Array.from(rng.f32(n, -2, 2));
  // f = 1/2 x^T A x - b^T x, g = A x - b
  const fg = (x: Float64Array, g: Float64Array) => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      let Ax = 0;
      for (let j = 0; j < n; j++) Ax += A[i * n + j] * x[j];
      g[i] = Ax - b[i];
      f += 0.5 * x[i] * Ax - b[i] * x[i];
    }
    return f;
  };
  return { A, b, fg, xStar: solve(A, b, n) };
}

const rosen = (x: Float64Array, g: Float64Array) => {
  const [a, c] = [x[0], x[1]];
  g[0] = -2 * (1 - a) - 400 * a * (c - a * a);
  g[1] = 200 * (c - a * a);
  return (1 - a) ** 2 + 100 * (c - a * a) ** 2;
};

describe('LBFGS on problems with known minimisers', () => {
  it('a convex quadratic in 8 dimensions reaches A^-1 b', async () => {
    const n = 8;
    const { fg, xStar, b } = quadratic(1, n, 0.5);
    const m = fake(n);
    const opt = new LBFGS(m.model, { maxIter: 100, maxEval: 200 });
    const log: Rec[] = [];
    const cl = closureOf(m, fg, log);
    const f0 = await opt.step(cl);
    // step() returns the loss at its start: f(0) = 0
    expect(f0).toBe(0);
    for (let s = 0; s < 3; s++) await opt.step(cl);
    const err = R.maxAbsDiff(m.params, xStar) / R.maxAbs(xStar);
    const g = new Float64Array(n);
    fg(Float64Array.from(m.params), g);
    report.push(`quadratic n=8: |x - x*|/|x*| = ${err.toExponential(2)}, |g|max = ${R.maxAbs(g).toExponential(2)} (|b| ${R.maxAbs(b).toFixed(2)}), ${opt.funcEvals} evals, ${opt.nIter} iterations`);
    expect(err).toBeLessThan(1e-4);
    expect(opt.funcEvals).toBe(log.length);
    // n-dimensional quadratic: far fewer than 100 iterations (finite termination up to rounding)
    expect(opt.nIter).toBeLessThan(60);
  });

  it('a 1-D quadratic: first step t = min(1, 1/|g|_1)·lr, the second (secant) iteration lands on the minimiser', async () => {
    const m = fake(1);
    const log: Rec[] = [];
    const fg = (x: Float64Array, g: Float64Array) => { g[0] = 2 * (x[0] - 3); return (x[0] - 3) ** 2; };
    const opt = new LBFGS(m.model, { maxIter: 2, maxEval: 10 });
    await opt.step(closureOf(m, fg, log));
    // x0 = 0, g = -6, d = 6, t = 1/6: the first trial is x = 1, where |g·d| = 24 <= 0.9·36 (Wolfe
    // holds at once); the secant model of a quadratic is exact, so iteration 2 goes to 3 with t = 1.
    expect(log.map((r) => r.x[0])).toEqual([0, 1, 3]);
    expect(m.params[0]).toBe(3);
    expect(opt.nIter).toBe(2);
    expect(opt.funcEvals).toBe(3);
  });

  it('the 2-D Rosenbrock function from (-1.2, 1) reaches (1, 1) within a few hundred iterations', async () => {
    const m = fake(2);
    m.params.set([-1.2, 1]);
    const opt = new LBFGS(m.model, { maxIter: 20 });
    const cl = closureOf(m, rosen);
    let steps = 0;
    while (steps < 25 && !(Math.abs(m.params[0] - 1) < 1e-4 && Math.abs(m.params[1] - 1) < 1e-4)) { await opt.step(cl); steps++; }
    const g = new Float64Array(2);
    const f = rosen(Float64Array.from(m.params), g);
    report.push(`Rosenbrock: (${m.params[0]}, ${m.params[1]}) f=${f.toExponential(2)} after ${opt.nIter} iterations, ${opt.funcEvals} evals, ${steps} steps`);
    expect(Math.abs(m.params[0] - 1)).toBeLessThan(1e-3);
    expect(Math.abs(m.params[1] - 1)).toBeLessThan(1e-3);
    expect(f).toBeLessThan(1e-6);
    expect(opt.nIter).toBeLessThanOrEqual(300);
  });
});

describe('strong-Wolfe line search', () => {
  // One iteration per step() (maxIter 1): each step() first evaluates at its start x0 (recorded),
  // then line-searches along d; with s = x1 - x0 = t·d the strong-Wolfe conditions read
  //   f(x1) <= f0 + c1·g0·s   and   |g(x1)·s| <= c2·|g0·s|   (c1 = 1e-4, c2 = 0.9)
  // and do not need t or d themselves.
  async function wolfeRun(name: string, n: number, x0: number[], fg: (x: Float64Array, g: Float64Array) => number, iters: number, lr = 1) {
    const m = fake(n);
    m.params.set(x0);
    const opt = new LBFGS(m.model, { maxIter: 1, lr });
    let evals = 0;
    let armijo = 0, curvature = 0, moved = 0, decreased = 0, checked = 0, tiny = 0;
    const fs: number[] = [];
    for (let it = 0; it < iters; it++) {
      const log: Rec[] = [];
      const ret = await opt.step(closureOf(m, fg, log));
      evals += log.length - 1;
      const start = log[0];
      expect(ret).toBe(start.f);
      const x1 = Float64Array.from(m.params);
      const g1 = new Float64Array(n);
      const f1 = fg(x1, g1);
      // the accepted point is one of the points the line search evaluated
      expect(log.slice(1).some((r) => R.maxAbsDiff(r.x, x1) === 0), `${name} iteration ${it}: accepted point was evaluated`).toBe(true);
      const s = x1.map((v, q) => v - start.x[q]);
      if (R.maxAbs(s) === 0) break;
      moved++;
      const g0s = dot(start.g, s);
      expect(g0s, 'descent direction').toBeLessThan(0);
      if (f1 < start.f) decreased++;
      fs.push(f1);
      // Below ~100 float32 ulps of x the trial points x0 + t·d are rounded to a handful of
      // representable values, and the line search cannot place the step where Wolfe holds.
      if (R.maxAbs(s) <= 1e-5 * Math.max(1, R.maxAbs(x1))) tiny++;
      else {
        checked++;
        const tol = 1e-12 * Math.max(1, Math.abs(start.f));
        if (f1 <= start.f + 1e-4 * g0s + tol) armijo++;
        if (Math.abs(dot(g1, s)) <= 0.9 * Math.abs(g0s) * (1 + 1e-9)) curvature++;
      }
      if (R.maxAbs(g1) < 1e-6) break;
    }
    report.push(`${name}: ${moved} moving iterations (${tiny} of them within ~100 ulps), ${evals} line-search evaluations, Armijo ${armijo}, curvature ${curvature}, decreased ${decreased}, f ${fs[0]?.toExponential(2)} -> ${fs[fs.length - 1]?.toExponential(2)}`);
    return { moved, armijo, curvature, decreased, fs, evals, checked };
  }

  it('Rosenbrock: every accepted step decreases f with sufficient decrease and satisfies the curvature condition', async () => {
    const r = await wolfeRun('Rosenbrock Wolfe', 2, [-1.2, 1], rosen, 120);
    expect(r.checked).toBeGreaterThan(15);
    expect(r.armijo).toBe(r.checked);
    expect(r.decreased).toBe(r.moved);
    expect(r.curvature).toBe(r.checked);
  });

  // lr scales the first trial step: too long (lr 20) forces the zoom phase, too short (lr 0.01)
  // forces the extrapolation by cubic interpolation up to 10x per trial.
  for (const lr of [20, 0.01])
    it(`Rosenbrock with lr ${lr} (line search must ${lr > 1 ? 'shrink' : 'grow'} the step): Wolfe at every accepted step`, async () => {
      const r = await wolfeRun(`Rosenbrock Wolfe lr ${lr}`, 2, [-1.2, 1], rosen, 150, lr);
      expect(r.checked).toBeGreaterThan(15);
      expect(r.evals).toBeGreaterThan(r.moved);  // more than one trial per line search on average
      expect(r.armijo).toBe(r.checked);
      expect(r.decreased).toBe(r.moved);
      expect(r.curvature).toBe(r.checked);
      expect(r.fs[r.fs.length - 1]).toBeLessThan(1e-8);
    });

  it('convex quadratic: the same, and f decreases monotonically', async () => {
    const { fg } = quadratic(2, 6, 0.2);
    const r = await wolfeRun('quadratic Wolfe', 6, [0.5, -0.5, 0.25, 1, -1, 0], fg, 60);
    expect(r.checked).toBeGreaterThan(3);
    expect(r.armijo).toBe(r.checked);
    expect(r.curvature).toBe(r.checked);
    for (let q = 1; q < r.fs.length; q++) expect(r.fs[q]).toBeLessThanOrEqual(r.fs[q - 1]);
  });
});

describe('frozen groups', () => {
  it('a frozen group of a Model-like object stays bitwise unchanged although its gradient is non-zero', async () => {
    const n = 6;
    const groups: ParamGroup[] = [
      { name: 'a', offset: 0, length: 2, trainable: true },
      { name: 'b', offset: 2, length: 2, trainable: false },
      { name: 'c', offset: 4, length: 2, trainable: true },
    ];
    const m = fake(n, groups);
    m.params.set([0.1, -0.2, 0.7, -0.3, 0.5, 0.9]);
    const frozen = m.params.slice(2, 4);
    // f = sum (x_q - q)^2: the minimiser of the free coordinates is q
    const fg = (x: Float64Array, g: Float64Array) => { let f = 0; for (let q = 0; q < n; q++) { g[q] = 2 * (x[q] - q); f += (x[q] - q) ** 2; } return f; };
    const opt = new LBFGS(m.model, { maxIter: 30 });
    const log: Rec[] = [];
    await opt.step(closureOf(m, fg, log));
    expect(R.bitwiseEqual(m.params.slice(2, 4), frozen)).toBe(true);
    for (const r of log) expect(r.x[2] === frozen[0] && r.x[3] === frozen[1], 'no trial point moves the frozen group').toBe(true);
    expect(Math.abs(log[log.length - 1].g[2])).toBeGreaterThan(1);  // its gradient was not zero
    for (const q of [0, 1, 4, 5]) expect(Math.abs(m.params[q] - q)).toBeLessThan(1e-5);
  });

  it('KAN trainable {wb: false, ws: false} under train({optimizer: lbfgs}): only coef changes', async () => {
    const model = new KAN({ widths: [2, 3, 1], gridSize: 5, seed: 3, trainable: { wb: false, ws: false } });
    const view = (name: string) => { const g = model.groups.find((gg) => gg.name === name)!; return model.params.subarray(g.offset, g.offset + g.length); };
    const before = { coef: view('coef').slice(), wb: view('wb').slice(), ws: view('ws').slice() };
    const rng = new R.TestRng(5);
    const x = rng.f32(128, -1, 1);
    const y = Float32Array.from({ length: 64 }, (_, q) => Math.sin(2 * x[2 * q]) + x[2 * q + 1] ** 2);
    const res = await train(model, { x, y }, { optimizer: 'lbfgs', steps: 3 });
    expect(R.bitwiseEqual(view('wb'), before.wb)).toBe(true);
    expect(R.bitwiseEqual(view('ws'), before.ws)).toBe(true);
    expect(R.maxAbsDiff(view('coef'), before.coef)).toBeGreaterThan(1e-3);
    expect(res.losses[2]).toBeLessThan(res.losses[0]);
  });
});

describe('LBFGS through train()', () => {
  const f = (x: number) => Math.sin(Math.PI * x) + 0.5 * x * x;
  function data(n: number) {
    const x = Float32Array.from({ length: n }, (_, q) => -1 + (2 * q) / (n - 1));
    return { x, y: Float32Array.from(x, f) };
  }
  /**
   * Counts training forward passes (one per closure evaluation or Adam step): the trainer's
   * generator entry point trainSteps when the model has one (forwardTrain goes through it too),
   * else forwardTrain.
   */
  // Counts the trainer's forwards: trainSync (synchronous steps) and trainSteps (asynchronous).
  function counted(model: KAN) {
    const c = { n: 0 };
    const m = model as unknown as Record<string, (...a: unknown[]) => unknown>;
    const sync = m.trainSync.bind(model), steps = m.trainSteps.bind(model);
    m.trainSync = (...a: unknown[]) => { c.n++; return sync(...a); };
    m.trainSteps = function* (...a: unknown[]) { c.n++; return yield* (steps(...a) as Generator<unknown, unknown>); };
    return c;
  }
  const mse = (model: KAN, d: { x: Float32Array; y: Float32Array }) => R.mseRef(model.forward(d.x), d.y);

  it('KAN [1,1] G=20: LBFGS fits a smooth 1-D function better than Adam with the same number of evaluations', async () => {
    const d = data(201);
    const test = data(157);
    const kl = new KAN({ widths: [1, 1], gridSize: 20, seed: 1 });
    const cl = counted(kl);
    const rl = await train(kl, d, { optimizer: 'lbfgs', steps: 10 });
    const mseL = mse(kl, d), testL = mse(kl, test);
    const ka = new KAN({ widths: [1, 1], gridSize: 20, seed: 1 });
    const ca = counted(ka);
    await train(ka, d, { optimizer: 'adam', lr: 0.02, steps: cl.n });
    expect(cl.n).toBeGreaterThan(10);   // at least one evaluation per step (the counter works)
    expect(ca.n).toBe(cl.n);
    const mseA = mse(ka, d);
    report.push(`KAN [1,1] G=20 on sin(pi x)+x^2/2: LBFGS ${cl.n} evals -> train MSE ${mseL.toExponential(2)} (test ${testL.toExponential(2)}, last step loss ${rl.finalLoss.toExponential(2)}); Adam lr 0.02 same evals -> ${mseA.toExponential(2)}`);
    expect(mseL).toBeLessThan(mseA);
    expect(mseL).toBeLessThan(1e-6);
    expect(testL).toBeLessThan(1e-5);
    // losses are reported per step and do not increase across LBFGS steps on a full batch
    for (let s = 1; s < rl.steps; s++) expect(rl.losses[s]).toBeLessThanOrEqual(rl.losses[s - 1]);
  });

  it('is deterministic: the same run twice gives bitwise identical params', async () => {
    const d = data(64);
    const run = async () => {
      const k = new KAN({ widths: [1, 3, 1], gridSize: 6, seed: 4 });
      const r = await train(k, d, { optimizer: 'lbfgs', steps: 4, historySize: 5, maxIter: 10 });
      return { p: k.params.slice(), losses: r.losses };
    };
    const a = await run(), b = await run();
    expect(R.bitwiseEqual(a.p, b.p)).toBe(true);
    expect(R.bitwiseEqual(a.losses, b.losses)).toBe(true);
    expect(a.losses[3]).toBeLessThan(a.losses[0]);
  });

  it('historySize and maxIter reach the optimizer (different settings, different results)', async () => {
    const d = data(64);
    const run = async (o: { historySize?: number; maxIter?: number }) => {
      const k = new KAN({ widths: [1, 3, 1], gridSize: 6, seed: 4 });
      const c = counted(k);
      await train(k, d, { optimizer: 'lbfgs', steps: 2, ...o });
      return { p: k.params.slice(), evals: c.n };
    };
    const base = await run({}), h = await run({ historySize: 1 }), m = await run({ maxIter: 2 });
    expect(R.bitwiseEqual(base.p, h.p)).toBe(false);
    expect(R.bitwiseEqual(base.p, m.p)).toBe(false);
    // maxIter 2: at most 1 + 2·25 evaluations per step; default 20 iterations use more
    expect(m.evals).toBeLessThan(base.evals);
  });
});

describe('option validation', () => {
  const m = fake(2).model;
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['lr 0', { lr: 0 }, /\blr\b/],
    ['lr -1', { lr: -1 }, /\blr\b/],
    ['lr NaN', { lr: NaN }, /\blr\b/],
    ['historySize 0', { historySize: 0 }, /historySize/],
    ['historySize 2.5', { historySize: 2.5 }, /historySize/],
    ['maxIter 1.5', { maxIter: 1.5 }, /maxIter/],
    ['maxIter 0', { maxIter: 0 }, /maxIter/],
    ['maxEval 0', { maxEval: 0 }, /maxEval/],
    ['toleranceGrad -1', { toleranceGrad: -1 }, /toleranceGrad/],
    ['toleranceChange Infinity', { toleranceChange: Infinity }, /toleranceChange/],
  ];
  for (const [name, o, re] of cases)
    it(`new LBFGS(model, {${name}}) throws a RangeError naming the option`, () => {
      expect(() => new LBFGS(m, o)).toThrow(RangeError);
      expect(() => new LBFGS(m, o)).toThrow(re);
    });

  it('a non-number option is a TypeError', () => {
    expect(() => new LBFGS(m, { lr: '1' as unknown as number })).toThrow(TypeError);
    expect(() => new LBFGS(m, { maxIter: '1' as unknown as number })).toThrow(/maxIter/);
  });

  it('valid neighbours construct fine', () => {
    const o = new LBFGS(m, { lr: 1e-9, historySize: 1, maxIter: 1, maxEval: 1, toleranceGrad: 0, toleranceChange: 0 });
    expect(o.maxEval).toBe(1);
    expect(new LBFGS(m, { maxIter: 8 }).maxEval).toBe(10);
  });

  it('through train(): lbfgs options are checked and named options.*', async () => {
    const k = new KAN({ widths: [1, 1], gridSize: 3 });
    const d = { x: new Float32Array([0, 0.5]), y: new Float32Array([1, 2]) };
    await expect(train(k, d, { optimizer: 'lbfgs', lr: 0 })).rejects.toThrow(RangeError);
    await expect(train(k, d, { optimizer: 'lbfgs', lr: 0 })).rejects.toThrow(/options\.lr/);
    await expect(train(k, d, { optimizer: 'lbfgs', historySize: 0 })).rejects.toThrow(/options\.historySize/);
    await expect(train(k, d, { optimizer: 'lbfgs', maxIter: 1.5 })).rejects.toThrow(/options\.maxIter/);
    // options of other optimizers are refused for lbfgs
    await expect(train(k, d, { optimizer: 'lbfgs', beta1: 0.9 })).rejects.toThrow(/beta1/);
  });
});
