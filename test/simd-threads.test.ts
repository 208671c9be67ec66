// simd-threads.test.ts — every SIMD path against the scalar reference twin, and determinism
// (same call twice, and 1 vs 2 vs 3 pool threads, bitwise).
import { afterAll, describe, expect, it } from 'vitest';
import { getNumThreads, native, setNumThreads, setSimd, simd, simdAvailable, type SimdPath } from '../lib/native.js';
import * as R from './reference.js';

const AVAIL = simdAvailable();
const DEFAULT_PATH = simd();
const DEFAULT_THREADS = getNumThreads();
// w16: the avx512 path's kernel code at 16 lanes on AVX2 (runs where avx512 cannot)
const SIMD_PATHS: SimdPath[] = ['avx512', 'avx2', 'baseline', 'w16'];

const lines: string[] = [];
afterAll(() => {
  setSimd(DEFAULT_PATH);
  setNumThreads(DEFAULT_THREADS);
  console.log(`[simd-threads] available: ${AVAIL.join(', ')}; default ${DEFAULT_PATH}, ${DEFAULT_THREADS} threads\n  ` + lines.join('\n  '));
});

// ---------------------------------------------------------------------------------------------
// Fixed workloads (data generated once; every run gets fresh output buffers)

interface KanCfg { name: string; I: number; O: number; G: number; k: number; B: number; base: number; grid: Float32Array; coef: Float32Array; wb: Float32Array; ws: Float32Array; mask: Float32Array; x: Float32Array; dy: Float32Array; }
interface DenseCfg { name: string; B: number; I: number; O: number; act: number; x: Float32Array; W: Float32Array; bias: Float32Array; dy: Float32Array; }

const rng = new R.TestRng(4242);
const rng0 = rng;
// workloads added later draw from their own generator, so the data of those before them (and of
// the dense workloads after) stays as it was
const rngLate = new R.TestRng(4343);

function kanCfg(name: string, I: number, O: number, G: number, k: number, B: number, base: number, adapted: boolean, maskReal: boolean, rng = rng0): KanCfg {
  const NB = G + k, NK = G + 2 * k + 1, h = 2 / G;
  const grid = adapted ? R.adaptedGrid(rng, I, G, k, -1 - k * h, h, 2) : R.uniformGrid(I, G, k, -1, 1);
  const mask = new Float32Array(I * O);
  for (let q = 0; q < mask.length; q++) mask[q] = maskReal ? (rng.next() < 0.2 ? 0 : rng.range(-1, 2)) : 1;
  const x = new Float32Array(B * I);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < I; i++) {
      const r = rng.next();
      x[b * I + i] = r < 0.1 ? grid[i * NK + rng.int(NK)]             // on a knot
        : r < 0.15 ? grid[i * NK] - rng.range(0.01, 3)                 // left of the grid
          : r < 0.2 ? grid[i * NK + NK - 1] + rng.range(0, 3)          // right of it (incl. the end)
            : rng.range(grid[i * NK], grid[i * NK + NK - 1]);
    }
  return { name, I, O, G, k, B, base, grid, coef: rng.f32(I * NB * O), wb: rng.f32(I * O), ws: rng.f32(I * O), mask, x, dy: rng.f32(B * O) };
}

