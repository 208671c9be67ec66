// lbfgs.ts — L-BFGS with a strong-Wolfe line search, as pykan trains (pykan's LBFGS is
// torch.optim.LBFGS with tolerance_ys added): each step() runs up to maxIter iterations of
// two-loop-recursion directions and line searches on the closure's loss. Vectors are float64;
// the model's float32 params are written at each trial point.
import * as check from './check.js';
import type { Model } from './model.js';

export interface LBFGSOptions {
  /** Initial step of the line search (pykan: 1). */
  lr?: number;
  /** Stored curvature pairs (pykan: 10). */
  historySize?: number;
  /** Iterations per step() (pykan/torch default: 20). */
  maxIter?: number;
  /** Closure evaluations per step() (default maxIter·5/4). */
  maxEval?: number;
  /** Stop when max |grad| ≤ this (pykan: 1e-32). */
  toleranceGrad?: number;
  /** Stop when a step or loss change is below this (pykan: 1e-32). */
  toleranceChange?: number;
  /** Skip the curvature pair when y·s ≤ this (pykan: 1e-32). */
  toleranceYs?: number;
}

/**
 * Computes the loss at the model's current params and writes d loss / d params into model.grads
 * (synchronously, or as a Promise).
 */
export type Closure = () => number | Promise<number>;

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let q = 0; q < a.length; q++) s += a[q] * b[q];
  return s;
}
function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let q = 0; q < a.length; q++) { const v = Math.abs(a[q]); if (v > m || v !== v) m = v !== v ? Infinity : v; }
  return m;
}

function cubicInterpolate(x1: number, f1: number, g1: number, x2: number, f2: number, g2: number, bounds?: [number, number]): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2sq = d1 * d1 - g1 * g2;
  if (d2sq >= 0) {
    const d2 = Math.sqrt(d2sq);
    const pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)) : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return Math.min(Math.max(pos, lo), hi);
  }
  return (lo + hi) / 2;
}

export class LBFGS {
  readonly lr: number; readonly historySize: number; readonly maxIter: number; readonly maxEval: number;
  readonly toleranceGrad: number; readonly toleranceChange: number; readonly toleranceYs: number;
  /** Closure evaluations so far. */
  funcEvals = 0;
  /** Iterations so far. */
  nIter = 0;
  t = 0;  // steps taken (Optimizer interface)
  private readonly n: number;
  private readonly frozen: Uint8Array;
  private d: Float64Array; private prevGrad: Float64Array; private flatGrad: Float64Array; private x0: Float64Array;
  private oldDirs: Float64Array[] = []; private oldStps: Float64Array[] = []; private ro: number[] = [];
  private hDiag = 1; private stepT = 0;
  private alpha: number[];

  constructor(readonly model: Model, o: LBFGSOptions = {}) {
    this.lr = o.lr === undefined ? 1 : check.num('lr', o.lr, 0, Infinity, { openLo: true });
    this.historySize = o.historySize === undefined ? 10 : check.int('historySize', o.historySize, 1, 1000);
    this.maxIter = o.maxIter === undefined ? 20 : check.int('maxIter', o.maxIter, 1, 1e6);
    this.maxEval = o.maxEval === undefined ? Math.floor((this.maxIter * 5) / 4) : check.int('maxEval', o.maxEval, 1, 1e7);
    this.toleranceGrad = o.toleranceGrad === undefined ? 1e-32 : check.num('toleranceGrad', o.toleranceGrad, 0);
    this.toleranceChange = o.toleranceChange === undefined ? 1e-32 : check.num('toleranceChange', o.toleranceChange, 0);
    this.toleranceYs = o.toleranceYs === undefined ? 1e-32 : check.num('toleranceYs', o.toleranceYs, 0);
    this.n = model.params.length;
    this.frozen = new Uint8Array(this.n);
    for (const g of model.groups) if (!g.trainable) this.frozen.fill(1, g.offset, g.offset + g.length);
    this.d = new Float64Array(this.n); this.prevGrad = new Float64Array(this.n);
    this.flatGrad = new Float64Array(this.n); this.x0 = new Float64Array(this.n);
    this.alpha = new Array(this.historySize).fill(0);
  }

