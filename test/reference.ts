// reference.ts — an independent float64 transcription of the math contract (DESIGN.md, "The KAN
// layer"), plus dense layers, losses and optimizers, and small test utilities. It shares NO code
// with lib/ or native/: everything here is written from the formulas, deliberately naive
// (the FULL Cox–de Boor recursion over all bases, sums over every basis, no span search).

export type BaseName = 'silu' | 'identity' | 'zero';
export type ActName = 'identity' | 'relu' | 'silu' | 'tanh';
type Num = ArrayLike<number>;

// ---------------------------------------------------------------------------------------------
// B-splines

/**
 * All NB = NK - k - 1 B-spline bases of order k at x on the knot row t (NK knots), by the full
 * Cox–de Boor recursion. Order 0 is half-open: B0_m(x) = 1[t_m <= x < t_{m+1}]; a term whose
 * denominator is 0 counts as 0. Outside [t_0, t_{NK-1}) every basis is 0.
 */
export function bsplineBasisAll(x: number, t: Num, k: number): number[] {
  const NK = t.length;
  const NB = NK - k - 1;
  let prev: number[] = [];
  for (let m = 0; m < NK - 1; m++) prev.push(t[m] <= x && x < t[m + 1] ? 1 : 0);
  for (let p = 1; p <= k; p++) {
    const cur: number[] = [];
    for (let m = 0; m < NK - 1 - p; m++) {
      const d1 = t[m + p] - t[m];
      const d2 = t[m + p + 1] - t[m + 1];
      const a = d1 === 0 ? 0 : ((x - t[m]) / d1) * prev[m];
      const b = d2 === 0 ? 0 : ((t[m + p + 1] - x) / d2) * prev[m + 1];
      cur.push(a + b);
    }
    prev = cur;
  }
  if (prev.length !== NB) throw new Error('reference: basis count mismatch');
  return prev;
}

export function baseFn(name: BaseName, x: number): number {
  if (name === 'silu') return x / (1 + Math.exp(-x));
  if (name === 'identity') return x;
  return 0;
}

/**
 * One KAN layer in float64. x (B,I), grid (I,NK), coef (I,NB,O), wb/ws/mask (I,O), row-major.
 * y[b,o] = sum_i mask[i,o] * (wb[i,o]*base(x[b,i]) + ws[i,o] * sum_m coef[i,m,o] * B_m(x[b,i]))
 */
export function kanLayerRef(x: Num, B: number, I: number, O: number, G: number, k: number, grid: Num, coef: Num,
  wb: Num, ws: Num, mask: Num, base: BaseName): Float64Array {
  const NK = G + 2 * k + 1, NB = G + k;
  if (grid.length !== I * NK || coef.length !== I * NB * O || wb.length !== I * O || ws.length !== I * O ||
      mask.length !== I * O || x.length !== B * I) throw new Error('reference: bad lengths');
  const y = new Float64Array(B * O);
  const row: number[] = new Array(NK);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < I; i++) {
      const xv = x[b * I + i];
      for (let m = 0; m < NK; m++) row[m] = grid[i * NK + m];
      const basis = bsplineBasisAll(xv, row, k);
      const bv = baseFn(base, xv);
      for (let o = 0; o < O; o++) {
        let spline = 0;
        for (let m = 0; m < NB; m++) spline += coef[(i * NB + m) * O + o] * basis[m];
        const io = i * O + o;
        y[b * O + o] += mask[io] * (wb[io] * bv + ws[io] * spline);
      }
    }
  }
  return y;
}

export interface RefKanLayer { I: number; O: number; G: number; k: number; grid: Num; coef: Num; wb: Num; ws: Num; mask: Num; }
export interface RefKan { base: BaseName; layers: RefKanLayer[]; }