const KAN_CFGS: KanCfg[] = [
  kanCfg('I=784 O=64 G=5 k=3 B=64 silu', 784, 64, 5, 3, 64, 2, false, false),
  kanCfg('I=7 O=37 G=12 k=2 B=33 identity adapted', 7, 37, 12, 2, 33, 1, true, true),
  kanCfg('I=5 O=3 G=200 k=5 B=130 zero adapted', 5, 3, 200, 5, 130, 0, true, true),
  kanCfg('I=3 O=17 G=3 k=1 B=200 silu', 3, 17, 3, 1, 200, 2, false, true),
  kanCfg('I=16 O=70 G=7 k=4 B=9 silu adapted', 16, 70, 7, 4, 9, 2, true, true),
  kanCfg('I=40 O=1 G=5 k=3 B=300 identity', 40, 1, 5, 3, 300, 1, false, true),
  // backward: input groups with a tail (37 = 16+16+5), every output tile kind (19 = 16+1+2), and
  // both row modes: with dx the first 512-sample chunk takes its 303 rows eagerly, the last 88
  // samples lazily (more rows than samples); without dx (1024-sample chunks past 512 samples)
  // one chunk of 600, eager ...
  kanCfg('I=37 O=19 G=300 k=3 B=600 silu', 37, 19, 300, 3, 600, 2, false, true),
  // ... and a short last chunk after an eager one (with dx 520 = 512 + 8 samples, 8 < 22 rows;
  // without dx one chunk: see the last workload)
  kanCfg('I=21 O=9 G=20 k=2 B=520 silu adapted', 21, 9, 20, 2, 520, 2, true, true),
  // a narrow layer (I < VW: prepass across samples) split over 2 and 3 threads at ranges that
  // are not multiples of VW
  kanCfg('I=5 O=50 G=29 k=2 B=589 silu', 5, 50, 29, 2, 589, 2, false, true),
  // inputs that end in part of a vector (13 = 8 + 5, 45 = 40 + 5 = 32 + 13) on uniform rows: the
  // forward's prepass takes the last ones as one masked vector, in the folded and the raw form
  kanCfg('I=13 O=24 G=6 k=3 B=150 silu', 13, 24, 6, 3, 150, 2, false, true),
  kanCfg('I=45 O=33 G=5 k=2 B=3 silu', 45, 33, 5, 2, 3, 2, false, true),
  // a few samples of a wide layer (the raw-row forward)
  kanCfg('I=784 O=64 G=5 k=3 B=1 silu', 784, 64, 5, 3, 1, 2, false, false),
  // one sample, inputs in two halves (176 + 157) on two threads or one
  kanCfg('I=333 O=90 G=9 k=2 B=1 identity adapted', 333, 90, 9, 2, 1, 1, true, true),
  kanCfg('I=200 O=70 G=7 k=2 B=5 identity adapted', 200, 70, 7, 2, 5, 1, true, true),
  // narrow layers with one or two outputs: samples in the lanes (forward: the basis spread over
  // the rows, or gathered at the span for large G; backward: the spread rows), chunk tails that
  // are not whole vectors (1100 = 512 + 512 + 76, 77), adapted rows (the per-lane basis)
  kanCfg('I=5 O=1 G=5 k=3 B=1100 silu', 5, 1, 5, 3, 1100, 2, false, true),
  kanCfg('I=2 O=2 G=13 k=3 B=77 identity adapted', 2, 2, 13, 3, 77, 1, true, true),
  kanCfg('I=1 O=1 G=200 k=3 B=333 zero', 1, 1, 200, 3, 333, 0, false, false),
  // the backward without dx in 1024-sample chunks (batches past 512): 1032 = 1024 + 8,
  // the last chunk lazy (8 < 22 rows)
  kanCfg('I=21 O=9 G=20 k=2 B=1032 silu adapted', 21, 9, 20, 2, 1032, 2, true, true, rngLate),
  // the forward of a wide folded layer with many rows (NB >= 20) in two fixed halves of its
  // inputs (50 + 51: the second half's x columns start mid-vector), on 1, 2 (a half per thread)
  // and 3 threads (each thread both halves)
  kanCfg('I=101 O=20 G=17 k=3 B=130 silu', 101, 20, 17, 3, 130, 2, false, true, rngLate),
  // the mid-width backward (3 <= O <= 3·VW/4, NB <= 8, dx): a [.., 64, 10] last layer over chunks
  // of 512 + 512 + 76 (a part vector; on AVX2, O = 10 > 6 takes the general path), adapted rows
  // (the per-lane basis), and k = 5 with the fewest outputs
  kanCfg('I=64 O=10 G=5 k=3 B=1100 silu', 64, 10, 5, 3, 1100, 2, false, true, rngLate),
  kanCfg('I=20 O=5 G=6 k=2 B=600 identity adapted', 20, 5, 6, 2, 600, 1, true, true, rngLate),
  kanCfg('I=9 O=3 G=3 k=5 B=77 zero', 9, 3, 3, 5, 77, 0, false, true, rngLate),
];

