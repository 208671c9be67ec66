// leaks.test.ts — memory under explicit GC, in child processes (node --expose-gc) running
// scripts/leak-check.mjs on the compiled dist/: (1) 2,000 iterations of create / train 10 steps /
// forwardAsync / toOnnx / drop, sampled every 200 iterations: RSS, heapUsed and array-buffer
// memory flat from the 25% point to the end; (2) the training loop: the heap's data after GC
// (heapUsed without V8's code spaces, whose size follows when the JIT happened to optimise what)
// does not grow with the number of steps (500 vs 2,000, sync and async steps). Each probe also runs once with a
// deliberate leak (--retain) to show it detects one. (The full 10,000-iteration run:
// node --expose-gc --min-semi-space-size=16 scripts/leak-check.mjs 10000.)
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../scripts/leak-check.mjs');
const MB = 1024 * 1024, KB = 1024;
const report: string[] = [];
afterAll(() => { console.log('[leaks]\n  ' + report.join('\n  ')); });

interface Sample { i: number; rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number }
interface LoopOut { mode: 'loop'; N: number; msPerIteration: number; totalMs: number; kept: number; samples: Sample[] }
interface Mem { heapUsed: number; buffers: number }
interface StepsRun { async: boolean; base: Mem; afterShort: Mem; afterLong: Mem; afterShort2: Mem; afterLong2: Mem; inRunAtQuarter: Mem; inRunAtEnd: Mem; msPerStep: number }
interface StepsOut { mode: 'steps'; N: number; quarter: number; runs: StepsRun[] }
interface AllocOut { mode: 'alloc'; retain: boolean; manualStep: number; trainFull: number; trainMini: number }
// Growth from the N/4-step run to the N-step run, in each of the two pairs of runs
const pairGrowths = (r: StepsRun, k: keyof Mem): [number, number] =>
  [r.afterLong[k] - r.afterShort[k], r.afterLong2[k] - r.afterShort2[k]];

function runScript<T>(args: string[]): T {
  // --min-semi-space-size=16: V8's young generation at full size from the start, so its growth
  // (≈40 MB of RSS over the first ~1,000 iterations) is not mistaken for a leak.
  const r = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=16', SCRIPT, ...args],
    { encoding: 'utf8', timeout: 100_000, maxBuffer: 16 * MB });
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

const mb = (b: number) => (b / MB).toFixed(2);

/** Growth of each measure between the sample nearest the 25% point and the last one. */
function growth(out: LoopOut) {
  const quarter = out.N / 4;
  const s = out.samples;
  let q = 0;
  for (let k = 0; k < s.length; k++) if (Math.abs(s[k].i - quarter) < Math.abs(s[q].i - quarter)) q = k;
  const a = s[q], b = s[s.length - 1];
  return {
    from: a.i, to: b.i,
    rss: b.rss - a.rss, heapUsed: b.heapUsed - a.heapUsed, heapTotal: b.heapTotal - a.heapTotal,
    buffers: (b.external + b.arrayBuffers) - (a.external + a.arrayBuffers),
    rssMax: Math.max(...s.slice(q).map((x) => x.rss)) - a.rss,
  };
}

describe('create / train / toOnnx / drop loop', () => {
  it('2,000 iterations: RSS growth from the 25% point < 20 MB, heap and buffers flat', () => {
    const out = runScript<LoopOut>(['2000', '--every', '200']);
    expect(out.samples.length).toBe(11);
    const g = growth(out);
    report.push(`loop N=${out.N}: ${out.msPerIteration.toFixed(2)} ms/iteration (${(out.totalMs / 1000).toFixed(1)} s); ` +
      `RSS ${mb(out.samples[0].rss)} → ${mb(out.samples.at(-1)!.rss)} MB; from i=${g.from} to i=${g.to}: ` +
      `RSS ${mb(g.rss)} MB (max excursion ${mb(g.rssMax)} MB), heapUsed ${(g.heapUsed / KB).toFixed(0)} KB, ` +
      `heapTotal ${mb(g.heapTotal)} MB, external+arrayBuffers ${(g.buffers / KB).toFixed(0)} KB`);
    report.push('loop samples (i: rss MB / heapUsed MB): ' + out.samples.map((s) => `${s.i}: ${mb(s.rss)}/${mb(s.heapUsed)}`).join(', '));
    expect(g.rss).toBeLessThan(20 * MB);
    expect(g.heapUsed).toBeLessThan(1 * MB);
    expect(g.buffers).toBeLessThan(1 * MB);
  });

  it('control: with a deliberate leak (every model kept) the same measures grow', () => {
    const out = runScript<LoopOut>(['600', '--every', '100', '--retain']);
    expect(out.kept).toBe(600);
    const g = growth(out);
    report.push(`loop control (--retain, N=600): from i=${g.from} to i=${g.to}: heapUsed +${mb(g.heapUsed)} MB, ` +
      `external+arrayBuffers +${mb(g.buffers)} MB, RSS +${mb(g.rss)} MB`);
    expect(g.heapUsed).toBeGreaterThan(1 * MB);
    expect(g.buffers).toBeGreaterThan(1 * MB);
  });
});