  // Evaluates the closure; copies the gradient (zero on frozen groups) into out.
  private async evaluate(closure: Closure, out: Float64Array): Promise<number> {
    const loss = await closure();
    const g = this.model.grads;
    for (let q = 0; q < this.n; q++) out[q] = this.frozen[q] ? 0 : g[q];
    this.funcEvals++;
    return loss;
  }

  private setParams(x: Float64Array, t: number, d: Float64Array): void {
    const p = this.model.params;
    for (let q = 0; q < this.n; q++) if (!this.frozen[q]) p[q] = x[q] + t * d[q];
  }

  // Loss and gradient at x + t·d (params are left there; the caller resets them).
  private directional(closure: Closure, t: number, g: Float64Array): Promise<number> {
    this.setParams(this.x0, t, this.d);
    return this.evaluate(closure, g);
  }

  /** One optimizer step (up to maxIter iterations). Resolves to the loss at the start of the step. */
  async step(closure: Closure): Promise<number> {
    this.t++;
    const flatGrad = this.flatGrad;
    const origLoss = await this.evaluate(closure, flatGrad);
    let loss = origLoss;
    let currentEvals = 1;
    if (!Number.isFinite(loss)) return loss;
    if (maxAbs(flatGrad) <= this.toleranceGrad) return origLoss;
    const d = this.d;
    let nIter = 0;
    while (nIter < this.maxIter) {
      nIter++;
      this.nIter++;
      if (this.nIter === 1) {
        for (let q = 0; q < this.n; q++) d[q] = -flatGrad[q];
        this.oldDirs = []; this.oldStps = []; this.ro = []; this.hDiag = 1;
      } else {
        // y = g - g_prev, s = d·t
        const y = new Float64Array(this.n), s = new Float64Array(this.n);
        for (let q = 0; q < this.n; q++) { y[q] = flatGrad[q] - this.prevGrad[q]; s[q] = d[q] * this.stepT; }
        const ys = dot(y, s);
        if (ys > this.toleranceYs) {
          if (this.oldDirs.length === this.historySize) { this.oldDirs.shift(); this.oldStps.shift(); this.ro.shift(); }
          this.oldDirs.push(y); this.oldStps.push(s); this.ro.push(1 / ys);
          this.hDiag = ys / dot(y, y);
        }
        const m = this.oldDirs.length;
        for (let q = 0; q < this.n; q++) d[q] = -flatGrad[q];
        for (let i = m - 1; i >= 0; i--) {
          this.alpha[i] = dot(this.oldStps[i], d) * this.ro[i];
          const od = this.oldDirs[i], a = this.alpha[i];
          for (let q = 0; q < this.n; q++) d[q] -= a * od[q];
        }
        for (let q = 0; q < this.n; q++) d[q] *= this.hDiag;
        for (let i = 0; i < m; i++) {
          const be = dot(this.oldDirs[i], d) * this.ro[i];
          const os = this.oldStps[i], c = this.alpha[i] - be;
          for (let q = 0; q < this.n; q++) d[q] += c * os[q];
        }
      }
      this.prevGrad.set(flatGrad);
      const prevLoss = loss;
      let t: number;
      if (this.nIter === 1) {
        let s = 0;
        for (let q = 0; q < this.n; q++) s += Math.abs(flatGrad[q]);
        t = Math.min(1, 1 / s) * this.lr;
      } else t = this.lr;
      const gtd = dot(flatGrad, d);
      if (!(gtd <= -this.toleranceChange)) break;
      // Line search from x0 = current params.
      const p = this.model.params;
      for (let q = 0; q < this.n; q++) this.x0[q] = p[q];
      const ls = await this.strongWolfe(closure, t, loss, flatGrad, gtd);
      loss = ls.f; t = ls.t; flatGrad.set(ls.g);
      this.setParams(this.x0, t, d);
      this.stepT = t;
      currentEvals += ls.evals;
      const optCond = maxAbs(flatGrad) <= this.toleranceGrad;
      if (nIter === this.maxIter || currentEvals >= this.maxEval || optCond) break;
      if (maxAbs(d) * Math.abs(t) <= this.toleranceChange) break;
      if (Math.abs(loss - prevLoss) < this.toleranceChange) break;
      if (!Number.isFinite(loss)) break;
    }
    return origLoss;
  }