/** A whole KAN: layers chained, each one's float64 output feeding the next. */
export function kanRef(model: RefKan, x: Num, B: number): Float64Array {
  let h: Num = x;
  for (const L of model.layers) h = kanLayerRef(h, B, L.I, L.O, L.G, L.k, L.grid, L.coef, L.wb, L.ws, L.mask, model.base);
  return Float64Array.from(h as ArrayLike<number>);
}

// ---------------------------------------------------------------------------------------------
// Dense layers

export function actFn(name: ActName, z: number): number {
  if (name === 'relu') return z > 0 ? z : 0;
  if (name === 'silu') return z / (1 + Math.exp(-z));
  if (name === 'tanh') return Math.tanh(z);
  return z;
}

/** z = x W + bias (W is (I,O) row-major), y = act(z). */
export function denseRef(x: Num, W: Num, bias: Num, B: number, I: number, O: number, act: ActName): { z: Float64Array; y: Float64Array } {
  const z = new Float64Array(B * O), y = new Float64Array(B * O);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < O; o++) {
      let s = bias[o];
      for (let i = 0; i < I; i++) s += x[b * I + i] * W[i * O + o];
      z[b * O + o] = s;
      y[b * O + o] = actFn(act, s);
    }
  return { z, y };
}

export interface RefDense { I: number; O: number; W: Num; bias: Num; }
/** An MLP: the activation acts on hidden layers only; the last layer is linear. */
export function mlpRef(layers: RefDense[], act: ActName, x: Num, B: number): Float64Array {
  let h: Num = x;
  layers.forEach((L, l) => {
    h = denseRef(h, L.W, L.bias, B, L.I, L.O, l === layers.length - 1 ? 'identity' : act).y;
  });
  return Float64Array.from(h as ArrayLike<number>);
}

// ---------------------------------------------------------------------------------------------
// Losses

/** Mean of (pred - target)^2 over all elements. */
export function mseRef(pred: Num, target: Num): number {
  let s = 0;
  for (let q = 0; q < pred.length; q++) s += (pred[q] - target[q]) ** 2;
  return s / pred.length;
}

/** Mean over rows of logsumexp(logits row) - logit[label]. */
export function crossEntropyRef(logits: Num, labels: ArrayLike<number>, B: number, C: number): number {
  let s = 0;
  for (let b = 0; b < B; b++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, logits[b * C + c]);
    let e = 0;
    for (let c = 0; c < C; c++) e += Math.exp(logits[b * C + c] - mx);
    // log(sum) + (max - logit[label]): adding log(sum) to a huge max first would absorb it
    s += Math.log(e) + (mx - logits[b * C + labels[b]]);
  }
  return s / B;
}

// ---------------------------------------------------------------------------------------------
// Optimizers (float64 state; p, m, v, buf updated in place)

/** Adam with bias correction, L2 weight decay added to the gradient; t counts from 1. */
export function adamRef(p: Float64Array, m: Float64Array, v: Float64Array, g: Num, lr: number, beta1: number,
  beta2: number, eps: number, wd: number, t: number): void {
  const bc1 = 1 - beta1 ** t, bc2 = 1 - beta2 ** t;
  for (let q = 0; q < p.length; q++) {
    const gq = g[q] + wd * p[q];
    m[q] = beta1 * m[q] + (1 - beta1) * gq;
    v[q] = beta2 * v[q] + (1 - beta2) * gq * gq;
    const mh = m[q] / bc1, vh = v[q] / bc2;
    p[q] -= (lr * mh) / (Math.sqrt(vh) + eps);
  }
}

/** SGD with momentum: buf = mu*buf + (g + wd*p); p -= lr*buf. */
export function sgdRef(p: Float64Array, buf: Float64Array, g: Num, lr: number, momentum: number, wd: number): void {
  for (let q = 0; q < p.length; q++) {
    const gq = g[q] + wd * p[q];
    buf[q] = momentum * buf[q] + gq;
    p[q] -= lr * buf[q];
  }
}

// ---------------------------------------------------------------------------------------------
// Test utilities (own PRNG: mulberry32, unrelated to lib/rng.ts)

