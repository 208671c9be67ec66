// kan-forward.test.ts — the native KAN layer forward against the float64 reference
// (test/reference.ts: full Cox–de Boor recursion, dense sums over every basis).
import { afterAll, describe, expect, it } from 'vitest';
import { KAN } from '../lib/kan.js';
import { MLP } from '../lib/mlp.js';
import { native, setSimd, simd, simdAvailable } from '../lib/native.js';
import * as R from './reference.js';

// kernels.h: enum Base { BASE_ZERO = 0, BASE_IDENTITY = 1, BASE_SILU = 2 }
const BASE_CODE: Record<R.BaseName, number> = { zero: 0, identity: 1, silu: 2 };
const BASES: R.BaseName[] = ['silu', 'identity', 'zero'];
const TOL = 1e-5;

type GridKind = 'uniform' | 'adapted' | 'repeated' | 'clamped';
type MaskKind = 'ones' | 'binary' | 'real';
type Category = 'inside' | 'knots' | 'ends' | 'outside';

interface Case {
  I: number; O: number; G: number; k: number; base: R.BaseName;
  grid: Float32Array; coef: Float32Array; wb: Float32Array; ws: Float32Array; mask: Float32Array;
}

function makeMask(rng: R.TestRng, n: number, kind: MaskKind): Float32Array {
  const m = new Float32Array(n);
  for (let q = 0; q < n; q++) {
    if (kind === 'ones') m[q] = 1;
    else if (kind === 'binary') m[q] = rng.next() < 0.35 ? 0 : 1;
    else m[q] = rng.next() < 0.25 ? 0 : rng.range(-1.5, 2.5);
  }
  if (kind !== 'ones') m[0] = 0;  // at least one pruned edge
  return m;
}

/** Clamped rows: first and last k+1 knots equal (multiplicity k+1 at both ends), interior uniform. */
function clampedGrid(I: number, G: number, k: number, a: number, b: number): Float32Array {
  const NK = G + 2 * k + 1, h = (b - a) / G;
  const g = new Float32Array(I * NK);
  for (let i = 0; i < I; i++)
    for (let m = 0; m < NK; m++) g[i * NK + m] = a + Math.min(G, Math.max(0, m - k)) * h;
  return g;
}

function gridOf(kind: GridKind, rng: R.TestRng, I: number, G: number, k: number, a: number, b: number): Float32Array {
  const h = (b - a) / G;
  if (kind === 'uniform') return R.uniformGrid(I, G, k, a, b);
  if (kind === 'adapted') return R.adaptedGrid(rng, I, G, k, a - k * h, h, 0);
  if (kind === 'repeated') return R.adaptedGrid(rng, I, G, k, a - k * h, h, Math.max(1, Math.min(4, Math.floor(G / 3) + 1)));
  return clampedGrid(I, G, k, a, b);
}

/** Sample rows (B, I) by category; each value is a float32. */
function inputsFor(c: Case, rng: R.TestRng, range: [number, number]): { x: Float32Array; cats: Category[] } {
  const { I, G, k } = c;
  const NK = G + 2 * k + 1;
  const rows: number[][] = [];
  const cats: Category[] = [];
  const t0 = (i: number) => c.grid[i * NK], tl = (i: number) => c.grid[i * NK + NK - 1];
  const add = (cat: Category, f: (i: number) => number) => {
    rows.push(Array.from({ length: I }, (_, i) => f(i)));
    cats.push(cat);
  };
  for (let r = 0; r < 24; r++) add('inside', (i) => rng.range(t0(i), tl(i)));
  for (let r = 0; r < 8; r++) add('inside', (i) => rng.range(range[0], range[1]));
  for (let m = 0; m < NK; m++) add('knots', (i) => c.grid[i * NK + m]);  // every knot of every row
  add('ends', () => range[0]);
  add('ends', () => range[1]);
  add('ends', (i) => t0(i));
  add('ends', (i) => tl(i));
  add('ends', (i) => R.f32next(t0(i), 1));
  add('ends', (i) => R.f32next(tl(i), -1));
  add('outside', (i) => R.f32next(t0(i), -1));
  add('outside', (i) => R.f32next(tl(i), 1));
  add('outside', (i) => t0(i) - 1e-3);
  add('outside', (i) => tl(i) + 1e-3);
  add('outside', (i) => t0(i) - 10);
  add('outside', (i) => tl(i) + 10);
  add('outside', () => -1000);
  add('outside', () => 1000);
  add('outside', () => -60);
  const x = new Float32Array(rows.length * I);
  rows.forEach((row, b) => row.forEach((v, i) => { x[b * I + i] = v; }));
  return { x, cats };
}

