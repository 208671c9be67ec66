// example.ts — `npm run example`: a first look at local plasticity. The KAN paper's five Gaussian
// peaks (centres -0.8..0.8, y = Σ exp(-300 (x-c)²)) are learned one after another, 100 points per
// peak on [c-0.2, c+0.2], by a KAN [1,1] (G=200, k=3, base zero, wb/ws frozen) and an MLP
// [1,32,32,1], both with Adam (the paper uses LBFGS; the continual-learning runner adds it).
// After each phase it prints the error on every peak's region: the KAN keeps earlier peaks, the
// MLP forgets them. Then it saves and reloads the KAN to show the file round trip.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KAN, MLP, train, evaluateMSE, simd, getNumThreads, type Model } from '../lib/index.js';

const centres = [-0.8, -0.4, 0, 0.4, 0.8];
const f = (x: number) => centres.reduce((s, c) => s + Math.exp(-300 * (x - c) ** 2), 0);

function region(c: number, n = 100) {
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let q = 0; q < n; q++) { x[q] = c - 0.2 + (0.4 * q) / (n - 1); y[q] = f(x[q]); }
  return { x, y };
}
const tasks = centres.map((c) => region(c));
const whole = (() => {
  const n = 1000, x = new Float32Array(n), y = new Float32Array(n);
  for (let q = 0; q < n; q++) { x[q] = -1 + (2 * q) / (n - 1); y[q] = f(x[q]); }
  return { x, y };
})();

async function run(name: string, model: Model, lr: number, steps: number) {
  console.log(`\n${name}: error on each peak's region after each phase (rows: trained through peak i)`);
  const t0 = performance.now();
  for (let i = 0; i < tasks.length; i++) {
    await train(model, tasks[i], { optimizer: 'adam', lr, steps });
    const errs = tasks.map((t) => evaluateMSE(model, t.x, t.y).toExponential(1).padStart(8));
    console.log(`  after peak ${i + 1}: ${errs.join(' ')}   whole domain ${evaluateMSE(model, whole.x, whole.y).toExponential(2)}`);
  }
  console.log(`  ${((performance.now() - t0) / 1000).toFixed(2)} s`);
}

console.log(`kan-native example — SIMD path ${simd()}, ${getNumThreads()} threads`);
const kan = new KAN({ widths: [1, 1], gridSize: 200, splineOrder: 3, base: 'zero', noiseScale: 0.1, seed: 0,
  trainable: { coef: true, wb: false, ws: false } });
await run('KAN [1,1] G=200', kan, 0.05, 400);
const mlp = new MLP({ widths: [1, 32, 32, 1], activation: 'silu', seed: 0 });
await run('MLP [1,32,32,1]', mlp, 0.01, 400);

const dir = mkdtempSync(join(tmpdir(), 'kan-example-'));
const file = join(dir, 'peaks.kan');
kan.save(file);
const again = KAN.load(file);
const same = again.forward(whole.x).every((v, q) => Object.is(v, kan.forward(whole.x)[q]));
console.log(`\nsaved and reloaded ${file}: outputs ${same ? 'identical' : 'DIFFERENT'}`);
rmSync(dir, { recursive: true, force: true });
if (!same) process.exit(1);
