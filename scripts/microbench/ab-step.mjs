// ab-step.mjs — two or more builds of the addon compared on config a's and config e's model
// ([784,64,10] at G = 5 and G = 32, B = 1024) in training order through the raw kernel calls:
// layer 1's forward, layer 2's forward, layer 2's backward with dx, layer 1's backward without dx
// (as forwardTrain + backward run them). Each round runs every build in turn (the order reversed
// every other round) for N steps; a part's ratio is the median over rounds of the per-round time
// ratio against the first build, so the machine's drift between rounds cancels. How the
// performance log's "in training order" figures are measured.
//
//   cp build/Release/kan_native.node /tmp/old.node       # before the change
//   npm run build:native                                   # after it
//   node scripts/microbench/ab-step.mjs /tmp/old.node build/Release/kan_native.node
//
// Environment: GS grid sizes (default 5,32), T threads (2), R rounds (21), N steps per build per
// round (10). Needs `npm run build:ts` (the models' parameters come from dist/lib's KAN).
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { KAN } from '../../dist/lib/index.js';

const paths = process.argv.slice(2);
if (paths.length < 2) {
  console.error('usage: node scripts/microbench/ab-step.mjs base.node other.node [more.node ...]');
  process.exit(2);
}
const req = createRequire(import.meta.url);
const builds = paths.map((p) => req(resolve(p)));
const env = process.env;
for (const b of builds) b.setNumThreads(Number(env.T ?? 2));
const B = 1024, R = Number(env.R ?? 21), N = Number(env.N ?? 10), K = 3, BASE = 2;
const Gs = (env.GS ?? '5,32').split(',').map(Number);

let seed = 7;
const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const x = new Float32Array(B * 784).map(uniform);  // the bench's inputs: uniform in [-1, 1]
const dy = new Float32Array(B * 10).map(() => uniform() * 1e-3);

// The four kernel calls of one step on build b, for grid size G.
const model = (G) => {
  const [L1, L2] = new KAN({ widths: [784, 64, 10], gridSize: G, splineOrder: K, seed: 1 }).layers;
  const h = new Float32Array(B * 64), y = new Float32Array(B * 10), dh = new Float32Array(B * 64);
  const g1 = [new Float32Array(L1.coef.length), new Float32Array(784 * 64), new Float32Array(784 * 64)];
  const g2 = [new Float32Array(L2.coef.length), new Float32Array(640), new Float32Array(640)];
  return (b) => [
    () => b.kanForward(h, x, L1.grid, L1.coef, L1.wb, L1.ws, L1.mask, B, 784, 64, G, K, BASE),
    () => b.kanForward(y, h, L2.grid, L2.coef, L2.wb, L2.ws, L2.mask, B, 64, 10, G, K, BASE),
    () => {
      dh.fill(0);
      b.kanBackward(dh, ...g2, dy, h, L2.grid, L2.coef, L2.wb, L2.ws, L2.mask, B, 64, 10, G, K, BASE, false, true);
    },
    () => b.kanBackward(null, ...g1, dh, x, L1.grid, L1.coef, L1.wb, L1.ws, L1.mask, B, 784, 64, G, K, BASE, false, true),
  ];
};
const PARTS = ['layer 1 fwd', 'layer 2 fwd', 'layer 2 bwd', 'layer 1 bwd', 'step'];
const steps = Gs.map((G) => builds.map(model(G)));
const times = Gs.map(() => builds.map(() => PARTS.map(() => [])));  // [G][build][part][round] ms

for (let r = 0; r < R; r++)
  Gs.forEach((_, g) => {
    const order = builds.map((_, q) => q);
    if (r % 2) order.reverse();
    for (const q of order) {
      const calls = steps[g][q], acc = calls.map(() => 0);
      for (let n = 0; n < N; n++)
        calls.forEach((f, j) => {
          const t0 = performance.now();
          f();
          acc[j] += performance.now() - t0;
        });
      acc.forEach((t, j) => times[g][q][j].push(t / N));
      times[g][q][4].push(acc.reduce((s, t) => s + t, 0) / N);
    }
  });

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
Gs.forEach((G, g) => {
  console.log(`G=${G}: ms per call (median), and ×: the first build's time / this build's (median of per-round ratios)`);
  PARTS.forEach((part, j) => {
    const base = times[g][0][j];
    console.log(`  ${part.padEnd(12)} ` + paths.map((_, q) => {
      const t = times[g][q][j];
      return `${median(t).toFixed(3)} (×${median(base.map((v, r) => v / t[r])).toFixed(3)})`;
    }).join('   '));
  });
});
