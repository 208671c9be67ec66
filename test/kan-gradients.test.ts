// kan-gradients.test.ts — native backward passes (KAN layer, dense layer, losses, whole models)
// against central differences of the float64 reference (test/reference.ts). The finite
// differences are taken on the float64 reference with h = 1e-6, never on the float32 kernels.
import { afterAll, describe, expect, it } from 'vitest';
import { KAN } from '../lib/kan.js';
import { MLP } from '../lib/mlp.js';
import { native } from '../lib/native.js';
import * as R from './reference.js';

const BASE_CODE: Record<R.BaseName, number> = { zero: 0, identity: 1, silu: 2 };  // kernels.h enum Base
const ACT_CODE: Record<R.ActName, number> = { identity: 0, relu: 1, silu: 2, tanh: 3 };  // kernels.h enum Act
const BASES: R.BaseName[] = ['silu', 'identity', 'zero'];
const ACTS: R.ActName[] = ['identity', 'relu', 'silu', 'tanh'];
const H = 1e-6;
const REL = 1e-3;

/**
 * Error of a native gradient against a finite-difference one: max over entries of
 * |a - r| / (|r| + floor), floor = 1e-3 * max(1, max|r|) (relative 1e-3 with a small absolute floor).
 */
function gradErr(a: ArrayLike<number>, r: ArrayLike<number>, idx?: number[]): number {
  const ids = idx ?? Array.from({ length: r.length }, (_, q) => q);
  let scale = 1;
  for (const q of ids) scale = Math.max(scale, Math.abs(r[q]));
  const floor = 1e-3 * scale;
  let e = 0;
  for (const q of ids) {
    const d = Math.abs(a[q] - r[q]);
    e = Math.max(e, Number.isNaN(d) ? Infinity : d / (Math.abs(r[q]) + floor));
  }
  return e;
}

const maxErr = new Map<string, number>();
const note = (key: string, v: number) => maxErr.set(key, Math.max(maxErr.get(key) ?? 0, v));
afterAll(() => {
  console.log('[kan-gradients] max error (|a-r| / (|r| + 1e-3*max(1,max|r|))) per area:\n  ' +
    [...maxErr].map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n  '));
});

// ---------------------------------------------------------------------------------------------
// KAN layer

interface Layer {
  I: number; O: number; G: number; k: number; base: R.BaseName;
  grid: Float32Array; coef: Float32Array; wb: Float32Array; ws: Float32Array; mask: Float32Array;
}

function randomMask(rng: R.TestRng, n: number): Float32Array {
  const m = new Float32Array(n);
  for (let q = 0; q < n; q++) m[q] = rng.next() < 0.25 ? 0 : rng.range(-1.2, 1.8);
  if (n > 2) m[n - 1] = 0;  // a pruned edge
  m[0] = 1.3;               // and at least one live one
  return m;
}

/** Inputs at distance >= 1e-4 from every knot of their row (the spline derivative may jump there). */
function inputsAwayFromKnots(rng: R.TestRng, L: Layer, B: number): Float32Array {
  const NK = L.G + 2 * L.k + 1;
  const x = new Float32Array(B * L.I);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < L.I; i++) {
      const t0 = L.grid[i * NK], tl = L.grid[i * NK + NK - 1], span = tl - t0;
      for (;;) {
        // mostly inside, some outside on both sides
        const v = Math.fround(b % 5 === 4 ? (rng.next() < 0.5 ? t0 - rng.range(0.01, 0.5) * span : tl + rng.range(0.01, 0.5) * span)
          : rng.range(t0, tl));
        let near = false;
        for (let m = 0; m < NK; m++) if (Math.abs(v - L.grid[i * NK + m]) < 1e-4) near = true;
        if (!near) { x[b * L.I + i] = v; break; }
      }
    }
  return x;
}

interface LayerGrads { dx: Float32Array; dcoef: Float32Array; dwb: Float32Array; dws: Float32Array; }

function nativeBackward(L: Layer, x: Float32Array, dy: Float32Array, B: number, init?: LayerGrads, withDx = true): LayerGrads {
  const NB = L.G + L.k;
  const g: LayerGrads = init ?? {
    dx: new Float32Array(B * L.I), dcoef: new Float32Array(L.I * NB * L.O), dwb: new Float32Array(L.I * L.O), dws: new Float32Array(L.I * L.O),
  };
  native.kanBackward(withDx ? g.dx : null, g.dcoef, g.dwb, g.dws, dy, x, L.grid, L.coef, L.wb, L.ws, L.mask, B, L.I, L.O, L.G, L.k, BASE_CODE[L.base]);
  return g;
}

