// optim.test.ts — native adamStep/sgdStep against a plain float64 transcription over several
// steps, the Adam/SGD classes over a model's parameter groups, and frozen groups under train().
import { afterAll, describe, expect, it } from 'vitest';
import { KAN } from '../lib/kan.js';
import { MLP } from '../lib/mlp.js';
import { alignedF32, native } from '../lib/native.js';
import { Adam, SGD, train } from '../lib/train.js';
import * as R from './reference.js';

const report: string[] = [];
afterAll(() => console.log('[optim] max errors:\n  ' + report.join('\n  ')));

/**
 * Error of native parameters against the float64 transcription, relative to the distance the
 * parameter travelled: |p - pref| / (sum_s |update_s| + steps * 2^-23 * |pref| + 1e-12) (the
 * second term is the float32 rounding of storing p after each step).
 */
function updateErr(p: Float32Array, pref: Float64Array, path: Float64Array, steps: number): number {
  let e = 0;
  for (let q = 0; q < p.length; q++) {
    const d = Math.abs(p[q] - pref[q]);
    const scale = path[q] + steps * 2 ** -23 * Math.abs(pref[q]) + 1e-12;
    e = Math.max(e, Number.isNaN(d) ? Infinity : d / scale);
  }
  return e;
}

/** Runs one reference step and adds |update| to path. */
function tracked(P: Float64Array, path: Float64Array, step: () => void): void {
  const before = P.slice();
  step();
  for (let q = 0; q < P.length; q++) path[q] += Math.abs(P[q] - before[q]);
}

// The kernels take float32 hyperparameters (kernels.h: float lr, beta1, ...): 1 - 0.999f is
// 0.00099998713, not 0.001, so the transcription uses the same float32-rounded constants.
const f = Math.fround;

function gradients(rng: R.TestRng, n: number, steps: number, scale: number): Float32Array[] {
  return Array.from({ length: steps }, (_, s) => {
    const g = rng.f32(n, -scale, scale);
    g[0] = 0;                         // a zero gradient
    g[1] = s % 2 ? scale : -scale;    // sign flips across steps
    g[2] = 1e-20;                     // tiny
    return g;
  });
}

describe('adamStep vs the float64 transcription', () => {
  const configs = [
    { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0, gscale: 1 },
    { lr: 0.1, beta1: 0.5, beta2: 0.9, eps: 1e-8, wd: 0.1, gscale: 0.3 },
    { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-3, wd: 0, gscale: 1e-3 },   // eps comparable to sqrt(v)
    { lr: 3e-3, beta1: 0, beta2: 0.5, eps: 1e-6, wd: 0.01, gscale: 5 },
  ];
  for (const c of configs) {
    it(`lr=${c.lr} betas=(${c.beta1}, ${c.beta2}) eps=${c.eps} wd=${c.wd}: p, m, v over 6 steps`, () => {
      const rng = new R.TestRng(Math.round(c.lr * 1e4) + c.wd * 100);
      const n = 2053, steps = 6;
      const p0 = rng.f32(n, -1, 1);
      const p = p0.slice(), m = new Float32Array(n), v = new Float32Array(n);
      const P = Float64Array.from(p0), M = new Float64Array(n), V = new Float64Array(n), path = new Float64Array(n);
      for (const [s, g] of gradients(rng, n, steps, c.gscale).entries()) {
        native.adamStep(p, m, v, g, n, c.lr, c.beta1, c.beta2, c.eps, c.wd, s + 1);
        tracked(P, path, () => R.adamRef(P, M, V, g, f(c.lr), f(c.beta1), f(c.beta2), f(c.eps), f(c.wd), s + 1));
      }
      const ep = updateErr(p, P, path, steps), em = R.relErr(m, M), ev = R.relErr(v, V);
      report.push(`adam ${JSON.stringify(c)}: p ${ep.toExponential(2)} (relative to the update), m ${em.toExponential(2)}, v ${ev.toExponential(2)}`);
      expect(R.maxAbsDiff(p, p0)).toBeGreaterThan(0);
      expect(ep).toBeLessThanOrEqual(2e-4);
      expect(em).toBeLessThanOrEqual(1e-5);
      expect(ev).toBeLessThanOrEqual(1e-5);
    });
  }

  it('the first step moves each parameter by about lr (bias correction) against its gradient sign', () => {
    const n = 64, lr = 0.01;
    const rng = new R.TestRng(3);
    const p0 = rng.f32(n), g = rng.f32(n, -2, 2);
    for (let q = 0; q < n; q++) if (Math.abs(g[q]) < 0.05) g[q] = 0.5;
    const p = p0.slice();
    native.adamStep(p, new Float32Array(n), new Float32Array(n), g, n, lr, 0.9, 0.999, 1e-8, 0, 1);
    for (let q = 0; q < n; q++) expect(Math.abs(p[q] - (p0[q] - lr * Math.sign(g[q])))).toBeLessThan(1e-6);
  });
});