function denseCfg(name: string, B: number, I: number, O: number, act: number): DenseCfg {
  return { name, B, I, O, act, x: rng.f32(B * I, -2, 2), W: rng.f32(I * O, -0.2, 0.2), bias: rng.f32(O), dy: rng.f32(B * O) };
}
const DENSE_CFGS: DenseCfg[] = [];
for (const act of [0, 1, 2, 3]) {
  DENSE_CFGS.push(denseCfg(`B=64 I=784 O=64 act=${act}`, 64, 784, 64, act));
  DENSE_CFGS.push(denseCfg(`B=13 I=37 O=70 act=${act}`, 13, 37, 70, act));
  DENSE_CFGS.push(denseCfg(`B=5 I=3 O=1 act=${act}`, 5, 3, 1, act));
}

const NOPT = 100_003;  // > 1024-element blocks over 2+ threads, and not a multiple of 16
const OPT = { p: rng.f32(NOPT, -2, 2), grads: [rng.f32(NOPT), rng.f32(NOPT, -3, 3), rng.f32(NOPT, -0.01, 0.01), rng.f32(NOPT)] };

/** Every output of every workload on the current SIMD path and thread count. */
function runAll(): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const c of KAN_CFGS) {
    const NB = c.G + c.k;
    const y = new Float32Array(c.B * c.O).fill(Number.NaN);
    native.kanForward(y, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base);
    const dx = new Float32Array(c.B * c.I), dcoef = new Float32Array(c.I * NB * c.O), dwb = new Float32Array(c.I * c.O), dws = new Float32Array(c.I * c.O);
    native.kanBackward(dx, dcoef, dwb, dws, c.dy, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base);
    out.set(`kan fwd y [${c.name}]`, y);
    out.set(`kan bwd dx [${c.name}]`, dx);
    out.set(`kan bwd dcoef [${c.name}]`, dcoef);
    out.set(`kan bwd dwb [${c.name}]`, dwb);
    out.set(`kan bwd dws [${c.name}]`, dws);
    // without dx (a first layer): the kernels take another route (no pass 1, dwb summed with R)
    const dcoef2 = new Float32Array(c.I * NB * c.O), dwb2 = new Float32Array(c.I * c.O), dws2 = new Float32Array(c.I * c.O);
    native.kanBackward(null, dcoef2, dwb2, dws2, c.dy, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base);
    out.set(`kan bwd (dx null) dcoef [${c.name}]`, dcoef2);
    out.set(`kan bwd (dx null) dwb [${c.name}]`, dwb2);
    out.set(`kan bwd (dx null) dws [${c.name}]`, dws2);
  }
  for (const c of DENSE_CFGS) {
    const y = new Float32Array(c.B * c.O).fill(Number.NaN), z = new Float32Array(c.B * c.O).fill(Number.NaN);
    native.denseForward(y, z, c.x, c.W, c.bias, c.B, c.I, c.O, c.act);
    const dx = new Float32Array(c.B * c.I), dW = new Float32Array(c.I * c.O), db = new Float32Array(c.O);
    native.denseBackward(dx, dW, db, c.dy, c.x, z, c.W, c.B, c.I, c.O, c.act);
    out.set(`dense fwd y [${c.name}]`, y);
    out.set(`dense fwd z [${c.name}]`, z);
    out.set(`dense bwd dx [${c.name}]`, dx);
    out.set(`dense bwd dW [${c.name}]`, dW);
    out.set(`dense bwd dbias [${c.name}]`, db);
  }
  {
    const p = OPT.p.slice(), m = new Float32Array(NOPT), v = new Float32Array(NOPT);
    OPT.grads.forEach((g, s) => native.adamStep(p, m, v, g, NOPT, 0.01, 0.9, 0.999, 1e-8, 0.01, s + 1));
    out.set('adam p', p); out.set('adam m', m); out.set('adam v', v);
    const p2 = OPT.p.slice(), buf = new Float32Array(NOPT);
    OPT.grads.forEach((g) => native.sgdStep(p2, buf, g, NOPT, 0.05, 0.9, 0.001));
    out.set('sgd p', p2); out.set('sgd buf', buf);
    const p3 = OPT.p.slice(), buf3 = new Float32Array(NOPT);
    OPT.grads.forEach((g) => native.sgdStep(p3, buf3, g, NOPT, 0.05, 0, 0));
    out.set('sgd (no momentum) p', p3);
  }
  return out;
}