/** Finite-difference gradients of sum(dy * y) on the float64 reference, for the listed coef entries. */
function fdLayer(L: Layer, x: Float32Array, dy: Float32Array, B: number, coefIdx: number[]) {
  const X = Float64Array.from(x), C = Float64Array.from(L.coef), WB = Float64Array.from(L.wb), WS = Float64Array.from(L.ws);
  const f = () => {
    const y = R.kanLayerRef(X, B, L.I, L.O, L.G, L.k, L.grid, C, WB, WS, L.mask, L.base);
    let s = 0;
    for (let q = 0; q < y.length; q++) s += dy[q] * y[q];
    return s;
  };
  const dx = new Float64Array(X.length), dcoef = new Float64Array(C.length), dwb = new Float64Array(WB.length), dws = new Float64Array(WS.length);
  for (let q = 0; q < X.length; q++) dx[q] = R.centralDiff(f, X, q, H);
  for (const q of coefIdx) dcoef[q] = R.centralDiff(f, C, q, H);
  for (let q = 0; q < WB.length; q++) dwb[q] = R.centralDiff(f, WB, q, H);
  for (let q = 0; q < WS.length; q++) dws[q] = R.centralDiff(f, WS, q, H);
  return { dx, dcoef, dwb, dws };
}

/** The coef entries that may get a gradient: rows s-k..s of each sample's span, widened by one row. */
function coefWindow(L: Layer, x: Float32Array, B: number): Set<number> {
  const NB = L.G + L.k, NK = L.G + 2 * L.k + 1;
  const set = new Set<number>();
  for (let b = 0; b < B; b++)
    for (let i = 0; i < L.I; i++) {
      const v = x[b * L.I + i];
      if (!(v >= L.grid[i * NK] && v < L.grid[i * NK + NK - 1])) continue;
      let s = 0;
      for (let m = 0; m < NK - 1; m++) if (L.grid[i * NK + m] <= v) s = m;
      for (let m = s - L.k - 1; m <= s + 1; m++)
        if (m >= 0 && m < NB) for (let o = 0; o < L.O; o++) set.add((i * NB + m) * L.O + o);
    }
  return set;
}

/** All coef entries when few; else up to 160 entries of the active window plus 40 random ones. */
function coefIndices(rng: R.TestRng, L: Layer, window: Set<number>): number[] {
  const n = L.I * (L.G + L.k) * L.O;
  if (n <= 400) return Array.from({ length: n }, (_, q) => q);
  const win = [...window];
  const set = new Set<number>();
  if (win.length <= 160) win.forEach((q) => set.add(q));
  else for (let r = 0; r < 160; r++) set.add(win[rng.int(win.length)]);
  for (let r = 0; r < 40; r++) set.add(rng.int(n));
  return [...set].sort((p, q) => p - q);
}

function makeLayer(rng: R.TestRng, I: number, O: number, G: number, k: number, base: R.BaseName, gridKind: 'uniform' | 'adapted' | 'repeated'): Layer {
  const NB = G + k, h = 2 / G;
  const grid = gridKind === 'uniform' ? R.uniformGrid(I, G, k, -1, 1) : R.adaptedGrid(rng, I, G, k, -1 - k * h, h, gridKind === 'repeated' ? 2 : 0);
  return { I, O, G, k, base, grid, coef: rng.f32(I * NB * O), wb: rng.f32(I * O), ws: rng.f32(I * O), mask: randomMask(rng, I * O) };
}

