// bench.ts — `npm run bench [-- --quick] [-- --threads N]`: validates the kernels against the
// scalar reference path, then times KAN forward and forward+backward (samples/s, medians of
// repeated runs) for the issue's configurations, and reports useful GFLOP/s against an FMA peak
// probe run in the same process. Writes bench.json.
//
// Useful flops (the counting formula): a local KAN layer does 2·(k+3) flops per
// (sample, input, output) forward and 2·(3k+7) backward (DESIGN.md; the issue's convention).
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { KAN, MLP } from '../lib/index.js';
import { native, simd, setSimd, getNumThreads, setNumThreads, peakGflops, type SimdPath } from '../lib/native.js';
import { Rng } from '../lib/rng.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const threadsArg = args.indexOf('--threads');
if (threadsArg >= 0) setNumThreads(Number(args[threadsArg + 1]));

interface Config { name: string; model: 'kan' | 'mlp'; widths: number[]; G: number; k: number; B: number; }
const configs: Config[] = [
  { name: 'a', model: 'kan', widths: [784, 64, 10], G: 5, k: 3, B: 1024 },
  { name: 'b', model: 'kan', widths: [2, 5, 1], G: 5, k: 3, B: 1024 },
  { name: 'c', model: 'kan', widths: [1, 1], G: 200, k: 3, B: 1000 },
  { name: 'd', model: 'kan', widths: [100, 100, 100], G: 10, k: 3, B: 512 },
  { name: 'e', model: 'kan', widths: [784, 64, 10], G: 32, k: 3, B: 1024 },
  { name: 'mlp', model: 'mlp', widths: [784, 639, 10], G: 0, k: 0, B: 1024 },
];

function randomInput(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  const x = new Float32Array(n);
  for (let q = 0; q < n; q++) x[q] = r.range(-1, 1);
  return x;
}

function build(c: Config) {
  return c.model === 'kan'
    ? new KAN({ widths: c.widths, gridSize: c.G, splineOrder: c.k, seed: 1 })
    : new MLP({ widths: c.widths, activation: 'relu', seed: 1 });
}

function flopsPerSample(c: Config, backward: boolean): number {
  let f = 0;
  for (let l = 0; l + 1 < c.widths.length; l++) {
    const io = c.widths[l] * c.widths[l + 1];
    f += c.model === 'kan' ? io * 2 * (c.k + 3) + (backward ? io * 2 * (3 * c.k + 7) : 0) : io * 2 * (backward ? 3 : 1);
  }
  return f;
}

function median(a: number[]): number { const s = a.slice().sort((p, q) => p - q); return s[Math.floor(s.length / 2)]; }

// Time fn: repeat until ~minTime per sample, `reps` samples; returns median seconds per call.
function time(fn: () => void, reps: number, minTime: number): number {
  fn();
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    do { fn(); n++; t = performance.now(); } while (t - t0 < minTime * 1000);
    out.push((t - t0) / 1000 / n);
  }
  return median(out);
}

// 1. Validation: every config's forward and gradients on the active path vs the scalar path.
function validate(c: Config): number {
  const path = simd();
  const m = build(c);
  const B = Math.min(c.B, 64);
  const x = randomInput(B * c.widths[0], 7);
  const run = (p: SimdPath) => {
    setSimd(p);
    const y = m.forwardTrain(x, B).slice();
    m.zeroGrad();
    m.backward(new Float32Array(y.length).fill(1));
    return { y, g: m.grads.slice() };
  };
  const ref = run('scalar');
  const got = run(path);
  setSimd(path);
  let err = 0, scale = 1e-30;
  for (const [a, b] of [[ref.y, got.y], [ref.g, got.g]] as const)
    for (let q = 0; q < a.length; q++) { err = Math.max(err, Math.abs(a[q] - b[q])); scale = Math.max(scale, Math.abs(a[q])); }
  const rel = err / scale;
  if (!(rel < 1e-4)) throw new Error(`validation failed for config ${c.name}: ${path} vs scalar max rel diff ${rel}`);
  return rel;
}

const reps = quick ? 3 : 5, minTime = quick ? 0.1 : 0.4;
const threads = getNumThreads();
const path = simd();
console.log(`kan-native bench — ${os.cpus()[0]?.model ?? 'cpu'}, SIMD path ${path}, ${threads} threads${quick ? ' (quick)' : ''}`);
const peak = peakGflops(threads, quick ? 0.2 : 0.5);
const peak1 = peakGflops(1, quick ? 0.2 : 0.5);
console.log(`FMA peak probe: ${peak.toFixed(1)} GFLOP/s on ${threads} threads, ${peak1.toFixed(1)} on 1`);

