// ab-builds.mjs — two builds of the addon compared in one process: the speed of a KAN layer's
// forward or backward as paired rounds (each round runs every build in turn for MS ms; the
// reported ratio is the median of the per-round ratios, so the machine's drift between rounds
// cancels), or their results bit for bit. How docs/performance-log.md's "paired, 2 threads:
// 1.045×" figures for kernel changes are measured: keep the old build's .node, rebuild, compare.
//
//   cp build/Release/kan_native.node /tmp/old.node      # before the change
//   npm run build:native                                  # after it
//   node scripts/microbench/ab-builds.mjs /tmp/old.node build/Release/kan_native.node
//   node scripts/microbench/ab-builds.mjs /tmp/old.node build/Release/kan_native.node --bitwise
//
// Environment: CFG="I,O,G,B;..." layers (default 100,100,10,512;784,64,5,1024), W=fwd|bwd|bwdx
// (backward without / with dx), T threads (2), R rounds (31), MS ms per build per round (50),
// X=uniform: x uniform in [-1, 1] like the bench's inputs (default: a sine reaching past the grid).
// Needs `npm run build:ts` (it builds the layers' parameters with dist/lib's KAN).
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { KAN } from '../../dist/lib/index.js';

const args = process.argv.slice(2);
const bitwise = args.includes('--bitwise');
const paths = args.filter((a) => !a.startsWith('--'));
if (paths.length !== 2) {
  console.error('usage: node scripts/microbench/ab-builds.mjs old.node new.node [--bitwise]');
  process.exit(2);
}
const req = createRequire(import.meta.url);
const [A, N] = paths.map((p) => req(resolve(p)));
const env = process.env;
for (const b of [A, N]) b.setNumThreads(Number(env.T ?? 2));
const R = Number(env.R ?? 31), MS = Number(env.MS ?? 50), W = env.W ?? 'fwd';
const cfgs = (env.CFG ?? '100,100,10,512;784,64,5,1024').split(';').map((s) => s.split(',').map(Number));
const K = 3, BASE = 2;  // cubic splines, silu base
const sorted = (a) => [...a].sort((p, q) => p - q);
const median = (a) => sorted(a)[a.length >> 1];

for (const [I, O, G, B] of cfgs) {
  const L = new KAN({ widths: [I, O], gridSize: G, splineOrder: K, seed: 1 }).layers[0];
  // inputs across the grid and past its ends, gradients of both signs
  let seed = 12345;
  const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const x = env.X === 'uniform' ? new Float32Array(B * I).map(uniform) : new Float32Array(B * I).map((_, q) => 1.3 * Math.sin(q * 0.37));
  const dy = new Float32Array(B * O).map((_, q) => 1e-3 * Math.cos(q * 0.11));
  const run = (b, out) => {
    if (W === 'fwd') return b.kanForward(out.y, x, L.grid, L.coef, L.wb, L.ws, L.mask, B, I, O, G, K, BASE);
    return b.kanBackward(W === 'bwdx' ? out.dx : null, out.dcoef, out.dwb, out.dws, dy, x, L.grid, L.coef, L.wb, L.ws,
      L.mask, B, I, O, G, K, BASE, false, true);
  };
  const outputs = () => ({ y: new Float32Array(B * O), dx: new Float32Array(B * I), dcoef: new Float32Array(L.coef.length),
    dwb: new Float32Array(I * O), dws: new Float32Array(I * O) });
  const name = `${I}x${O} G=${G} B=${B} ${W}`;
  if (bitwise) {
    const oa = outputs(), on = outputs();
    run(A, oa);
    run(N, on);
    const keys = W === 'fwd' ? ['y'] : W === 'bwdx' ? ['dx', 'dcoef', 'dwb', 'dws'] : ['dcoef', 'dwb', 'dws'];
    console.log(`${name}: ` + keys.map((k) => {
      let diff = 0, worst = 0;
      for (let q = 0; q < oa[k].length; q++)
        if (!Object.is(oa[k][q], on[k][q])) {
          diff++;
          worst = Math.max(worst, Math.abs(oa[k][q] - on[k][q]) / (Math.abs(oa[k][q]) + 1e-3));
        }
      return `${k} ${diff} of ${oa[k].length} differ` + (diff ? ` (max rel ${worst.toExponential(1)})` : '');
    }).join(', '));
    continue;
  }
  const out = outputs(), t = [[], []];
  for (let r = 0; r < R; r++)
    [A, N].forEach((b, q) => {
      run(b, out);  // warm
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < MS) { run(b, out); n++; }
      t[q].push((performance.now() - t0) / n);
    });
  const ratios = sorted(t[1].map((tn, q) => t[0][q] / tn));
  console.log(`${name}: old ${median(t[0]).toFixed(3)} ms, new ${median(t[1]).toFixed(3)} ms, new faster ×${median(ratios).toFixed(3)} ` +
    `(quartiles ${ratios[ratios.length >> 2].toFixed(3)}-${ratios[(3 * ratios.length) >> 2].toFixed(3)}, ${R} rounds)`);
}