describe('KAN layer backward vs finite differences of the reference', () => {
  const GRID_KINDS = ['uniform', 'adapted', 'repeated'] as const;
  let n = 0;
  for (const k of [1, 2, 3, 5]) {
    for (const G of [1, 4, 12, 200]) {
      it(`k=${k} G=${G}: dx, dcoef, dwb, dws for every base and grid kind`, () => {
        const rng = new R.TestRng(500 + 17 * k + G);
        for (const base of BASES) {
          const gk = GRID_KINDS[n % 3];
          const I = 2 + (n % 2), O = [1, 3, 5, 17][n % 4], B = 7;
          n++;
          const L = makeLayer(rng, I, O, G, k, base, gk);
          const x = inputsAwayFromKnots(rng, L, B);
          const dy = rng.f32(B * O);
          const g = nativeBackward(L, x, dy, B);
          const window = coefWindow(L, x, B);
          const idx = coefIndices(rng, L, window);
          const fd = fdLayer(L, x, dy, B, idx);
          const msg = `k=${k} G=${G} base=${base} grid=${gk} I=${I} O=${O}`;
          const e = { dx: gradErr(g.dx, fd.dx), dcoef: gradErr(g.dcoef, fd.dcoef, idx), dwb: gradErr(g.dwb, fd.dwb), dws: gradErr(g.dws, fd.dws) };
          for (const [name, v] of Object.entries(e)) {
            note(`kan ${name}`, v);
            note(`kan k=${k}`, v);
            expect(v, `${msg} ${name}`).toBeLessThanOrEqual(REL);
          }
          // non-trivial: the spline gradient reached the coefficients; entries outside every
          // sample's active rows must be exactly 0 (locality of the backward pass)
          expect(R.maxAbs(g.dcoef)).toBeGreaterThan(1e-3);
          for (let q = 0; q < g.dcoef.length; q++) if (!window.has(q)) expect(g.dcoef[q], `${msg} dcoef[${q}] outside the active window`).toBe(0);
          if (base !== 'zero') expect(R.maxAbs(g.dwb)).toBeGreaterThan(1e-3);
          else expect(R.maxAbs(g.dwb)).toBe(0);
        }
      });
    }
  }

  it('parameter gradients (dcoef, dwb, dws) with inputs exactly on knots and on the range ends', () => {
    // sum(dy*y) is linear in coef/wb/ws, so these are well defined at knots (unlike dx for k=1).
    const rng = new R.TestRng(66);
    let worst = 0;
    for (const k of [1, 2, 3, 5]) {
      for (const gk of ['uniform', 'repeated'] as const) {
        const G = 5, I = 2, O = 3, NK = G + 2 * k + 1;
        const L = makeLayer(rng, I, O, G, k, 'silu', gk);
        const rows: number[][] = [];
        for (let m = 0; m < NK; m++) rows.push([L.grid[m], L.grid[NK + ((m + 3) % NK)]]);
        rows.push([R.f32next(L.grid[NK - 1], -1), R.f32next(L.grid[NK + NK - 1], 1)]);
        rows.push([-1, 1]);
        const B = rows.length;
        const x = Float32Array.from(rows.flat());
        const dy = rng.f32(B * O);
        const g = nativeBackward(L, x, dy, B);
        const idx = Array.from({ length: g.dcoef.length }, (_, q) => q);
        const fd = fdLayer(L, x, dy, B, idx);
        const e = Math.max(gradErr(g.dcoef, fd.dcoef), gradErr(g.dwb, fd.dwb), gradErr(g.dws, fd.dws));
        worst = Math.max(worst, e);
        expect(e, `k=${k} ${gk}`).toBeLessThanOrEqual(REL);
      }
    }
    note('kan params, inputs on knots/ends', worst);
  });

  it('samples in both grid extensions, O a multiple of every vector width, gradients added to earlier ones: every SIMD path and thread count as the scalar path', () => {
    // Pass 2 on sorted runs with whole tiles sends each row leaving its window straight into
    // dcoef; spans in the right extension reach rows NB..NB+k-1 (absent functions, padding) and
    // those must go nowhere — written, they land in the next input's rows (or past the array).
    const rng = new R.TestRng(91);
    const I = 4, O = 64, G = 5, k = 3, B = 96, NB = G + k, NK = G + 2 * k + 1;
    const L = makeLayer(rng, I, O, G, k, 'silu', 'uniform');
    const x = new Float32Array(B * I);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < I; i++) {
        const t = (m: number) => L.grid[i * NK + m];
        const r = b % 4;  // right extension, left extension, inside, outside
        x[b * I + i] = Math.fround(r === 0 ? rng.range(t(G + k), t(NK - 1)) : r === 1 ? rng.range(t(0), t(k)) : r === 2 ? rng.range(t(k), t(G + k)) : t(NK - 1) + 0.5);
      }
    const dy = rng.f32(B * O);
    const start = { dx: rng.f32(B * I), dcoef: rng.f32(I * NB * O), dwb: rng.f32(I * O), dws: rng.f32(I * O) };
    const copy = (g: LayerGrads) => ({ dx: g.dx.slice(), dcoef: g.dcoef.slice(), dwb: g.dwb.slice(), dws: g.dws.slice() });
    const path0 = native.simd(), threads0 = native.getNumThreads();
    try {
      native.setSimd('scalar');
      const want = { dx: nativeBackward(L, x, dy, B, copy(start)), nodx: nativeBackward(L, x, dy, B, copy(start), false) };
      for (const path of native.simdAvailable().filter((p) => p !== 'scalar')) {
        native.setSimd(path);
        for (const th of [1, 2, 3]) {
          native.setNumThreads(th);
          for (const withDx of [true, false]) {
            const got = nativeBackward(L, x, dy, B, copy(start), withDx), ref = withDx ? want.dx : want.nodx;
            for (const name of ['dcoef', 'dwb', 'dws', ...(withDx ? ['dx'] : [])] as const) {
              // against the array's scale: sums in another order differ by rounding (1e-7 of
              // it), a row sent to the wrong place by a whole gradient entry
              let d = 0;
              for (let q = 0; q < ref[name].length; q++) d = Math.max(d, Math.abs(got[name][q] - ref[name][q]));
              expect(d / R.maxAbs(ref[name]), `${path} ${th} threads ${withDx ? 'with' : 'without'} dx: ${name}`).toBeLessThanOrEqual(1e-5);
            }
          }
        }
      }
    } finally {
      native.setSimd(path0);
      native.setNumThreads(threads0);
    }
  });

  it('overwrite mode with samples in the right grid extension writes nothing outside the gradient arrays', () => {
    // Spans in the right extension reach rows NB..NB+k-1, which belong to no function; with the
    // last input's rows at the end of dcoef, a row sent there lands past the array. Guards of a
    // sentinel on both sides of every gradient array, each path, with and without dx.
    const rng = new R.TestRng(93);
    const I = 2, O = 64, G = 5, k = 3, B = 96, NB = G + k, NK = G + 2 * k + 1, GUARD = 256, SENT = 7.25;
    const L = makeLayer(rng, I, O, G, k, 'silu', 'uniform');
    const x = new Float32Array(B * I);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < I; i++) {
        const t = (m: number) => L.grid[i * NK + m];
        x[b * I + i] = Math.fround(b % 3 === 0 ? rng.range(t(G + k), t(NK - 1)) : b % 3 === 1 ? rng.range(t(0), t(k)) : rng.range(t(k), t(G + k)));
      }
    const dy = rng.f32(B * O);
    const guarded = (n: number) => {
      const buf = new Float32Array(n + 2 * GUARD).fill(SENT);
      return { buf, view: buf.subarray(GUARD, GUARD + n) };
    };
    const path0 = native.simd(), threads0 = native.getNumThreads();
    try {
      native.setNumThreads(1);
      for (const path of native.simdAvailable()) {
        native.setSimd(path);
        for (const withDx of [true, false]) {
          const g = { dcoef: guarded(I * NB * O), dwb: guarded(I * O), dws: guarded(I * O) };
          native.kanBackward(withDx ? new Float32Array(B * I) : null, g.dcoef.view, g.dwb.view, g.dws.view, dy, x, L.grid, L.coef, L.wb, L.ws, L.mask,
            B, I, O, G, k, BASE_CODE[L.base], false, true);
          for (const [name, { buf }] of Object.entries(g)) {
            const n = buf.length - 2 * GUARD;
            let bad = 0;
            for (let q = 0; q < GUARD; q++) bad += (buf[q] !== SENT ? 1 : 0) + (buf[GUARD + n + q] !== SENT ? 1 : 0);
            expect(bad, `${path} ${withDx ? 'with' : 'without'} dx: ${name}'s guards`).toBe(0);
          }
          const want = nativeBackward(L, x, dy, B, undefined, withDx);
          expect(R.maxAbsDiff(g.dcoef.view, want.dcoef) / R.maxAbs(want.dcoef), `${path} dcoef`).toBeLessThanOrEqual(1e-5);
        }
      }
    } finally {
      native.setSimd(path0);
      native.setNumThreads(threads0);
    }
  });

  it('large batches (several backward sample chunks): B = 600, every gradient', () => {
    const rng = new R.TestRng(88);
    let worst = 0;
    for (const [k, O, base] of [[3, 3, 'silu'], [1, 17, 'identity'], [5, 2, 'zero']] as const) {
      const G = 5, I = 2, B = 600;
      const L = makeLayer(rng, I, O, G, k, base, 'adapted');
      const x = inputsAwayFromKnots(rng, L, B);
      const dy = rng.f32(B * O);
      const g = nativeBackward(L, x, dy, B);
      // parameters: full-batch finite differences; dx: per sample (row b of y depends on row b of x only)
      const C = Float64Array.from(L.coef), WB = Float64Array.from(L.wb), WS = Float64Array.from(L.ws);
      const loss = (X: ArrayLike<number>, nb: number, dyv: ArrayLike<number>) => {
        const y = R.kanLayerRef(X, nb, I, O, G, k, L.grid, C, WB, WS, L.mask, base);
        let s = 0;
        for (let q = 0; q < y.length; q++) s += dyv[q] * y[q];
        return s;
      };
      const full = () => loss(x, B, dy);
      const dcoef = Float64Array.from(C, (_, q) => R.centralDiff(full, C, q, H));
      const dwb = Float64Array.from(WB, (_, q) => R.centralDiff(full, WB, q, H));
      const dws = Float64Array.from(WS, (_, q) => R.centralDiff(full, WS, q, H));
      const dx = new Float64Array(B * I);
      for (let b = 0; b < B; b++) {
        const xb = Float64Array.from(x.subarray(b * I, (b + 1) * I)), dyb = dy.subarray(b * O, (b + 1) * O);
        for (let i = 0; i < I; i++) dx[b * I + i] = R.centralDiff(() => loss(xb, 1, dyb), xb, i, H);
      }
      const e = Math.max(gradErr(g.dcoef, dcoef), gradErr(g.dwb, dwb), gradErr(g.dws, dws), gradErr(g.dx, dx));
      worst = Math.max(worst, e);
      expect(e, `k=${k} O=${O} base=${base} B=${B}`).toBeLessThanOrEqual(REL);
    }
    note('kan B=600 (several chunks)', worst);
  });

  it('gradients accumulate (+=) over two calls; dx = null gives the same parameter gradients', async () => {
    const rng = new R.TestRng(77);
    let accErr = 0;
    for (const [k, G, O] of [[1, 5, 3], [3, 7, 17], [5, 30, 40]] as const) {
      const L = makeLayer(rng, 4, O, G, k, 'silu', 'adapted');
      // one backward chunk with dx or without, and each shape on the same route either way (dx = null
      // takes 1024-sample chunks for batches past 512, and the mid-width form only to O <= VW/2;
      // with dx, 512 and to 3·VW/4): the same parameter gradients, bit for bit
      const B = 300;
      const x = inputsAwayFromKnots(rng, L, B);
      const dy = rng.f32(B * O);
      const once = nativeBackward(L, x, dy, B);
      const start: LayerGrads = { dx: rng.f32(once.dx.length), dcoef: rng.f32(once.dcoef.length), dwb: rng.f32(once.dwb.length), dws: rng.f32(once.dws.length) };
      const acc: LayerGrads = { dx: start.dx.slice(), dcoef: start.dcoef.slice(), dwb: start.dwb.slice(), dws: start.dws.slice() };
      nativeBackward(L, x, dy, B, acc);
      await native.kanBackward(acc.dx, acc.dcoef, acc.dwb, acc.dws, dy, x, L.grid, L.coef, L.wb, L.ws, L.mask, B, L.I, L.O, L.G, L.k, BASE_CODE[L.base], true);
      for (const key of ['dx', 'dcoef', 'dwb', 'dws'] as const) {
        const want = Float64Array.from(start[key], (v, q) => v + 2 * once[key][q]);
        const e = R.maxAbsDiff(acc[key], want) / Math.max(1, R.maxAbs(want));
        accErr = Math.max(accErr, e);
        expect(e, `k=${k} ${key} = start + 2 * one call`).toBeLessThanOrEqual(1e-5);
        expect(R.maxAbs(once[key]), `${key} is not trivially 0`).toBeGreaterThan(1e-3);
      }
      const noDx = nativeBackward(L, x, dy, B, undefined, false);
      expect(R.maxAbs(noDx.dx)).toBe(0);
      for (const key of ['dcoef', 'dwb', 'dws'] as const) expect(R.bitwiseEqual(noDx[key], once[key]), `dx=null ${key}`).toBe(true);
    }
    note('kan accumulate (+=) vs start + 2*once', accErr);
  });
});

