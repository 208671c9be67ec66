// grid-cost.mjs — what a finer grid costs, and what it scales with: the time ratio of G = 32 to
// G = 5 (config e against config a) for the forward and the backward of a KAN model [I, 64, 10]
// (or the one layer [I, 64]) as the input width I and the batch B vary. Each figure is the median
// of P paired ratios (G = 32 timed, then G = 5, each for MS ms after one warm-up call), so the
// machine's drift cancels within a pair.
//
//   node scripts/microbench/grid-cost.mjs                      # I = 196..1568 at B = 1024, B = 256..4096 at I = 784
//   IS=784 BS=1024,4096 LAYER=1 T=1 node scripts/microbench/grid-cost.mjs
//
// A cost that follows the coefficients' bytes against the caches (DRAM traffic, L3 capacity) grows
// with I (the coefficients grow with I, 1.7 MB at I = 196 and G = 32, 13.4 MB at I = 1568); a cost
// per (sample, input) does not move with I or B; a cost per (input, row) — the fold of ws·mask into
// the rows, the backward's flush and its per-span runs — is spread over the batch and falls with B.
// Environment: IS input widths (default 196,392,784,1568 at B = 1024), BS batches (default
// 256,1024,4096 at I = 784), LAYER=1 the first layer alone ([I, 64]; its backward without dx, as
// in a model), T threads (2), P pairs (11), MS ms per timing (100). Needs `npm run build:ts`.
import { KAN, setNumThreads } from '../../dist/lib/index.js';

const env = process.env;
const T = Number(env.T ?? 2), P = Number(env.P ?? 11), MS = Number(env.MS ?? 100);
const layerOnly = env.LAYER === '1';
setNumThreads(T);
const list = (s) => s.split(',').map(Number);
// (I, B) cases: the cross product of IS and BS where both are given; else IS at B = 1024 and BS
// at I = 784 (each list's default where neither is)
const cases = env.IS && env.BS
  ? list(env.IS).flatMap((I) => list(env.BS).map((B) => [I, B]))
  : [...(env.BS ? [] : list(env.IS ?? '196,392,784,1568').map((I) => [I, 1024])),
     ...(env.IS ? [] : list(env.BS ?? '256,1024,4096').map((B) => [784, B]).filter(([, B]) => env.BS || B !== 1024))];

let seed = 31;
const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const time = (f) => {
  f();
  let n = 0, t;
  const t0 = performance.now();
  do { f(); n++; t = performance.now(); } while (t - t0 < MS);
  return (t - t0) / n;
};
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];

console.log(`G = 32 time / G = 5 time, ${layerOnly ? 'layer [I, 64]' : 'model [I, 64, 10]'}, k = 3, ${T} thread(s), x uniform in [-1, 1], median of ${P} pairs`);
for (const [I, B] of cases) {
  const widths = layerOnly ? [I, 64] : [I, 64, 10];
  const O = widths[widths.length - 1];
  const x = new Float32Array(B * I).map(uniform), dy = new Float32Array(B * O).fill(1e-3);
  const make = (G) => {
    const m = new KAN({ widths, gridSize: G, splineOrder: 3, seed: 1 });
    return { fwd: () => m.forwardTrain(x, B), bwd: () => m.backward(dy, { accumulate: false }) };
  };
  const a = make(5), e = make(32);
  const ratio = (part) => {
    const r = [];
    for (let q = 0; q < P; q++) {
      if (part === 'bwd') e.fwd();  // the backward reads the forward's saved state
      const te = time(e[part]);
      if (part === 'bwd') a.fwd();
      r.push(te / time(a[part]));
    }
    return median(r);
  };
  const fwd = ratio('fwd'), bwd = ratio('bwd');
  const coefMB = (I * 64 * 35 * 4) / 2 ** 20;
  console.log(`I=${String(I).padEnd(5)} B=${String(B).padEnd(5)} (layer 1's coef at G=32: ${coefMB.toFixed(1).padStart(4)} MB)  forward ${fwd.toFixed(3)}×  backward ${bwd.toFixed(3)}×`);
}