describe('training loop allocations', () => {
  it('the heap data after GC (no code spaces) does not grow with the number of steps (500 vs 2,000; sync and async steps)', () => {
    const out = runScript<StepsOut>(['--steps', '2000']);
    expect(out.runs.length).toBe(2);
    for (const r of out.runs) {
      const inRun = r.inRunAtEnd.heapUsed - r.inRunAtQuarter.heapUsed;
      // the smaller of the two pairs' growths: a leak shows in both, a one-off in one
      const heapGrowths = pairGrowths(r, 'heapUsed');
      const afterRuns = Math.min(...heapGrowths);
      const inRunBuf = r.inRunAtEnd.buffers - r.inRunAtQuarter.buffers;
      const afterRunsBuf = Math.min(...pairGrowths(r, 'buffers'));
      report.push(`train() async=${r.async}: ${r.msPerStep.toFixed(3)} ms/step; heap data (heapUsed without code) after GC inside the run at step ${out.quarter} → ${out.N}: ` +
        `${(inRun / KB).toFixed(1)} KB; after a ${out.N}-step run vs a ${out.quarter}-step run: ${heapGrowths.map((g) => (g / KB).toFixed(1)).join(' and ')} KB ` +
        `(base ${mb(r.base.heapUsed)} MB); external+arrayBuffers: ${(inRunBuf / KB).toFixed(1)} KB / ${(afterRunsBuf / KB).toFixed(1)} KB`);
      // 1,500 more steps: a leak of ~140 bytes a step or more would exceed these. After a warm-up
      // run of N steps heapUsed after a full GC still moved between runs by -126..+152 KB here,
      // and in two CI runs by 256 and 273 KB (once without the code spaces) while the in-run
      // measure stayed under 20 KB: a one-off, so the pair of runs is repeated and the smaller
      // growth counts (a leak grows the heap in both; shrinking is not a leak).
      expect(inRun).toBeLessThan(200 * KB);
      expect(afterRuns).toBeLessThan(200 * KB);
      expect(inRunBuf).toBeLessThan(64 * KB);
      expect(afterRunsBuf).toBeLessThan(64 * KB);
    }
  });

  it('control: a deliberate per-step leak (~3 KB kept per step) is seen by the same measure', () => {
    const out = runScript<StepsOut>(['--steps', '2000', '--retain']);
    for (const r of out.runs) {
      const inRun = r.inRunAtEnd.heapUsed - r.inRunAtQuarter.heapUsed;
      const inRunBuf = r.inRunAtEnd.buffers - r.inRunAtQuarter.buffers;
      const afterRuns = Math.min(...pairGrowths(r, 'heapUsed'));
      report.push(`train() control async=${r.async} (--retain): in-run growth heapUsed ${(inRun / KB).toFixed(0)} KB, external+arrayBuffers ${(inRunBuf / KB).toFixed(0)} KB; ` +
        `the smaller pair's growth ${(afterRuns / KB).toFixed(0)} KB`);
      // The retained Array (~2 KB) is on the heap, the Float32Array's 1 KB buffer outside it.
      expect(inRun).toBeGreaterThan(1000 * KB);
      expect(inRunBuf).toBeGreaterThan(64 * KB);
      expect(afterRuns).toBeGreaterThan(1000 * KB);
    }
  });
});

describe('what a training step allocates (garbage included)', () => {
  // Bytes per step over stretches with no GC (leak-check.mjs --alloc). The loss comes back from
  // the addon as a heap number (16 bytes), and train()'s onStep argument is an object; nothing
  // else is allocated per step. Before the synchronous paths lost their generators, promises and
  // per-sample subarrays: ~2 KB per step by hand, ~1.7 KB in train() (full batch), more with
  // minibatches.
  it('a synchronous step allocates only its loss value (by hand), and onStep\'s argument (train())', () => {
    const out = runScript<AllocOut>(['--alloc']);
    report.push(`allocated per step: forwardTrain + mseLoss + backward + Adam ${out.manualStep.toFixed(1)} B; ` +
      `train() sync, full batch ${out.trainFull.toFixed(1)} B, minibatches of 32 ${out.trainMini.toFixed(1)} B (with onStep)`);
    expect(out.manualStep).toBeLessThan(32);
    expect(out.trainFull).toBeLessThan(96);
    expect(out.trainMini).toBeLessThan(96);
  });

  it('control: a step that drops an array of 32 numbers is seen allocating it', () => {
    const out = runScript<AllocOut>(['--alloc', '--retain']);
    report.push(`allocated per step, control (--retain): by hand ${out.manualStep.toFixed(1)} B, train() ${out.trainFull.toFixed(1)} / ${out.trainMini.toFixed(1)} B`);
    expect(out.manualStep).toBeGreaterThan(250);
    expect(out.trainFull).toBeGreaterThan(250);
    expect(out.trainMini).toBeGreaterThan(250);
  });
});