describe('sgdStep vs the float64 transcription', () => {
  for (const c of [{ lr: 0.1, momentum: 0, wd: 0 }, { lr: 0.05, momentum: 0.9, wd: 0 }, { lr: 0.02, momentum: 0.5, wd: 0.1 }, { lr: 1, momentum: 0.99, wd: 1e-3 }]) {
    it(`lr=${c.lr} momentum=${c.momentum} wd=${c.wd}: p and buf over 6 steps`, () => {
      const rng = new R.TestRng(Math.round(c.lr * 100 + c.momentum * 10));
      const n = 1031, steps = 6;
      const p0 = rng.f32(n, -1, 1);
      const p = p0.slice(), buf = new Float32Array(n);
      const P = Float64Array.from(p0), BUF = new Float64Array(n), path = new Float64Array(n);
      for (const g of gradients(rng, n, steps, 1)) {
        native.sgdStep(p, buf, g, n, c.lr, c.momentum, c.wd);
        tracked(P, path, () => R.sgdRef(P, BUF, g, f(c.lr), f(c.momentum), f(c.wd)));
      }
      const ep = updateErr(p, P, path, steps), eb = R.relErr(buf, BUF);
      report.push(`sgd ${JSON.stringify(c)}: p ${ep.toExponential(2)} (relative to the update), buf ${eb.toExponential(2)}`);
      expect(ep).toBeLessThanOrEqual(2e-4);
      expect(eb).toBeLessThanOrEqual(1e-5);
    });
  }
});

describe('Adam and SGD classes over a model', () => {
  it('Adam(model) updates every trainable group like the transcription, counting t from 1', () => {
    const model = new MLP({ widths: [5, 9, 3], seed: 1 });
    const rng = new R.TestRng(8);
    const p0 = model.params.slice();
    const P = Float64Array.from(p0), M = new Float64Array(P.length), V = new Float64Array(P.length), path = new Float64Array(P.length);
    const opt = new Adam(model, { lr: 0.02, beta1: 0.8, beta2: 0.95, weightDecay: 0.05 });
    for (let s = 1; s <= 4; s++) {
      model.grads.set(rng.f32(model.grads.length));
      const g = model.grads.slice();
      opt.step();
      tracked(P, path, () => R.adamRef(P, M, V, g, f(0.02), f(0.8), f(0.95), f(1e-8), f(0.05), s));
    }
    expect(opt.t).toBe(4);
    const e = updateErr(model.params, P, path, 4);
    report.push(`Adam class (MLP [5,9,3], 4 steps): p ${e.toExponential(2)}`);
    expect(e).toBeLessThanOrEqual(2e-4);
  });

  it('SGD(model) with a frozen bias group: weights follow the transcription, biases stay bitwise', () => {
    const model = new MLP({ widths: [4, 6, 2], seed: 2, trainable: { bias: false } });
    const rng = new R.TestRng(9);
    const p0 = model.params.slice();
    const P = Float64Array.from(p0), BUF = new Float64Array(P.length), path = new Float64Array(P.length);
    const opt = new SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    const wg = model.groups.find((g) => g.name === 'weight')!, bg = model.groups.find((g) => g.name === 'bias')!;
    for (let s = 0; s < 3; s++) {
      model.grads.set(rng.f32(model.grads.length));
      const g = model.grads.slice();
      opt.step();
      const Pw = P.subarray(wg.offset, wg.offset + wg.length), Bw = BUF.subarray(wg.offset, wg.offset + wg.length);
      tracked(P, path, () => R.sgdRef(Pw, Bw, g.subarray(wg.offset, wg.offset + wg.length), f(0.1), f(0.9), f(0.01)));
    }
    const w = (a: Float32Array | Float64Array, g: typeof wg) => a.subarray(g.offset, g.offset + g.length);
    const e = updateErr(w(model.params, wg) as Float32Array, w(P, wg) as Float64Array, w(path, wg) as Float64Array, 3);
    report.push(`SGD class (MLP [4,6,2], bias frozen, 3 steps): weights ${e.toExponential(2)}`);
    expect(e).toBeLessThanOrEqual(2e-4);
    expect(R.bitwiseEqual(w(model.params, bg) as Float32Array, w(p0, bg) as Float32Array)).toBe(true);
    expect(R.maxAbsDiff(w(model.params, wg), w(p0, wg))).toBeGreaterThan(1e-3);
  });
});