function withPath<T>(path: SimdPath, threads: number, fn: () => T): T {
  setSimd(path);
  setNumThreads(threads);
  try {
    expect(simd()).toBe(path);
    expect(getNumThreads()).toBe(threads);
    return fn();
  } finally {
    setSimd(DEFAULT_PATH);
    setNumThreads(DEFAULT_THREADS);
  }
}

describe('SIMD paths vs the scalar reference twin', () => {
  it('the CPU-supported list is sane and an unsupported path is refused, not faked', () => {
    expect(AVAIL).toContain('scalar');
    expect(AVAIL).toContain('baseline');
    expect(AVAIL).toContain(DEFAULT_PATH);
    for (const p of SIMD_PATHS) if (!AVAIL.includes(p)) expect(() => setSimd(p)).toThrow(RangeError);
    expect(simd()).toBe(DEFAULT_PATH);
  });

  it('the probes (FMA peak, read bandwidth, the three register tiles) run on every supported path and 1-2 threads', () => {
    const got: string[] = [];
    for (const p of AVAIL) {
      const rates = withPath(p, 1, () => [1, 2].flatMap((t) => [native.peakGflops(t, 0.01), native.readBandwidth(1 << 20, t, 0.01),
        ...[0, 1, 2].map((w) => native.tileGflops(w, t, 0.01))]));
      for (const r of rates) expect(r, p).toBeGreaterThan(0);
      for (const r of rates) expect(Number.isFinite(r), p).toBe(true);
      got.push(`${p} ${rates.map((r) => r.toFixed(0)).join('/')}`);
    }
    expect(simd()).toBe(DEFAULT_PATH);
    lines.push(`probes (1t: peak GFLOP/s, GB/s, tiles fwd/rows/dx GFLOP/s; then 2t): ${got.join('; ')}`);
  });

  let scalar: Map<string, Float32Array> | null = null;
  const scalarRun = () => (scalar ??= withPath('scalar', DEFAULT_THREADS, runAll));

  for (const path of SIMD_PATHS) {
    const why = `${path}: not supported by this CPU (simdAvailable() = [${AVAIL.join(', ')}]), so this path cannot run here`;
    it.skipIf(!AVAIL.includes(path))(AVAIL.includes(path) ? `${path}: KAN fwd/bwd, dense fwd/bwd, adam, sgd = scalar within 1e-5 relative` : why, () => {
      const ref = scalarRun();
      const got = withPath(path, DEFAULT_THREADS, runAll);
      let worst = 0, worstKey = '';
      const perArea = new Map<string, number>();
      for (const [key, want] of ref) {
        const a = got.get(key)!;
        expect(a.every(Number.isFinite), `${path} ${key} finite`).toBe(true);
        const e = R.relErr(a, want);
        expect(e, `${path} ${key}`).toBeLessThanOrEqual(1e-5);
        const area = key.replace(/ \[.*\]$/, '');
        perArea.set(area, Math.max(perArea.get(area) ?? 0, e));
        if (e > worst) { worst = e; worstKey = key; }
      }
      lines.push(`${path} vs scalar: max relative error ${worst.toExponential(2)} (${worstKey}); ` +
        [...perArea].map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', '));
    });
  }
});