function nativeForward(c: Case, x: Float32Array, B: number): Float32Array {
  const y = new Float32Array(B * c.O).fill(Number.NaN);  // must be overwritten
  native.kanForward(y, x, c.grid, c.coef, c.wb, c.ws, c.mask, B, c.I, c.O, c.G, c.k, BASE_CODE[c.base]);
  return y;
}

function refForward(c: Case, x: ArrayLike<number>, B: number): Float64Array {
  return R.kanLayerRef(x, B, c.I, c.O, c.G, c.k, c.grid, c.coef, c.wb, c.ws, c.mask, c.base);
}

/** Max |a-b| over the rows of one category, scaled by max(1, max|ref|) over the whole batch. */
function errByCategory(a: ArrayLike<number>, ref: ArrayLike<number>, cats: Category[], O: number): Record<Category, number> {
  const scale = Math.max(1, R.maxAbs(ref));
  const out: Record<Category, number> = { inside: 0, knots: 0, ends: 0, outside: 0 };
  cats.forEach((cat, b) => {
    for (let o = 0; o < O; o++) {
      const d = Math.abs(a[b * O + o] - ref[b * O + o]);
      out[cat] = Math.max(out[cat], Number.isNaN(d) ? Infinity : d / scale);
    }
  });
  return out;
}

const summary: string[] = [];
const groupMax = new Map<string, number>();
const note = (key: string, v: number) => groupMax.set(key, Math.max(groupMax.get(key) ?? 0, v));