// ---------------------------------------------------------------------------------------------
// Whole KAN model

function refModelOf(model: KAN, data64: Float64Array): R.RefKan {
  const off = (a: Float32Array) => (a.byteOffset - model.data.byteOffset) / 4;
  const view = (a: Float32Array) => data64.subarray(off(a), off(a) + a.length);
  return {
    base: model.cfg.base,
    layers: model.layers.map((L) => ({ I: L.inDim, O: L.outDim, G: L.gridSize, k: L.splineOrder, grid: view(L.grid), coef: view(L.coef), wb: view(L.wb), ws: view(L.ws), mask: view(L.mask) })),
  };
}

describe('whole models: forwardTrain + backward vs finite differences of the reference, MSE loss', () => {
  for (const [k, base] of [[3, 'silu'], [2, 'identity'], [3, 'zero']] as const) {
    it(`KAN [2,3,2] k=${k} base=${base}: every parameter`, () => {
      const rng = new R.TestRng(900 + k);
      const model = new KAN({ widths: [2, 3, 2], gridSize: 5, splineOrder: k, base, seed: 3 });
      for (const L of model.layers) {
        L.coef.set(rng.f32(L.coef.length, -0.8, 0.8));
        L.wb.set(rng.f32(L.wb.length, -0.8, 0.8));
        L.ws.set(rng.f32(L.ws.length, 0.3, 1.2));
      }
      model.layers[1].mask.set(randomMask(rng, model.layers[1].mask.length));
      const B = 9;
      const x = rng.f32(B * 2, -1.1, 1.1);
      const target = rng.f32(B * 2, -1, 1);
      const pred = model.forwardTrain(x, B);
      const dpred = new Float32Array(pred.length);
      const loss = native.mseLoss(dpred, pred, target, pred.length);
      model.zeroGrad();
      model.backward(dpred);
      const grads = model.grads.slice();

      const data64 = Float64Array.from(model.data);
      const ref = refModelOf(model, data64);
      const f = () => R.mseRef(R.kanRef(ref, x, B), target);
      expect(Math.abs(loss - f()) / Math.max(1e-3, f())).toBeLessThan(1e-5);
      const fd = new Float64Array(model.numParams);
      for (let q = 0; q < model.numParams; q++) fd[q] = R.centralDiff(f, data64, q, H);
      const e = gradErr(grads, fd);
      note('KAN [2,3,2] model params (MSE)', e);
      console.log(`[kan-gradients] KAN [2,3,2] k=${k} ${base}: ${model.numParams} params, loss ${loss.toFixed(5)}, max grad error ${e.toExponential(2)}`);
      expect(R.maxAbs(fd)).toBeGreaterThan(1e-2);
      expect(e).toBeLessThanOrEqual(REL);
      // per group: every group really received a gradient
      for (const g of model.groups) {
        const m = R.maxAbs(grads.subarray(g.offset, g.offset + g.length));
        if (base === 'zero' && g.name === 'wb') expect(m, 'base zero: wb gets no gradient').toBe(0);
        else expect(m, `group ${g.name}`).toBeGreaterThan(1e-4);
      }
    });
  }

  for (const act of ACTS) {
    it(`MLP [3,6,5,2] activation=${act}: every parameter (hidden layers activated, last layer linear)`, () => {
      const rng = new R.TestRng(950 + ACTS.indexOf(act));
      const model = new MLP({ widths: [3, 6, 5, 2], activation: act, seed: 4 });
      const B = 8;
      const x = rng.f32(B * 3, -1.5, 1.5);
      const target = rng.f32(B * 2, -1, 1);
      const pred = model.forwardTrain(x, B);
      const dpred = new Float32Array(pred.length);
      native.mseLoss(dpred, pred, target, pred.length);
      model.zeroGrad();
      model.backward(dpred);
      const data64 = Float64Array.from(model.data);
      const off = (a: Float32Array) => (a.byteOffset - model.data.byteOffset) / 4;
      const layers = model.layers.map((L) => ({ I: L.inDim, O: L.outDim, W: data64.subarray(off(L.weight), off(L.weight) + L.weight.length), bias: data64.subarray(off(L.bias), off(L.bias) + L.bias.length) }));
      const f = () => R.mseRef(R.mlpRef(layers, act, x, B), target);
      expect(R.scaledErr(model.forward(x), R.mlpRef(layers, act, x, B))).toBeLessThan(1e-5);
      const fd = new Float64Array(model.numParams);
      for (let q = 0; q < model.numParams; q++) fd[q] = R.centralDiff(f, data64, q, H);
      const e = gradErr(model.grads, fd);
      note(`MLP params (MSE) ${act}`, e);
      expect(R.maxAbs(fd)).toBeGreaterThan(1e-2);
      expect(e).toBeLessThanOrEqual(REL);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Dense layer

describe('dense layer forward/backward vs reference', () => {
  for (const act of ACTS) {
    it(`act=${act}: y, z, dx, dW, dbias (tails, accumulation, dx = null)`, () => {
      const rng = new R.TestRng(1300 + ACTS.indexOf(act));
      for (const [B, I, O] of [[5, 7, 19], [9, 33, 3], [3, 1, 1], [4, 16, 17]] as const) {
        const x = rng.f32(B * I, -2, 2), W = rng.f32(I * O), bias = rng.f32(O);
        const y = new Float32Array(B * O).fill(Number.NaN), z = new Float32Array(B * O).fill(Number.NaN);
        native.denseForward(y, z, x, W, bias, B, I, O, ACT_CODE[act]);
        const ref = R.denseRef(x, W, bias, B, I, O, act);
        const ef = Math.max(R.scaledErr(y, ref.y), R.scaledErr(z, ref.z));
        note(`dense forward ${act}`, ef);
        expect(ef, `forward B=${B} I=${I} O=${O}`).toBeLessThanOrEqual(1e-5);
        const yOnly = new Float32Array(B * O);
        native.denseForward(yOnly, null, x, W, bias, B, I, O, ACT_CODE[act]);
        expect(R.bitwiseEqual(yOnly, y), 'z = null gives the same y').toBe(true);

        const dy = rng.f32(B * O);
        const dx = new Float32Array(B * I), dW = new Float32Array(I * O), db = new Float32Array(O);
        native.denseBackward(dx, dW, db, dy, x, z, W, B, I, O, ACT_CODE[act]);
        const X = Float64Array.from(x), W64 = Float64Array.from(W), b64 = Float64Array.from(bias);
        const f = () => {
          const yy = R.denseRef(X, W64, b64, B, I, O, act).y;
          let s = 0;
          for (let q = 0; q < yy.length; q++) s += dy[q] * yy[q];
          return s;
        };
        const fdx = Float64Array.from(X, (_, q) => R.centralDiff(f, X, q, H));
        const fdW = Float64Array.from(W64, (_, q) => R.centralDiff(f, W64, q, H));
        const fdb = Float64Array.from(b64, (_, q) => R.centralDiff(f, b64, q, H));
        const nearKink = act === 'relu' && Array.from(ref.z).some((v) => Math.abs(v) < 1e-4);
        if (nearKink) continue;  // a central difference straddling relu's kink is meaningless
        const e = { dx: gradErr(dx, fdx), dW: gradErr(dW, fdW), dbias: gradErr(db, fdb) };
        for (const [name, v] of Object.entries(e)) {
          note(`dense ${name} ${act}`, v);
          expect(v, `act=${act} B=${B} I=${I} O=${O} ${name}`).toBeLessThanOrEqual(REL);
        }
        expect(R.maxAbs(dW)).toBeGreaterThan(1e-3);
        // accumulation and dx = null
        const dx2 = dx.slice(), dW2 = dW.slice(), db2 = db.slice();
        native.denseBackward(dx2, dW2, db2, dy, x, z, W, B, I, O, ACT_CODE[act]);
        const accE = Math.max(
          R.maxAbsDiff(dx2, Float64Array.from(dx, (v) => 2 * v)), R.maxAbsDiff(dW2, Float64Array.from(dW, (v) => 2 * v)),
          R.maxAbsDiff(db2, Float64Array.from(db, (v) => 2 * v))) / Math.max(1, R.maxAbs(dW2), R.maxAbs(dx2), R.maxAbs(db2));
        expect(accE, 'dense gradients accumulate').toBeLessThanOrEqual(1e-6);
        const dW3 = new Float32Array(I * O), db3 = new Float32Array(O);
        native.denseBackward(null, dW3, db3, dy, x, z, W, B, I, O, ACT_CODE[act]);
        expect(R.bitwiseEqual(dW3, dW) && R.bitwiseEqual(db3, db), 'dx = null').toBe(true);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Losses

describe('losses: values and gradients', () => {
  it('mseLoss: value = mean (p-t)^2 and dpred vs finite differences', () => {
    const rng = new R.TestRng(1400);
    for (const n of [1, 7, 37, 1000]) {
      const pred = rng.f32(n, -3, 3), target = rng.f32(n, -3, 3);
      const d = new Float32Array(n).fill(Number.NaN);
      const loss = native.mseLoss(d, pred, target, n);
      const ref = R.mseRef(pred, target);
      expect(Math.abs(loss - ref) / ref).toBeLessThan(1e-6);
      expect(native.mseLoss(null, pred, target, n)).toBe(loss);
      const P = Float64Array.from(pred);
      const fd = Float64Array.from(P, (_, q) => R.centralDiff(() => R.mseRef(P, target), P, q, H));
      const e = gradErr(d, fd);
      note('mse dpred', e);
      expect(e, `n=${n}`).toBeLessThanOrEqual(REL);
    }
  });

  it('crossEntropyLoss: value = mean(logsumexp - logit[label]) and dlogits vs finite differences', () => {
    const rng = new R.TestRng(1500);
    for (const [B, C] of [[1, 1], [6, 5], [13, 17], [4, 2]] as const) {
      const logits = rng.f32(B * C, -4, 4);
      const labels = Int32Array.from({ length: B }, () => rng.int(C));
      const d = new Float32Array(B * C).fill(Number.NaN);
      const loss = native.crossEntropyLoss(d, logits, labels, B, C);
      const ref = R.crossEntropyRef(logits, labels, B, C);
      expect(Math.abs(loss - ref)).toBeLessThanOrEqual(1e-6 * Math.max(1, ref));
      expect(native.crossEntropyLoss(null, logits, labels, B, C)).toBe(loss);
      const Lg = Float64Array.from(logits);
      const fd = Float64Array.from(Lg, (_, q) => R.centralDiff(() => R.crossEntropyRef(Lg, labels, B, C), Lg, q, H));
      const e = C === 1 ? R.maxAbsDiff(d, fd) : gradErr(d, fd);
      note('cross-entropy dlogits', e);
      expect(e, `B=${B} C=${C}`).toBeLessThanOrEqual(REL);
    }
  });

  /** Analytic float64 gradient (softmax - onehot) / B with a stable softmax. */
  function ceGrad(logits: Float32Array, labels: Int32Array, B: number, C: number): Float64Array {
    const want = new Float64Array(B * C);
    for (let b = 0; b < B; b++) {
      const l = Array.from(logits.subarray(b * C, (b + 1) * C));
      const mx = Math.max(...l);
      const e = l.map((v) => Math.exp(v - mx));
      const s = e.reduce((p, q) => p + q, 0);
      for (let c = 0; c < C; c++) want[b * C + c] = (e[c] / s - (c === labels[b] ? 1 : 0)) / B;
    }
    return want;
  }

  function ceCheck(rows: number[][], tag: string): { loss: number; grad: number } {
    const C = rows[0].length, B = rows.length;
    const logits = Float32Array.from(rows.flat());
    let lossErr = 0, gradErr_ = 0;
    for (let shift = 0; shift < C; shift++) {
      const labels = Int32Array.from({ length: B }, (_, b) => (b + shift) % C);
      const d = new Float32Array(B * C);
      const loss = native.crossEntropyLoss(d, logits, labels, B, C);
      const ref = R.crossEntropyRef(logits, labels, B, C);
      expect(Number.isFinite(loss), `${tag}: loss ${loss} is finite`).toBe(true);
      expect(d.every(Number.isFinite), `${tag}: dlogits are finite`).toBe(true);
      lossErr = Math.max(lossErr, Math.abs(loss - ref) / Math.max(1, Math.abs(ref)));
      gradErr_ = Math.max(gradErr_, R.maxAbsDiff(d, ceGrad(logits, labels, B, C)));
      // row by row too (a huge row's loss would hide another row's error in the mean)
      for (let b = 0; b < B; b++) {
        const lb = logits.slice(b * C, (b + 1) * C), yb = labels.slice(b, b + 1);
        const lossB = native.crossEntropyLoss(null, lb, yb, 1, C), refB = R.crossEntropyRef(lb, yb, 1, C);
        expect(Number.isFinite(lossB)).toBe(true);
        lossErr = Math.max(lossErr, Math.abs(lossB - refB) / Math.max(1, Math.abs(refB)));
      }
    }
    return { loss: lossErr, grad: gradErr_ };
  }

  it('crossEntropyLoss with large logits (|logit| up to 3e4) stays finite and matches logsumexp in float64', () => {
    const e = ceCheck([[1e4, -1e4, 3e4], [88, 89, 100], [1000, 1000.5, 999], [-2e4, -2e4, -2e4], [500, -500, 0], [-3e4, 2e4, 2e4]], 'large');
    note('cross-entropy large logits: loss (relative)', e.loss);
    note('cross-entropy large logits: |dlogits - analytic|', e.grad);
    expect(e.loss).toBeLessThanOrEqual(1e-6);
    expect(e.grad).toBeLessThanOrEqual(1e-6);
  });

  it('crossEntropyLoss with extreme logits (1e12 .. 3e38, float32-representable) equals the stable float64 value', () => {
    // A stable log-softmax (log(sum exp(l - max)) + (max - l_label); softmax = exp(l - max)/sum)
    // is exact at any magnitude. Computing lse = max + log(sum) first absorbs log(sum) once
    // |max| >> 1/eps_double, e.g. [1e20, 1e20, 0] label 0 must give loss ln 2 and d = [-1/2, 1/2, 0].
    const e = ceCheck([[1e12, 1e12, 0], [1e20, 1e20, 0], [-1e30, -1e30, -1e30], [3e38, 3e38, -3e38], [1e30, -1e30, 0]], 'extreme');
    note('cross-entropy extreme logits: loss (relative)', e.loss);
    note('cross-entropy extreme logits: |dlogits - analytic|', e.grad);
    expect(e.loss).toBeLessThanOrEqual(1e-6);
    expect(e.grad).toBeLessThanOrEqual(1e-6);
  });
});

describe('Model.backward(dy, { accumulate: false }): grads set to the batch gradient', () => {
  const cases = [
    ['KAN [12,9,4] G=7', () => new KAN({ widths: [12, 9, 4], gridSize: 7, seed: 5 })],
    ['KAN [5,3] G=600 (more rows than samples)', () => new KAN({ widths: [5, 3], gridSize: 600, seed: 6 })],
    ['MLP [12,9,4] tanh', () => new MLP({ widths: [12, 9, 4], activation: 'tanh', seed: 7 })],
  ] as const;
  for (const [name, make] of cases) {
    it(`${name}: bitwise zeroGrad() + backward(dy); backward(dy) still adds; twice gives the same`, () => {
      const rng = new R.TestRng(77);
      const model = make();
      const B = 530;  // two backward chunks
      const x = rng.f32(B * model.inputDim, -1.2, 1.2);
      const dy = rng.f32(B * model.outputDim, -1, 1);
      model.forwardTrain(x, B);
      model.zeroGrad();
      model.backward(dy);
      const want = model.grads.slice();
      expect(R.maxAbs(want)).toBeGreaterThan(0);
      model.grads.fill(Number.NaN);
      model.backward(dy, { accumulate: false });
      expect(R.bitwiseEqual(model.grads, want)).toBe(true);
      model.grads.set(rng.f32(model.grads.length, -3, 3));
      model.backward(dy, { accumulate: false });
      expect(R.bitwiseEqual(model.grads, want)).toBe(true);
      model.backward(dy, {});  // default: accumulate
      const twice = want.map((v) => 2 * v);
      expect(R.relErr(model.grads, twice)).toBeLessThan(1e-5);
    });
  }

  it('bad options: TypeError / RangeError naming the option', () => {
    const model = new KAN({ widths: [3, 2], gridSize: 4, seed: 1 });
    const x = new Float32Array(6).fill(0.3);
    model.forwardTrain(x, 2);
    const dy = new Float32Array(4).fill(1);
    expect(() => model.backward(dy, { accumulate: 'no' } as never)).toThrow(TypeError);
    expect(() => model.backward(dy, { accumulate: 'no' } as never)).toThrow(/options\.accumulate/);
    expect(() => model.backward(dy, 5 as never)).toThrow(/options/);
    expect(() => model.backward(dy, { acumulate: false } as never)).toThrow(RangeError);
  });
});