describe('backward overwrite mode (gradients written, not added to)', () => {
  // Extra shapes: a first chunk with more rows than samples (703 > 512: rows taken lazily, so some
  // rows are untouched in the first chunk and must be zeroed there, then added to by the second;
  // without dx, whose chunks are 1024 samples past 512, 1203 > 1024), and three chunks
  // (1100 = 512 + 512 + 76) with eager rows.
  const extra = [kanCfg('I=6 O=20 G=700 k=3 B=700 silu', 6, 20, 700, 3, 700, 2, false, true),
    kanCfg('I=9 O=33 G=5 k=3 B=1100 silu adapted', 9, 33, 5, 3, 1100, 2, true, true),
    kanCfg('I=4 O=20 G=1200 k=3 B=1100 silu', 4, 20, 1200, 3, 1100, 2, false, true)];
  const cfgs = [...KAN_CFGS, ...extra];
  const grads = (c: KanCfg, fill: number | 'random') => {
    const NB = c.G + c.k;
    const mk = (n: number) => (fill === 'random' ? rng.f32(n, -5, 5) : new Float32Array(n).fill(fill));
    return { dcoef: mk(c.I * NB * c.O), dwb: mk(c.I * c.O), dws: mk(c.I * c.O) };
  };
  const back = (c: KanCfg, g: ReturnType<typeof grads>, dx: Float32Array | null, overwrite: boolean) =>
    native.kanBackward(dx, g.dcoef, g.dwb, g.dws, c.dy, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base, false, overwrite);
  for (const path of [...SIMD_PATHS, 'scalar'] as SimdPath[]) {
    const runs = AVAIL.includes(path);
    it.skipIf(!runs)(runs ? `${path}: KAN and dense, from NaN-filled gradients, 1 and 3 threads, dx or not: bitwise what accumulating onto zeros gives`
      : `${path}: not supported by this CPU`, () => {
      let arrays = 0;
      // (NaN in any element not written, or added to, stays NaN; 3 threads: uneven input ranges)
      for (const threads of [1, 3])
        withPath(path, threads, () => {
          for (const c of cfgs)
            for (const withDx of [false, true]) {
              const want = grads(c, 0), dxWant = withDx ? new Float32Array(c.B * c.I) : null;
              back(c, want, dxWant, false);
              expect(R.maxAbs(want.dcoef), c.name).toBeGreaterThan(0);
              const got = grads(c, Number.NaN), dxGot = withDx ? new Float32Array(c.B * c.I) : null;
              back(c, got, dxGot, true);
              const what = `${path} ${threads}t ${c.name} dx=${withDx}`;
              expect(R.bitwiseEqual(got.dcoef, want.dcoef), `${what}: dcoef`).toBe(true);
              expect(R.bitwiseEqual(got.dwb, want.dwb), `${what}: dwb`).toBe(true);
              expect(R.bitwiseEqual(got.dws, want.dws), `${what}: dws`).toBe(true);
              if (dxGot) expect(R.bitwiseEqual(dxGot, dxWant!), `${what}: dx`).toBe(true);
              arrays += withDx ? 4 : 3;
              // the default still adds: onto random gradients the result differs from the batch's own
              const onto = grads(c, 'random'), start = onto.dwb.slice();
              back(c, onto, null, false);
              const added = onto.dwb.map((v, q) => v - start[q]);
              expect(R.relErr(added, want.dwb), `${path} ${c.name}: accumulate`).toBeLessThan(1e-4);
            }
          // the dense layer likewise (its GEMM adds to dW: overwrite zeroes each thread's rows first)
          for (const c of DENSE_CFGS) {
            const z = new Float32Array(c.B * c.O), y = new Float32Array(c.B * c.O);
            native.denseForward(y, z, c.x, c.W, c.bias, c.B, c.I, c.O, c.act);
            const dxWant = new Float32Array(c.B * c.I), dWWant = new Float32Array(c.I * c.O), dbWant = new Float32Array(c.O);
            native.denseBackward(dxWant, dWWant, dbWant, c.dy, c.x, z, c.W, c.B, c.I, c.O, c.act);
            const dxGot = new Float32Array(c.B * c.I), dWGot = new Float32Array(c.I * c.O).fill(Number.NaN), dbGot = new Float32Array(c.O).fill(Number.NaN);
            native.denseBackward(dxGot, dWGot, dbGot, c.dy, c.x, z, c.W, c.B, c.I, c.O, c.act, false, true);
            const what = `${path} ${threads}t dense ${c.name}`;
            expect(R.maxAbs(dWWant), what).toBeGreaterThan(0);
            expect(R.bitwiseEqual(dWGot, dWWant), `${what}: dW`).toBe(true);
            expect(R.bitwiseEqual(dbGot, dbWant), `${what}: dbias`).toBe(true);
            expect(R.bitwiseEqual(dxGot, dxWant), `${what}: dx`).toBe(true);
            arrays += 3;
          }
        });
      lines.push(`${path} overwrite mode (KAN and dense): ${arrays} arrays bitwise equal to accumulating onto zeros`);
    });
  }

  it('B = 0: overwrite writes a zero gradient, accumulate leaves the gradients as they were', () => {
    const c = KAN_CFGS[1];
    const g = grads(c, 'random'), before = g.dcoef.slice();
    native.kanBackward(null, g.dcoef, g.dwb, g.dws, new Float32Array(0), new Float32Array(0), c.grid, c.coef, c.wb, c.ws, c.mask, 0, c.I, c.O, c.G, c.k, c.base);
    expect(R.bitwiseEqual(g.dcoef, before)).toBe(true);
    native.kanBackward(null, g.dcoef, g.dwb, g.dws, new Float32Array(0), new Float32Array(0), c.grid, c.coef, c.wb, c.ws, c.mask, 0, c.I, c.O, c.G, c.k, c.base, false, true);
    for (const a of [g.dcoef, g.dwb, g.dws]) expect(a.every((v) => Object.is(v, 0))).toBe(true);
    const d = DENSE_CFGS[1], e = new Float32Array(0);
    const dW = rng.f32(d.I * d.O), db = rng.f32(d.O), dWBefore = dW.slice();
    native.denseBackward(null, dW, db, e, e, e, d.W, 0, d.I, d.O, d.act);
    expect(R.bitwiseEqual(dW, dWBefore)).toBe(true);
    native.denseBackward(null, dW, db, e, e, e, d.W, 0, d.I, d.O, d.act, false, true);
    for (const a of [dW, db]) expect(a.every((v) => Object.is(v, 0))).toBe(true);
  });

  it('overwrite must be a boolean', () => {
    const c = KAN_CFGS[1];
    const g = grads(c, 0);
    expect(() => native.kanBackward(null, g.dcoef, g.dwb, g.dws, c.dy, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base, false, 1 as unknown as boolean))
      .toThrow(/Expected boolean for overwrite/);
    const d = DENSE_CFGS[1];
    expect(() => native.denseBackward(null, new Float32Array(d.I * d.O), new Float32Array(d.O), d.dy, d.x, new Float32Array(d.B * d.O), d.W, d.B, d.I, d.O, 0, false, 'yes' as unknown as boolean))
      .toThrow(/Expected boolean for overwrite/);
  });
});