afterAll(() => {
  console.log('[kan-forward] max scaled error per (k, G):\n  ' + summary.join('\n  '));
  console.log('[kan-forward] max scaled error per group:\n  ' +
    [...groupMax].map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n  '));
});

describe('reference self-check (so the reference is not trusted blindly)', () => {
  it('partition of unity, k=1 hats and the uniform cubic knot values 1/6, 4/6, 1/6', () => {
    const rng = new R.TestRng(1);
    for (const k of [1, 2, 3, 5]) {
      const t = Array.from(R.uniformGrid(1, 6, k, -1, 1));
      const NK = t.length;
      for (let r = 0; r < 50; r++) {
        const x = rng.range(t[k], t[NK - 1 - k]);
        const s = R.bsplineBasisAll(x, t, k).reduce((p, q) => p + q, 0);
        expect(Math.abs(s - 1)).toBeLessThan(1e-12);
      }
      expect(R.bsplineBasisAll(t[NK - 1], t, k).every((v) => v === 0)).toBe(true);
      expect(R.bsplineBasisAll(t[0] - 1e-9, t, k).every((v) => v === 0)).toBe(true);
    }
    const t = [0, 1, 2, 3, 4, 5];
    const hat = R.bsplineBasisAll(1.25, t, 1);  // B_0 on [0,2] peaked at 1, B_1 on [1,3]
    expect(hat[0]).toBeCloseTo(0.75, 14);
    expect(hat[1]).toBeCloseTo(0.25, 14);
    const cubic = R.bsplineBasisAll(4, [0, 1, 2, 3, 4, 5, 6, 7, 8], 3);
    expect(cubic[1]).toBeCloseTo(1 / 6, 14);
    expect(cubic[2]).toBeCloseTo(4 / 6, 14);
    expect(cubic[3]).toBeCloseTo(1 / 6, 14);
    // adapted rows with repeated knots still sum to 1 inside the full-support region
    const rg = Array.from(R.adaptedGrid(rng, 1, 9, 3, -1, 0.2, 3));
    for (let r = 0; r < 50; r++) {
      const x = rng.range(rg[3], rg[rg.length - 4]);
      const s = R.bsplineBasisAll(x, rg, 3).reduce((p, q) => p + q, 0);
      expect(Math.abs(s - 1)).toBeLessThan(1e-12);
    }
  });
});

describe('KAN layer forward vs reference (k x G x grid kind x base)', () => {
  const RANGES: [number, number][] = [[-1, 1], [0, 3], [-2.5, 0.5]];
  const OS = [1, 3, 17, 70];
  const GRID_KINDS: GridKind[] = ['uniform', 'adapted', 'repeated', 'clamped'];
  const MASKS: MaskKind[] = ['ones', 'binary', 'real'];
  let caseNo = 0;
  for (const k of [1, 2, 3, 5]) {
    for (const G of [1, 3, 5, 200]) {
      it(`k=${k} G=${G}`, () => {
        const rng = new R.TestRng(1000 + 10 * k + G);
        let worst = 0;
        const perKind: Record<string, number> = {};
        for (const gk of GRID_KINDS) {
          for (const base of BASES) {
            const n = caseNo++;
            const I = 2 + (n % 3), O = OS[n % OS.length];
            const range = RANGES[n % RANGES.length];
            const NB = G + k;
            // the model gives the uniform grid (and the buffers) of the layer
            const model = new KAN({ widths: [I, O], gridSize: G, splineOrder: k, gridRange: range, base, seed: n });
            const L = model.layers[0];
            const expectGrid = R.uniformGrid(I, G, k, range[0], range[1]);
            expect(R.maxAbsDiff(L.grid, expectGrid), 'KAN initial grid = a + (m-k)h').toBeLessThanOrEqual(1e-6 * Math.max(1, R.maxAbs(expectGrid)));
            if (gk !== 'uniform') L.grid.set(gridOf(gk, rng, I, G, k, range[0], range[1]));
            L.coef.set(rng.f32(I * NB * O, -1, 1));
            L.wb.set(rng.f32(I * O, -1, 1));
            L.ws.set(rng.f32(I * O, -1, 1));
            L.mask.set(makeMask(rng, I * O, MASKS[n % MASKS.length]));
            const c: Case = { I, O, G, k, base, grid: L.grid, coef: L.coef, wb: L.wb, ws: L.ws, mask: L.mask };
            const { x, cats } = inputsFor(c, rng, range);
            const B = cats.length;
            const yn = nativeForward(c, x, B);
            const yr = refForward(c, x, B);
            const ym = model.forward(x);
            const e = errByCategory(yn, yr, cats, O);
            const em = R.scaledErr(ym, yr);
            const msg = `k=${k} G=${G} grid=${gk} base=${base} I=${I} O=${O} mask=${MASKS[n % MASKS.length]}`;
            for (const cat of Object.keys(e) as Category[]) {
              expect(e[cat], `${msg} category=${cat}`).toBeLessThanOrEqual(TOL);
              note(`category ${cat}`, e[cat]);
            }
            expect(em, `${msg} model.forward`).toBeLessThanOrEqual(TOL);
            const eAll = Math.max(...Object.values(e), em);
            note(`grid ${gk}`, eAll);
            note(`base ${base}`, eAll);
            note(`O=${O}`, eAll);
            perKind[gk] = Math.max(perKind[gk] ?? 0, eAll);
            worst = Math.max(worst, eAll);
          }
        }
        summary.push(`k=${k} G=${G}: ${worst.toExponential(2)}  (` +
          Object.entries(perKind).map(([g, v]) => `${g} ${v.toExponential(1)}`).join(', ') + ')');
      });
    }
  }
});

describe('KAN forward: range ends and the half-open rule', () => {
  it('x = t_{NK-1} gives a zero spline, x = t_0 does not; outside only the base acts', () => {
    const rng = new R.TestRng(7);
    let maxErr = 0;
    for (const k of [1, 2, 3, 5]) {
      for (const gk of ['uniform', 'clamped', 'adapted'] as GridKind[]) {
        const I = 3, O = 5, G = 4, NB = G + k, NK = G + 2 * k + 1;
        const grid = gridOf(gk, rng, I, G, k, -1, 1);
        const c: Case = { I, O, G, k, base: 'zero', grid, coef: rng.f32(I * NB * O, 0.5, 1.5), wb: rng.f32(I * O), ws: rng.f32(I * O, 0.5, 1.5), mask: makeMask(rng, I * O, 'ones') };
        const at = (f: (i: number) => number) => Float32Array.from({ length: I }, (_, i) => f(i));
        // spline only (base zero): exactly 0 at the right end and beyond, on both sides outside
        for (const x of [at((i) => grid[i * NK + NK - 1]), at((i) => R.f32next(grid[i * NK], -1)), at((i) => grid[i * NK + NK - 1] + 5)]) {
          const y = nativeForward(c, x, 1);
          expect(Array.from(y), `k=${k} ${gk} x=${Array.from(x)}`).toEqual(new Array(O).fill(0));
        }
        // at t_0 the spline is B_0(t_0) * c_0 (non-zero for clamped rows, 0 for k>=1 unclamped): match the reference
        const x0 = at((i) => grid[i * NK]);
        const y0 = nativeForward(c, x0, 1), r0 = refForward(c, x0, 1);
        maxErr = Math.max(maxErr, R.scaledErr(y0, r0));
        expect(R.scaledErr(y0, r0)).toBeLessThanOrEqual(TOL);
        if (gk === 'clamped') {
          // clamped rows: the spline jumps to 0 at the right end; just below it equals ws * c_{NB-1}
          const xb = at((i) => R.f32next(grid[i * NK + NK - 1], -1));
          const yb = nativeForward(c, xb, 1), rb = refForward(c, xb, 1);
          expect(R.maxAbs(rb)).toBeGreaterThan(0.1);
          maxErr = Math.max(maxErr, R.scaledErr(yb, rb));
          expect(R.scaledErr(yb, rb)).toBeLessThanOrEqual(TOL);
          expect(R.maxAbs(y0)).toBeGreaterThan(0.1);
        }
        // identity base outside the grid: y = sum_i mask*wb*x exactly the base branch
        const cI: Case = { ...c, base: 'identity' };
        const xo = at((i) => grid[i * NK + NK - 1] + 0.5 + i);
        const yo = nativeForward(cI, xo, 1);
        const ro = new Float64Array(O);
        for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) ro[o] += c.mask[i * O + o] * c.wb[i * O + o] * xo[i];
        maxErr = Math.max(maxErr, R.scaledErr(yo, ro));
        expect(R.scaledErr(yo, ro)).toBeLessThanOrEqual(TOL);
      }
    }
    note('range ends', maxErr);
  });
});