describe('frozen parameter groups under train()', () => {
  function data(rng: R.TestRng, n: number): { x: Float32Array; y: Float32Array } {
    const x = rng.f32(n * 2, -1, 1);
    const y = Float32Array.from({ length: n }, (_, q) => Math.sin(3 * x[2 * q]) * x[2 * q + 1]);
    return { x, y };
  }
  const groupView = (model: KAN, name: string) => {
    const g = model.groups.find((gg) => gg.name === name)!;
    return model.params.subarray(g.offset, g.offset + g.length);
  };

  for (const optimizer of ['adam', 'sgd'] as const) {
    it(`KAN trainable {coef: false} (${optimizer}): coef bitwise unchanged, wb and ws change`, async () => {
      const rng = new R.TestRng(11);
      const model = new KAN({ widths: [2, 4, 1], gridSize: 5, splineOrder: 3, seed: 7, trainable: { coef: false } });
      const before = { coef: groupView(model, 'coef').slice(), wb: groupView(model, 'wb').slice(), ws: groupView(model, 'ws').slice() };
      const grids = model.layers.map((L) => L.grid.slice());
      const res = await train(model, data(rng, 64), { optimizer, lr: optimizer === 'adam' ? 0.01 : 0.1, steps: 25, batchSize: 16, seed: 1 });
      expect(res.steps).toBe(25);
      expect(R.bitwiseEqual(groupView(model, 'coef'), before.coef), 'coef frozen').toBe(true);
      expect(R.maxAbsDiff(groupView(model, 'wb'), before.wb), 'wb trained').toBeGreaterThan(1e-4);
      expect(R.maxAbsDiff(groupView(model, 'ws'), before.ws), 'ws trained').toBeGreaterThan(1e-4);
      model.layers.forEach((L, l) => expect(R.bitwiseEqual(L.grid, grids[l])).toBe(true));
      // the frozen group still received gradients (it is only the optimizer that skips it)
      const cg = model.groups.find((g) => g.name === 'coef')!;
      expect(R.maxAbs(model.grads.subarray(cg.offset, cg.offset + cg.length))).toBeGreaterThan(0);
      report.push(`train ${optimizer} coef frozen: |dwb| ${R.maxAbsDiff(groupView(model, 'wb'), before.wb).toExponential(2)}, |dws| ${R.maxAbsDiff(groupView(model, 'ws'), before.ws).toExponential(2)}, loss ${res.losses[0].toFixed(4)} -> ${res.finalLoss.toFixed(4)}`);
    });
  }

  it('KAN trainable {wb: false, ws: false}: only coef changes', async () => {
    const rng = new R.TestRng(12);
    const model = new KAN({ widths: [2, 3, 1], gridSize: 4, splineOrder: 2, seed: 8, trainable: { wb: false, ws: false } });
    const before = { coef: groupView(model, 'coef').slice(), wb: groupView(model, 'wb').slice(), ws: groupView(model, 'ws').slice() };
    await train(model, data(rng, 32), { lr: 0.01, steps: 10 });
    expect(R.bitwiseEqual(groupView(model, 'wb'), before.wb)).toBe(true);
    expect(R.bitwiseEqual(groupView(model, 'ws'), before.ws)).toBe(true);
    expect(R.maxAbsDiff(groupView(model, 'coef'), before.coef)).toBeGreaterThan(1e-4);
  });
});