describe('narrow layers with non-finite values', () => {
  // The narrow and mid-width forms multiply every sample's dy and every coefficient by spread basis
  // rows that are mostly 0 (0 · Inf = NaN): a non-finite dy or coefficient must send the call down
  // the general path, so the non-finite outputs are exactly those of the scalar twin.
  const cases: [string, KanCfg][] = [];
  {
    // the NaN sample inside the grid on every input (outside it, the scalar twin adds 0 · NaN to
    // dws where the SIMD paths skip the sample's absent rows)
    const c = kanCfg('I=5 O=1 G=5 k=3 B=700, NaN in dy', 5, 1, 5, 3, 700, 2, false, false);
    c.dy[613] = Number.NaN;
    for (let i = 0; i < 5; i++) c.x[613 * 5 + i] = 0.1 + 0.07 * i;
    cases.push([c.name, c]);
  }
  { const c = kanCfg('I=3 O=2 G=5 k=3 B=100, Inf coefficient', 3, 2, 5, 3, 100, 2, false, false); c.coef[(1 * 8 + 4) * 2 + 1] = Infinity; cases.push([c.name, c]); }
  {
    // input 2 inside the grid for every sample (outside, the scalar twin multiplies Inf by the 0
    // spline value where the SIMD paths add nothing from padding rows), on its spans 3-4 only:
    // rows 5-7 untouched, whose dcoef must stay as the scalar twin has it (not Inf · 0)
    const c = kanCfg('I=3 O=2 G=5 k=3 B=100, Inf spline weight ws', 3, 2, 5, 3, 100, 2, false, false);
    c.ws[2 * 2 + 0] = Infinity;
    for (let b = 0; b < c.B; b++) c.x[b * 3 + 2] = -0.575 + 0.325 * Math.sin(b);
    cases.push([c.name, c]);
  }
  {
    // the mid-width form likewise: a NaN in a chunk's dy (that chunk on the general path), an
    // infinite coefficient (that input on the general path)
    const c = kanCfg('I=20 O=5 G=5 k=3 B=600, NaN in dy (mid-width)', 20, 5, 5, 3, 600, 2, false, false, rngLate);
    c.dy[413 * 5 + 2] = Number.NaN;
    for (let i = 0; i < 20; i++) c.x[413 * 20 + i] = 0.1 + 0.03 * i;
    cases.push([c.name, c]);
  }
  { const c = kanCfg('I=18 O=6 G=5 k=3 B=100, Inf coefficient (mid-width)', 18, 6, 5, 3, 100, 2, false, false, rngLate); c.coef[(3 * 8 + 4) * 6 + 1] = Infinity; cases.push([c.name, c]); }
  const run = (c: KanCfg) => {
    const NB = c.G + c.k;
    const y = new Float32Array(c.B * c.O), dx = new Float32Array(c.B * c.I), dcoef = new Float32Array(c.I * NB * c.O);
    const dwb = new Float32Array(c.I * c.O), dws = new Float32Array(c.I * c.O);
    native.kanForward(y, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base);
    native.kanBackward(dx, dcoef, dwb, dws, c.dy, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base);
    return { y, dx, dcoef, dwb, dws };
  };
  for (const path of SIMD_PATHS)
    it.skipIf(!AVAIL.includes(path))(`${path}: the non-finite outputs are the scalar twin's, the finite ones agree`, () => {
      for (const [name, c] of cases) {
        const want = withPath('scalar', 1, () => run(c)), got = withPath(path, 2, () => run(c));
        let nonFinite = 0;
        for (const key of ['y', 'dx', 'dcoef', 'dwb', 'dws'] as const) {
          const a = got[key], w = want[key];
          const fin = Float32Array.from(w, (v) => (Number.isFinite(v) ? v : 0));
          for (let q = 0; q < w.length; q++) {
            expect(Number.isFinite(a[q]), `${path} ${name} ${key}[${q}] finite as the scalar twin's`).toBe(Number.isFinite(w[q]));
            if (!Number.isFinite(w[q])) nonFinite++;
          }
          expect(R.relErr(Float32Array.from(a, (v) => (Number.isFinite(v) ? v : 0)), fin), `${path} ${name} ${key}`).toBeLessThanOrEqual(1e-5);
        }
        // the cases do reach non-finite outputs, and leave most of them finite
        expect(nonFinite, `${name}: some outputs are non-finite`).toBeGreaterThan(0);
        expect(nonFinite, `${name}: most outputs stay finite`).toBeLessThan(0.5 * (c.B * (c.O + c.I) + c.I * (c.G + c.k + 2) * c.O));
      }
    });
  // The narrow and mid-width forms read a whole vector of the scratch's x columns past a chunk's
  // last sample: those lanes must count as x = 0 whatever an earlier call left there. A call with
  // NaN x in samples 77..79, then one of 77 finite samples on the same thread (a mid-width and a
  // narrow shape; on the 4-lane baseline path the stale lanes are read without a masked load).
  for (const path of SIMD_PATHS)
    it.skipIf(!AVAIL.includes(path))(`${path}: lanes past a chunk's end ignore what an earlier call left in the scratch`, () => {
      for (const [I, O] of [[6, 3], [6, 2]]) {
        const c = kanCfg(`I=${I} O=${O} G=5 k=3 B=80`, I, O, 5, 3, 80, 2, false, false, rngLate);
        for (let q = 77 * I; q < 80 * I; q++) c.x[q] = Number.NaN;
        const short: KanCfg = { ...c, B: 77, x: c.x.subarray(0, 77 * I), dy: c.dy.subarray(0, 77 * O) };
        const want = withPath('scalar', 1, () => run(short));
        const got = withPath(path, 1, () => { run(c); return run(short); });
        for (const key of ['dx', 'dcoef', 'dwb', 'dws'] as const) {
          expect(got[key].every(Number.isFinite), `${path} I=${I} O=${O} ${key} finite`).toBe(true);
          expect(R.relErr(got[key], want[key]), `${path} I=${I} O=${O} ${key}`).toBeLessThanOrEqual(1e-5);
        }
      }
    });
});