describe('KAN forward: SIMD tails and a multi-layer model', () => {
  it('O not a multiple of the vector width (O = 1..70, I = 1..5) on adapted grids', () => {
    const rng = new R.TestRng(11);
    let maxErr = 0;
    for (const O of [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 70]) {
      const I = 1 + (O % 5), G = 6, k = 1 + (O % 5 === 3 ? 4 : O % 3), NB = G + k;
      const base = BASES[O % 3];
      const c: Case = { I, O, G, k, base, grid: gridOf(O % 2 ? 'adapted' : 'uniform', rng, I, G, k, -1, 1), coef: rng.f32(I * NB * O), wb: rng.f32(I * O), ws: rng.f32(I * O), mask: makeMask(rng, I * O, 'real') };
      const { x, cats } = inputsFor(c, rng, [-1, 1]);
      const err = R.scaledErr(nativeForward(c, x, cats.length), refForward(c, x, cats.length));
      maxErr = Math.max(maxErr, err);
      expect(err, `O=${O} I=${I} k=${k} base=${base}`).toBeLessThanOrEqual(TOL);
    }
    note('SIMD tails O=1..70', maxErr);
  });

  it('many inputs (blocks of inputs in the kernel): I = 15, 16, 17, 33, 40, 333, 784', () => {
    const rng = new R.TestRng(13);
    let maxErr = 0;
    // B = 1 through the wide layers: one sample's inputs in two halves (ops.cc), incl. a second
    // half that is not a whole number of vectors (333 = 176 + 157)
    for (const [I, O, G, k, B] of [[15, 17, 5, 3, 9], [16, 3, 4, 2, 5], [17, 70, 6, 1, 7], [33, 1, 3, 5, 6], [40, 21, 12, 3, 11], [784, 64, 5, 3, 8],
      [784, 64, 5, 3, 1], [333, 90, 9, 2, 1], [333, 90, 9, 2, 2]] as const) {
      const NB = G + k;
      const base = BASES[I % 3];
      const c: Case = { I, O, G, k, base, grid: gridOf(I % 2 ? 'adapted' : 'uniform', rng, I, G, k, -1, 1), coef: rng.f32(I * NB * O), wb: rng.f32(I * O), ws: rng.f32(I * O), mask: makeMask(rng, I * O, 'real') };
      const NK = G + 2 * k + 1;
      const x = new Float32Array(B * I);
      for (let q = 0; q < x.length; q++) {
        const i = q % I, r = rng.next();
        x[q] = r < 0.15 ? c.grid[i * NK + rng.int(NK)] : r < 0.25 ? rng.range(-4, 4) : rng.range(c.grid[i * NK], c.grid[i * NK + NK - 1]);
      }
      const yr = refForward(c, x, B);
      const err = R.scaledErr(nativeForward(c, x, B), yr);
      maxErr = Math.max(maxErr, err);
      expect(err, `I=${I} O=${O} G=${G} k=${k} base=${base}`).toBeLessThanOrEqual(TOL);
    }
    note('many inputs I=15..784', maxErr);
  });

  for (const base of BASES) {
    it(`KAN [3,5,4,2] model.forward (and forwardAsync, forwardTrain) = chained reference, base ${base}`, async () => {
      const rng = new R.TestRng(21 + BASES.indexOf(base));
      const model = new KAN({ widths: [3, 5, 4, 2], gridSize: 6, splineOrder: 3, gridRange: [-1, 1], base, seed: 5 });
      model.layers.forEach((L, l) => {
        if (l === 1) L.grid.set(R.adaptedGrid(rng, L.inDim, 6, 3, -1.9, 0.4, l));  // one adapted layer
        L.coef.set(rng.f32(L.coef.length, -0.6, 0.6));
        L.wb.set(rng.f32(L.wb.length, -0.6, 0.6));
        L.ws.set(rng.f32(L.ws.length, -0.6, 0.6));
        L.mask.set(makeMask(rng, L.mask.length, l === 0 ? 'ones' : 'real'));
      });
      const B = 40;
      const x = rng.f32(B * 3, -1.3, 1.3);
      x[0] = -1; x[1] = 1; x[2] = 5;  // a grid end, the range end, outside
      const ref = R.kanRef({
        base, layers: model.layers.map((L) => ({ I: L.inDim, O: L.outDim, G: L.gridSize, k: L.splineOrder, grid: L.grid, coef: L.coef, wb: L.wb, ws: L.ws, mask: L.mask })),
      }, x, B);
      const y = model.forward(x);
      const ya = await model.forwardAsync(x);
      const yt = Float32Array.from(model.forwardTrain(x, B));
      const err = R.scaledErr(y, ref);
      console.log(`[kan-forward] [3,5,4,2] base=${base}: max scaled error ${err.toExponential(2)} (max |y| ${R.maxAbs(ref).toFixed(3)})`);
      note('multi-layer [3,5,4,2]', err);
      expect(R.maxAbs(ref)).toBeGreaterThan(1e-3);
      expect(err).toBeLessThanOrEqual(TOL);
      expect(R.bitwiseEqual(ya, y)).toBe(true);
      expect(R.bitwiseEqual(yt, y)).toBe(true);
    });
  }
});