  // torch.optim.lbfgs._strong_wolfe (c1 = 1e-4, c2 = 0.9, up to 25 evaluations).
  private async strongWolfe(closure: Closure, t: number, f: number, g: Float64Array, gtd: number) {
    const c1 = 1e-4, c2 = 0.9, maxLs = 25, tolChange = 1e-9;
    const dNorm = maxAbs(this.d);
    let gNew = new Float64Array(this.n);
    let fNew = await this.directional(closure, t, gNew);
    let evals = 1;
    let gtdNew = dot(gNew, this.d);
    let tPrev = 0, fPrev = f, gPrev = Float64Array.from(g), gtdPrev = gtd;
    let done = false;
    let lsIter = 0;
    let br: number[] = [], brF: number[] = [], brG: Float64Array[] = [], brGtd: number[] = [];
    while (lsIter < maxLs) {
      if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev) || !Number.isFinite(fNew)) {
        br = [tPrev, t]; brF = [fPrev, fNew]; brG = [gPrev, Float64Array.from(gNew)]; brGtd = [gtdPrev, gtdNew];
        break;
      }
      if (Math.abs(gtdNew) <= -c2 * gtd) {
        br = [t]; brF = [fNew]; brG = [gNew]; brGtd = [gtdNew]; done = true;
        break;
      }
      if (gtdNew >= 0) {
        br = [tPrev, t]; brF = [fPrev, fNew]; brG = [gPrev, Float64Array.from(gNew)]; brGtd = [gtdPrev, gtdNew];
        break;
      }
      const minStep = t + 0.01 * (t - tPrev), maxStep = t * 10, tmp = t;
      t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [minStep, maxStep]);
      tPrev = tmp; fPrev = fNew; gPrev = Float64Array.from(gNew); gtdPrev = gtdNew;
      gNew = new Float64Array(this.n);
      fNew = await this.directional(closure, t, gNew);
      evals++;
      gtdNew = dot(gNew, this.d);
      lsIter++;
    }
    if (lsIter === maxLs) { br = [0, t]; brF = [f, fNew]; brG = [Float64Array.from(g), gNew]; brGtd = [gtd, gtdNew]; }
    // Zoom.
    let insufProgress = false;
    let [lo, hi] = brF[0] <= brF[brF.length - 1] ? [0, 1] : [1, 0];
    while (!done && lsIter < maxLs && br.length === 2) {
      if (Math.abs(br[1] - br[0]) * dNorm < tolChange) break;
      t = cubicInterpolate(br[0], brF[0], brGtd[0], br[1], brF[1], brGtd[1]);
      const bMax = Math.max(br[0], br[1]), bMin = Math.min(br[0], br[1]);
      const eps = 0.1 * (bMax - bMin);
      if (Math.min(bMax - t, t - bMin) < eps) {
        if (insufProgress || t >= bMax || t <= bMin) {
          t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
          insufProgress = false;
        } else insufProgress = true;
      } else insufProgress = false;
      gNew = new Float64Array(this.n);
      fNew = await this.directional(closure, t, gNew);
      evals++;
      gtdNew = dot(gNew, this.d);
      lsIter++;
      if (fNew > f + c1 * t * gtd || fNew >= brF[lo] || !Number.isFinite(fNew)) {
        br[hi] = t; brF[hi] = fNew; brG[hi] = gNew; brGtd[hi] = gtdNew;
        [lo, hi] = brF[0] <= brF[1] ? [0, 1] : [1, 0];
      } else {
        if (Math.abs(gtdNew) <= -c2 * gtd) done = true;
        else if (gtdNew * (br[hi] - br[lo]) >= 0) { br[hi] = br[lo]; brF[hi] = brF[lo]; brG[hi] = brG[lo]; brGtd[hi] = brGtd[lo]; }
        br[lo] = t; brF[lo] = fNew; brG[lo] = gNew; brGtd[lo] = gtdNew;
      }
    }
    const pick = br.length === 1 ? 0 : lo;
    return { f: brF[pick], g: brG[pick], t: br[pick], evals };
  }
}