describe('determinism', () => {
  for (const path of [...SIMD_PATHS, 'scalar'] as SimdPath[]) {
    const runs = AVAIL.includes(path);
    it.skipIf(!runs)(runs ? `${path}: the same call twice is bitwise identical; 1, 2 and 3 threads are bitwise identical`
      : `${path}: not supported by this CPU (simdAvailable() = [${AVAIL.join(', ')}])`, () => {
      const a = withPath(path, 2, runAll);
      const b = withPath(path, 2, runAll);
      const one = withPath(path, 1, runAll);
      const three = withPath(path, 3, runAll);
      let maxRel = 0, differing = 0;
      const diffKeys: string[] = [];
      for (const [key, v] of a) {
        expect(R.bitwiseEqual(b.get(key)!, v), `${path} ${key}: same call twice`).toBe(true);
        for (const [n, other] of [[1, one], [3, three]] as const) {
          const w = other.get(key)!;
          const e = R.relErr(w, v);
          maxRel = Math.max(maxRel, e);
          expect(e, `${path} ${key}: ${n} vs 2 threads (documented: <= 1e-6 relative)`).toBeLessThanOrEqual(1e-6);
          if (!R.bitwiseEqual(w, v)) { differing++; diffKeys.push(`${key} (${n} vs 2 threads, rel ${e.toExponential(1)})`); }
        }
      }
      lines.push(`${path} determinism: twice bitwise equal; 1/2/3 threads max relative difference ${maxRel.toExponential(2)}, ${differing} arrays not bitwise equal`);
      expect(diffKeys, `${path}: arrays that depend on the thread count`).toEqual([]);
    });
  }

  it('async calls give the same bits as sync calls', async () => {
    const c = KAN_CFGS[0];
    const NB = c.G + c.k;
    const y1 = new Float32Array(c.B * c.O), y2 = new Float32Array(c.B * c.O);
    native.kanForward(y1, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base);
    await native.kanForward(y2, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base, true);
    expect(R.bitwiseEqual(y1, y2)).toBe(true);
    const g1 = new Float32Array(c.I * NB * c.O), g2 = new Float32Array(c.I * NB * c.O);
    const w = () => new Float32Array(c.I * c.O);
    native.kanBackward(null, g1, w(), w(), c.dy, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base);
    await native.kanBackward(null, g2, w(), w(), c.dy, c.x, c.grid, c.coef, c.wb, c.ws, c.mask, c.B, c.I, c.O, c.G, c.k, c.base, true);
    expect(R.bitwiseEqual(g1, g2)).toBe(true);
    expect(R.maxAbs(g1)).toBeGreaterThan(0);
  });
});