export class TestRng {
  private s: number;
  constructor(seed: number) { this.s = (seed * 2654435761) >>> 0; }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  range(lo: number, hi: number): number { return lo + (hi - lo) * this.next(); }
  int(n: number): number { return Math.floor(this.next() * n); }
  f32(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let q = 0; q < n; q++) a[q] = this.range(lo, hi);
    return a;
  }
}

/** Uniform knot rows (I, NK): t_m = a + (m-k) h, h = (b-a)/G, stored as float32. */
export function uniformGrid(I: number, G: number, k: number, a: number, b: number): Float32Array {
  const NK = G + 2 * k + 1, h = (b - a) / G;
  const g = new Float32Array(I * NK);
  for (let i = 0; i < I; i++) for (let m = 0; m < NK; m++) g[i * NK + m] = a + (m - k) * h;
  return g;
}

/**
 * Random strictly increasing knot rows (I, NK) (different per row, gaps in [0.15, 1.85] x mean),
 * starting near `a` with mean spacing h. With `repeats`, a few interior knots of each row are
 * set equal to their left neighbour (double knots; two picks may land side by side: a triple).
 */
export function adaptedGrid(rng: TestRng, I: number, G: number, k: number, a: number, h: number, repeats = 0): Float32Array {
  const NK = G + 2 * k + 1;
  const g = new Float32Array(I * NK);
  for (let i = 0; i < I; i++) {
    for (;;) {
      let t = a + rng.range(-0.5, 0.5) * h;
      const row = new Float32Array(NK);
      for (let m = 0; m < NK; m++) { row[m] = t; t += h * rng.range(0.15, 1.85); }
      let ok = true;
      for (let m = 1; m < NK; m++) if (!(row[m] > row[m - 1])) ok = false;
      if (!ok) continue;
      for (let r = 0; r < repeats && NK >= 4; r++) {
        const m = 1 + rng.int(NK - 3);  // interior knot m in [1, NK-3]; t_{m+1} := t_m
        row[m + 1] = row[m];
      }
      g.set(row, i * NK);
      break;
    }
  }
  return g;
}

export function f32next(x: number, dir: 1 | -1): number {
  const f = new Float32Array([x]);
  const u = new Int32Array(f.buffer);
  if (x === 0) { f[0] = dir > 0 ? 1.4e-45 : -1.4e-45; return f[0]; }
  u[0] += (x > 0 ? 1 : -1) * dir;
  return f[0];
}

export function maxAbs(a: Num): number {
  let m = 0;
  for (let q = 0; q < a.length; q++) m = Math.max(m, Math.abs(a[q]));
  return m;
}

export function maxAbsDiff(a: Num, b: Num): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let q = 0; q < a.length; q++) {
    const d = Math.abs(a[q] - b[q]);
    if (Number.isNaN(d)) return Infinity;
    m = Math.max(m, d);
  }
  return m;
}

/** max |a-b| / max(1, max|b|). */
export function scaledErr(a: Num, b: Num): number {
  return maxAbsDiff(a, b) / Math.max(1, maxAbs(b));
}

/** max |a-b| / max|b| (or the absolute error when b is all zeros). */
export function relErr(a: Num, b: Num): number {
  const s = maxAbs(b);
  return maxAbsDiff(a, b) / (s > 0 ? s : 1);
}

/** Bitwise equality of two Float32Arrays (distinguishes -0/+0 and NaN payloads). */
export function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let q = 0; q < ua.length; q++) if (ua[q] !== ub[q]) return false;
  return true;
}

/** Central difference of f at p[q] (p is modified and restored). */
export function centralDiff(f: () => number, p: Float64Array, q: number, h: number): number {
  const old = p[q];
  p[q] = old + h; const fp = f();
  p[q] = old - h; const fm = f();
  p[q] = old;
  return (fp - fm) / (2 * h);
}