describe('KAN forward: small batches reuse their layer outputs', () => {
  // forward() keeps small batches' layer outputs per batch size and returns a copy of the last
  it('every call returns its own array; interleaved batch sizes and a training step in between change nothing', async () => {
    const model = new KAN({ widths: [6, 9, 3], gridSize: 5, seed: 2 });
    const rng = new R.TestRng(7);
    // 16: also the training step's batch size below (its own workspace, not forward's)
    const xs = [1, 2, 3, 5, 16, 13].map((B) => rng.f32(B * 6, -1.2, 1.2));
    // forwardAsync: new arrays per layer
    const want = await Promise.all(xs.map((x) => model.forwardAsync(x)));
    const first = model.forward(xs[0]);
    first.fill(Number.NaN);  // the caller owns its result
    const xt = rng.f32(16 * 6, -1, 1);
    const yt = Float32Array.from(model.forwardTrain(xt, 16));
    for (let round = 0; round < 3; round++)
      xs.forEach((x, q) => {  // six batch sizes: more than the four kept
        const y = model.forward(x);
        expect(y).not.toBe(first);
        expect(R.bitwiseEqual(y, want[q]), `round ${round} B=${x.length / 6}`).toBe(true);
      });
    // forwardTrain's activations (its own workspace) are untouched by the forward() calls
    const g = new Float32Array(model.grads.length);
    model.backward(new Float32Array(16 * 3).fill(1), { accumulate: false });
    g.set(model.grads);
    model.forwardTrain(xt, 16);
    model.backward(new Float32Array(16 * 3).fill(1), { accumulate: false });
    expect(R.bitwiseEqual(model.grads, g)).toBe(true);
    expect(R.bitwiseEqual(model.forwardTrain(xt, 16), yt)).toBe(true);
  });

  it('the kept outputs, written again, give what forwardAsync gives (new arrays per layer), bitwise', async () => {
    // one sample of a wide layer goes in two halves (the second summed into the first: the first
    // must overwrite the kept output, not add to it); an MLP's hidden layers get z = null
    const rng = new R.TestRng(8);
    const models: [string, KAN | MLP][] = [
      ['KAN [784,64,10]', new KAN({ widths: [784, 64, 10], gridSize: 5, seed: 1 })],
      ['MLP [784,639,10] tanh', new MLP({ widths: [784, 639, 10], activation: 'tanh', seed: 1 })],
    ];
    for (const [name, model] of models)
      for (const B of [1, 4, 200]) {  // 200: above the kept-output limit (new arrays per call)
        const xa = rng.f32(B * 784, -1, 1), xb = rng.f32(B * 784, -1, 1);
        const want = [await model.forwardAsync(xa), await model.forwardAsync(xb)];
        for (let round = 0; round < 2; round++)
          [xa, xb].forEach((x, q) => expect(R.bitwiseEqual(model.forward(x), want[q]), `${name} B=${B} round ${round}`).toBe(true));
      }
  });
});