const rows: Record<string, unknown>[] = [];
for (const c of configs) {
  const valid = validate(c);
  const m = build(c);
  const x = randomInput(c.B * c.widths[0], 3);
  const dy = new Float32Array(c.B * c.widths[c.widths.length - 1]).fill(1e-3);
  const fwd = time(() => { m.forwardTrain(x, c.B); }, reps, minTime);
  const fb = time(() => { m.forwardTrain(x, c.B); m.zeroGrad(); m.backward(dy); }, reps, minTime);
  let fb1 = NaN;
  if (threads > 1) {
    setNumThreads(1);
    fb1 = time(() => { m.forwardTrain(x, c.B); m.zeroGrad(); m.backward(dy); }, reps, minTime);
    setNumThreads(threads);
  }
  const row = {
    config: c.name, model: `${c.model.toUpperCase()} [${c.widths.join(',')}]${c.model === 'kan' ? ` G=${c.G} k=${c.k}` : ''}`, B: c.B,
    forwardSamplesPerSec: c.B / fwd, fwdBwdSamplesPerSec: c.B / fb, fwdBwdSamplesPerSec1Thread: c.B / fb1,
    forwardGflops: (flopsPerSample(c, false) * c.B) / fwd / 1e9, fwdBwdGflops: (flopsPerSample(c, true) * c.B) / fb / 1e9,
    validationMaxRelDiff: valid,
  };
  rows.push(row);
}

// onnxruntime on the exported config-a model, same inputs, same thread count.
const onnxRow = await (async () => {
  const { toOnnx } = await import('../lib/onnx/export.js');
  const ort = await import('onnxruntime-node');
  const c = configs[0];
  const m = build(c);
  const x = randomInput(c.B * c.widths[0], 3);
  const session = await ort.InferenceSession.create(toOnnx(m), { intraOpNumThreads: threads, interOpNumThreads: 1, logSeverityLevel: 3 });
  const feeds = { x: new ort.Tensor('float32', x, [c.B, c.widths[0]]) };
  const check = (await session.run(feeds)).y.data as Float32Array;
  const ref = m.forward(x);
  let diff = 0;
  for (let q = 0; q < ref.length; q++) diff = Math.max(diff, Math.abs(ref[q] - check[q]));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const t0 = performance.now();
    do { await session.run(feeds); n++; } while (performance.now() - t0 < minTime * 1000);
    samples.push((performance.now() - t0) / 1000 / n);
  }
  await session.release();
  const nativeFwd = time(() => { m.forward(x); }, reps, minTime);
  return { config: 'a', onnxForwardSamplesPerSec: c.B / median(samples), nativeForwardSamplesPerSec: c.B / nativeFwd, maxAbsDiff: diff };
})();

// Single-sample forward latency from JavaScript (config a).
const ma = build(configs[0]);
const x1 = randomInput(784, 5);
const lat: number[] = [];
for (let r = 0; r < (quick ? 200 : 1000); r++) { const t0 = process.hrtime.bigint(); ma.forward(x1); lat.push(Number(process.hrtime.bigint() - t0) / 1000); }

const fmt = (v: number) => (Number.isFinite(v) ? (v >= 1e6 ? (v / 1e6).toFixed(2) + 'M' : v >= 1e3 ? (v / 1e3).toFixed(1) + 'k' : v.toFixed(0)) : '-');
console.log('\nconfig  model                          B      fwd/s     fwd+bwd/s  (1 thread)  fwd GF/s  f+b GF/s  f+b % peak');
for (const r of rows as any[])
  console.log(`${r.config.padEnd(7)} ${r.model.padEnd(30)} ${String(r.B).padEnd(6)} ${fmt(r.forwardSamplesPerSec).padStart(9)} ${fmt(r.fwdBwdSamplesPerSec).padStart(11)} ${fmt(r.fwdBwdSamplesPerSec1Thread).padStart(11)} ${r.forwardGflops.toFixed(1).padStart(9)} ${r.fwdBwdGflops.toFixed(1).padStart(9)} ${(100 * r.fwdBwdGflops / peak).toFixed(1).padStart(10)}%`);
const a = rows.find((r) => r.config === 'a') as any, e = rows.find((r) => r.config === 'e') as any;
const flat = a.fwdBwdSamplesPerSec / e.fwdBwdSamplesPerSec;
console.log(`\nG=32 vs G=5 forward+backward time ratio (config e / a): ${flat.toFixed(2)} (flat in G means ~1)`);
console.log(`single-sample forward of config a from JS: median ${median(lat).toFixed(1)} µs`);
console.log(`config a forward, same inputs and ${threads} threads: native ${fmt(onnxRow.nativeForwardSamplesPerSec)}/s, ` +
  `onnxruntime on the exported model ${fmt(onnxRow.onnxForwardSamplesPerSec)}/s (native/onnx ${(onnxRow.nativeForwardSamplesPerSec / onnxRow.onnxForwardSamplesPerSec).toFixed(2)}×, max |diff| ${onnxRow.maxAbsDiff.toExponential(1)})`);
writeFileSync('bench.json', JSON.stringify({
  date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, simd: path, threads,
  peakGflops: peak, peakGflops1Thread: peak1, rows, onnx: onnxRow, gridRatioEoverA: flat, singleSampleForwardMicros: median(lat), quick,
}, null, 2));
console.log('wrote bench.json');
void native;