describe('64-byte-aligned buffers', () => {
  // where a Float32Array's first element sits modulo 64 bytes
  const mod64 = (a: Float32Array) => (native.addressMod64(a.buffer as ArrayBuffer) + a.byteOffset) % 64;

  it('alignedF32 gives zero-filled, 64-byte-aligned arrays of the asked length', () => {
    for (const n of [0, 1, 15, 16, 1000, 300_000]) {
      const a = alignedF32(n);
      expect(a.length).toBe(n);
      expect(mod64(a)).toBe(0);
      expect(a.every((v) => v === 0)).toBe(true);
    }
  });

  it('model data, gradients and optimizer state are aligned; results are plain arrays of their own', () => {
    // 784·8·64, 64·8·10, ... are multiples of 16 floats: every tensor of config a starts aligned
    const kan = new KAN({ widths: [784, 64, 10], gridSize: 5, seed: 1 });
    const adam = new Adam(kan);
    const sgd = new SGD(kan, { momentum: 0.9 });
    const arrays: Record<string, Float32Array> = {
      data: kan.data, grads: kan.grads,
      adamM: (adam as unknown as { m: Float32Array }).m, adamV: (adam as unknown as { v: Float32Array }).v,
      sgdBuf: (sgd as unknown as { buf: Float32Array }).buf,
    };
    kan.layers.forEach((L, l) => {
      Object.assign(arrays, { [`coef${l}`]: L.coef, [`wb${l}`]: L.wb, [`ws${l}`]: L.ws, [`mask${l}`]: L.mask, [`grid${l}`]: L.grid, [`dcoef${l}`]: L.dcoef });
    });
    // results the caller gets: whole buffers of their own (no offset, no spare bytes), whether
    // kept outputs are copied (small batch) or each layer's output is new (256 · 74 floats)
    const results = {
      trainOut: kan.forwardTrain(new Float32Array(32 * 784).fill(0.25), 32),
      forwardSmall: kan.forward(new Float32Array(2 * 784)),
      forwardLarge: kan.forward(new Float32Array(256 * 784)),
    };
    for (const [k, a] of Object.entries(results)) expect([k, a.byteOffset, a.buffer.byteLength]).toEqual([k, 0, 4 * a.length]);
    arrays.loaded = KAN.fromBytes(kan.toBytes()).data;
    const mlp = new MLP({ widths: [784, 639, 10], seed: 1 });
    arrays.mlpData = mlp.data;
    arrays.mlpGrads = mlp.grads;
    arrays.mlpLoaded = MLP.fromBytes(mlp.toBytes()).data;
    const off = Object.entries(arrays).filter(([, a]) => mod64(a) !== 0).map(([k, a]) => `${k} at ${mod64(a)} mod 64`);
    expect(off).toEqual([]);
  });

  it('addressMod64 refuses what is not an ArrayBuffer', () => {
    expect(() => native.addressMod64(new Float32Array(4) as unknown as ArrayBuffer)).toThrow(/Expected an ArrayBuffer for buffer/);
    expect(() => (native.addressMod64 as (b?: unknown) => number)()).toThrow(TypeError);
  });
});

describe('gatherRows (train()\'s minibatches)', () => {
  it('copies the indexed rows into place, and nothing else', () => {
    const width = 5, srcRows = 40, dstRows = 12;
    const src = Float32Array.from({ length: srcRows * width }, (_, q) => q * 0.5 - 3);
    const idx = Uint32Array.from({ length: 30 }, (_, q) => (q * 17 + 3) % srcRows);
    const dst = new Float32Array(dstRows * width).fill(-99);
    native.gatherRows(dst, dstRows, src, srcRows, width, idx, idx.length, 20, 7, 4);  // idx[20..27) into rows 4..11
    for (let r = 0; r < dstRows; r++)
      for (let j = 0; j < width; j++) {
        const want = r >= 4 && r < 11 ? src[idx[20 + r - 4] * width + j] : -99;
        expect(dst[r * width + j]).toBe(want);
      }
  });

  it('refuses an index past the source, and a run past either end, with the argument named', () => {
    const src = new Float32Array(6), dst = new Float32Array(4), idx = Uint32Array.from([0, 2, 3]);
    expect(() => native.gatherRows(dst, 2, src, 3, 2, idx, 3, 0, 2, 0)).not.toThrow();
    expect(() => native.gatherRows(dst, 2, src, 3, 2, idx, 3, 1, 2, 0)).toThrow(/row indices below srcRows \(3\) in idx but received 3 at index 2/);
    expect(() => native.gatherRows(dst, 2, src, 3, 2, idx, 3, 2, 2, 0)).toThrow(RangeError);  // from + count > n
    expect(() => native.gatherRows(dst, 2, src, 3, 2, idx, 3, 0, 2, 1)).toThrow(/at \+ count <= dstRows/);
    expect(() => native.gatherRows(dst, 3, src, 3, 2, idx, 3, 0, 1, 0)).toThrow(/dst to have length 6/);
    expect(() => native.gatherRows(dst, 2, src, 3, 2, new Int32Array(3) as unknown as Uint32Array, 3, 0, 1, 0)).toThrow(/Expected Uint32Array for idx/);
  });
});