describe('KAN forward: locality contract', () => {
  /** Rows m of input i that may be non-zero at x: the span s (t_s <= x < t_{s+1}) gives s-k..s. */
  function activeRows(t: ArrayLike<number>, x: number, k: number, NB: number): Set<number> {
    const NK = t.length;
    const out = new Set<number>();
    if (!(x >= t[0] && x < t[NK - 1])) return out;
    let s = 0;
    for (let m = 0; m < NK - 1; m++) if (t[m] <= x) s = m;
    for (let m = s - k; m <= s; m++) if (m >= 0 && m < NB) out.add(m);
    return out;
  }

  it('changing coef rows outside the k+1 active rows of a sample leaves its output bitwise unchanged', () => {
    const rng = new R.TestRng(31);
    let checked = 0, changedActive = 0;
    for (const k of [1, 2, 3, 5]) {
      for (const G of [3, 10, 200]) {
        for (const gk of ['uniform', 'adapted', 'repeated'] as GridKind[]) {
          const I = 3, O = 19, NB = G + k, NK = G + 2 * k + 1;
          const base = BASES[(k + G) % 3];
          const c: Case = { I, O, G, k, base, grid: gridOf(gk, rng, I, G, k, -1, 1), coef: rng.f32(I * NB * O), wb: rng.f32(I * O), ws: rng.f32(I * O), mask: makeMask(rng, I * O, 'ones') };
          const xs: number[][] = [];
          for (let r = 0; r < 6; r++) xs.push([0, 1, 2].map((i) => rng.range(c.grid[i * NK], c.grid[i * NK + NK - 1])));
          xs.push([0, 1, 2].map((i) => c.grid[i * NK + 1 + ((i * 7) % (NK - 2))]));  // on knots
          xs.push([0, 1, 2].map((i) => R.f32next(c.grid[i * NK + NK - 1], -1)));                  // last span
          xs.push([0, 1, 2].map((i) => R.f32next(c.grid[i * NK], 1)));                             // first span
          xs.push([0, 1, 2].map((i) => c.grid[i * NK + NK - 1] + 0.25));                            // outside
          for (const xv of xs) {
            const x = Float32Array.from(xv);
            const y0 = nativeForward(c, x, 1);
            const coef2 = c.coef.slice();
            for (let i = 0; i < I; i++) {
              const act = activeRows(c.grid.subarray(i * NK, (i + 1) * NK), x[i], k, NB);
              for (let m = 0; m < NB; m++)
                if (!act.has(m)) for (let o = 0; o < O; o++) coef2[(i * NB + m) * O + o] = rng.range(-1e6, 1e6);
            }
            const y1 = nativeForward({ ...c, coef: coef2 }, x, 1);
            expect(R.bitwiseEqual(y0, y1), `k=${k} G=${G} ${gk} x=${xv}`).toBe(true);
            checked++;
            // and the active rows do matter: bump every active row where the basis is not 0
            const coef3 = c.coef.slice();
            let anyNonZero = false;
            for (let i = 0; i < I; i++) {
              const basis = R.bsplineBasisAll(x[i], c.grid.subarray(i * NK, (i + 1) * NK), k);
              for (let m = 0; m < NB; m++)
                if (basis[m] > 1e-3) {
                  anyNonZero = true;
                  expect(activeRows(c.grid.subarray(i * NK, (i + 1) * NK), x[i], k, NB).has(m)).toBe(true);
                  for (let o = 0; o < O; o++) coef3[(i * NB + m) * O + o] += 0.5;
                }
            }
            if (anyNonZero) {
              const y3 = nativeForward({ ...c, coef: coef3 }, x, 1);
              expect(R.maxAbsDiff(y3, y0)).toBeGreaterThan(1e-4);
              changedActive++;
            }
          }
        }
      }
    }
    console.log(`[kan-forward] locality: ${checked} samples bitwise unchanged, ${changedActive} changed by their active rows`);
    expect(changedActive).toBeGreaterThan(100);
  });

  it('non-finite values in coef rows that are not active do not leak into y, dx, dwb, dws (strict locality, every SIMD path)', () => {
    // The spline is 0 outside [t_0, t_{NK-1}) and only rows s-k..s can contribute; a kernel that
    // multiplies a 0 weight by a row it should not touch turns Inf/NaN there into NaN here.
    const failures: string[] = [];
    const before = simd();
    try {
      for (const path of simdAvailable()) {
        setSimd(path);
        const rng = new R.TestRng(41);
        for (const k of [1, 3]) {
          const I = 1, O = 21, G = 12, NB = G + k, NK = G + 2 * k + 1;
          const grid = R.uniformGrid(I, G, k, -1, 1);
          const c: Case = { I, O, G, k, base: 'identity', grid, coef: rng.f32(I * NB * O), wb: rng.f32(I * O), ws: rng.f32(I * O), mask: makeMask(rng, I * O, 'ones') };
          const probes: [string, number][] = [
            ['outside right', grid[NK - 1] + 0.5], ['outside left', grid[0] - 0.5],
            ['last span', R.f32next(grid[NK - 1], -1)], ['middle', 0.05],
          ];
          // B = 1: the raw-row kernels; B = 64: the folded-row forward and the sorted backward
          for (const [name, xv] of probes) for (const B of [1, 64]) {
            const x = new Float32Array(B).fill(xv);
            const act = activeRows(grid, xv, k, NB);
            for (const poison of [Number.NaN, Number.POSITIVE_INFINITY]) {
              const coef2 = c.coef.slice();
              for (let m = 0; m < NB; m++) if (!act.has(m)) for (let o = 0; o < O; o++) coef2[m * O + o] = poison;
              const y = nativeForward({ ...c, coef: coef2 }, x, B);
              const r = refForward(c, x, B);
              const err = R.scaledErr(y, r);
              if (!(err <= TOL)) failures.push(`${path} forward B=${B}: k=${k} ${name} (x=${xv}) non-active rows=${poison}: y[0..2]=${Array.from(y.subarray(0, 3))} ref ${Array.from(r.subarray(0, 3)).map((v) => v.toFixed(4))}`);
              // backward: dx, dwb, dws must not depend on rows that are not active either
              const grads = (cf: Float32Array) => {
                const g = { dx: new Float32Array(B), dcoef: new Float32Array(NB * O), dwb: new Float32Array(O), dws: new Float32Array(O) };
                native.kanBackward(g.dx, g.dcoef, g.dwb, g.dws, new Float32Array(B * O).fill(1), x, grid, cf, c.wb, c.ws, c.mask, B, I, O, G, k, BASE_CODE[c.base]);
                return g;
              };
              const gp = grads(coef2), gc = grads(c.coef);
              for (const key of ['dx', 'dwb', 'dws'] as const)
                if (!(R.scaledErr(gp[key], gc[key]) <= TOL)) failures.push(`${path} backward B=${B}: k=${k} ${name} (x=${xv}) non-active rows=${poison}: ${key}[0]=${gp[key][0]} (clean coef: ${gc[key][0]})`);
            }
          }
        }
      }
    } finally {
      setSimd(before);
    }
    if (failures.length) console.log('[kan-forward] strict-locality failures:\n  ' + failures.join('\n  '));
    expect(failures).toEqual([]);
  });
});
