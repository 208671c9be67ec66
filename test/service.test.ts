// service.test.ts — "ready for Node services": the event loop stays responsive while a large
// model trains (with a synchronous control that shows the probe can see a blocked loop), many
// concurrent forwardAsync calls during training each see whole steps (matched bitwise against
// models restored from per-step snapshots), the busy rules of ModelLock / train() (second train,
// low-level calls, forward() during an asynchronous step, save()), AbortSignal semantics, and
// that forwardAsync and train() copy their inputs.
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import {
  KAN, ModelBusyError, train, updateGrid, updateGridAsync, type KANOptions, type StepInfo, type TrainOptions,
} from '../lib/index.js';
import { Rng } from '../lib/rng.js';


// train() checks its data's values between event-loop turns before the first step: wait until a
// step holds the model's write lock.
async function untilWriting(model: { lock: { isWriting: boolean } }): Promise<void> {
  for (let q = 0; q < 10000 && !model.lock.isWriting; q++) await new Promise<void>((r) => setImmediate(r));
}

// ---------------------------------------------------------------------------------------------
// Helpers

const report: string[] = [];
afterAll(() => { console.log('[service]\n  ' + report.join('\n  ')); });

/** Bitwise equality of two Float32Arrays (NaN payloads, -0 included). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let q = 0; q < ua.length; q++) if (ua[q] !== ub[q]) return false;
  return true;
}

function randomF32(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let q = 0; q < n; q++) a[q] = lo + (hi - lo) * rng.uniform();
  return a;
}

function regression(seed: number, n: number, inD: number, outD: number) {
  const rng = new Rng(seed);
  const x = randomF32(rng, n * inD);
  const y = new Float32Array(n * outD);
  for (let s = 0; s < n; s++)
    for (let o = 0; o < outD; o++) y[s * outD + o] = Math.sin(x[s * inD + (o % inD)] * 2) * 0.5 + 0.1 * x[s * inD + ((o + 1) % inD)];
  return { x, y };
}

function classification(seed: number, n: number, inD: number, C: number) {
  const rng = new Rng(seed);
  const x = randomF32(rng, n * inD);
  const y = new Int32Array(n);
  for (let s = 0; s < n; s++) y[s] = Math.floor(rng.uniform() * C) % C;
  return { x, y };
}

function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
}

// Time the main thread spent runnable but not running (preempted by other threads: the native
// pool's and other processes' on this shared 2-core machine), from Linux schedstat; null where
// unavailable. A tick's lag minus this wait is the time the loop itself was blocked (JS or a
// native call on the main thread, or waiting on a lock), which is what the library controls.
const schedstatPath = `/proc/self/task/${process.pid}/schedstat`;
let schedFd = -1;
try { schedFd = fs.openSync(schedstatPath, 'r'); } catch { schedFd = -1; }
const schedBuf = Buffer.alloc(128);
function runqueueWaitMs(): number | null {
  if (schedFd < 0) return null;
  const n = fs.readSync(schedFd, schedBuf, 0, schedBuf.length, 0);
  const f = schedBuf.toString('latin1', 0, n).trim().split(/\s+/);
  return Number(f[1]) / 1e6;
}
afterAll(() => { if (schedFd >= 0) fs.closeSync(schedFd); });

interface Tick { start: number; lag: number; blocked: number }
/** A 1 ms setInterval that records how late each tick is, and how much of that the loop was blocked. */
function lagProbe() {
  const ticks: Tick[] = [];
  let last = performance.now();
  let lastWait = runqueueWaitMs();
  const h = setInterval(() => {
    const now = performance.now();
    const wait = runqueueWaitMs();
    const lag = Math.max(0, now - last - 1);
    const blocked = wait === null || lastWait === null ? lag : Math.max(0, lag - (wait - lastWait));
    ticks.push({ start: last, lag, blocked });
    last = now;
    lastWait = wait;
  }, 1);
  let stopped = false;
  return {
    /** Stats of the ticks whose interval began at or after `from` (default: all). */
    stop(from = -Infinity) {
      if (!stopped) clearInterval(h);
      stopped = true;
      return stats(ticks.filter((t) => t.start >= from));
    },
  };
}
function stats(ticks: Tick[]) {
  const s = ticks.map((t) => t.lag).sort((a, b) => a - b);
  const b = ticks.map((t) => t.blocked).sort((x, y) => x - y);
  return { ticks: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.length ? s[s.length - 1] : NaN,
    blockedMax: b.length ? b[b.length - 1] : NaN };
}
const fmt = (s: ReturnType<typeof stats>) =>
  `ticks=${s.ticks} p50=${s.p50.toFixed(2)} ms p99=${s.p99.toFixed(2)} ms max=${s.max.toFixed(2)} ms (blocked max ${s.blockedMax.toFixed(2)} ms)`;

/** A fresh KAN with the same options whose data equal `model`'s right now (grids, masks, params). */
function twin(opts: KANOptions, model: KAN): KAN {
  const t = new KAN(opts);
  // Same options and seed: the initialisation must agree (else the restore below would hide it).
  expect(sameBits(t.data, model.data)).toBe(true);
  t.data.set(model.data);
  return t;
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// 1. Event loop responsiveness

describe('event loop stays responsive during a large training run', () => {
  const opts: KANOptions = { widths: [784, 64, 10], gridSize: 5, seed: 3 };
  const data = classification(5, 4096, 784, 10);
  // The lag test's batch: a step must take well over the 20 ms bound (else a blocking step would
  // pass too); at batch 1024 a step took 19.8 ms in one CI run on a quiet machine.
  const LAG_B = 4096;

  // The machine is shared (2 cores, other processes): a tick can also be late because the OS ran
  // other threads (with nothing blocking the loop). The hard bound applies to the time the loop
  // was blocked (lag minus the main thread's run-queue wait); the raw lag must still have p99 <
  // 20 ms, and its max is asserted < 20 ms on the best of up to 3 attempts.
  for (const mode of [true, 'auto'] as const) {
    it(`KAN [784,64,10] G=5, batch ${LAG_B}, async: ${String(mode)}: max lag < 20 ms during the steps`, async () => {
      const model = new KAN(opts);
      // A short warm-up run (workspaces, code paths), not measured; it sizes the run to ~2.2 s.
      const ends: number[] = [];
      await train(model, data, { steps: 4, batchSize: LAG_B, loss: 'crossEntropy', async: mode, onStep: () => { ends.push(performance.now()); } });
      const warmStep = (ends[3] - ends[0]) / 3;
      const steps = Math.max(10, Math.min(200, Math.ceil(2200 / warmStep)));
      let bestMax = Infinity;
      for (let attempt = 1; attempt <= 3 && !(bestMax < 20); attempt++) {
        const idle = lagProbe();
        await sleep(200);
        const idleStats = idle.stop();
        const stepMs: number[] = [];
        const probe = lagProbe();
        await sleep(5);
        const t0 = performance.now();
        let lastStep = t0;
        const run = train(model, data, {
          steps, batchSize: LAG_B, loss: 'crossEntropy', async: mode, seed: attempt,
          onStep: () => { const now = performance.now(); stepMs.push(now - lastStep); lastStep = now; },
        });
        const setupMs = performance.now() - t0;  // the synchronous part of the train() call
        const r = await run;
        const wall = performance.now() - t0;
        const s = probe.stop(t0 + setupMs);
        stepMs.sort((a, b) => a - b);
        report.push(`lag async=${String(mode)} attempt ${attempt}: ${r.steps} steps in ${wall.toFixed(0)} ms (median step ${quantile(stepMs, 0.5).toFixed(1)} ms); ` +
          `during the steps ${fmt(s)}; sync part of the train() call ${setupMs.toFixed(1)} ms; idle before: max=${idleStats.max.toFixed(2)} ms`);
        expect(r.steps).toBe(steps);
        expect(Number.isFinite(r.finalLoss)).toBe(true);
        // The run is long enough and the steps heavy enough to mean something.
        expect(wall).toBeGreaterThan(1200);
        expect(quantile(stepMs, 0.5)).toBeGreaterThan(20);
        // The probe really ran throughout (≈ one tick per ms).
        expect(s.ticks).toBeGreaterThan(wall / 4);
        expect(s.blockedMax).toBeLessThan(20);
        expect(s.p99).toBeLessThan(20);
        bestMax = Math.min(bestMax, s.max);
      }
      expect(bestMax).toBeLessThan(20);
    });
  }

  it('the synchronous part of a train() call on a larger dataset (20,000 × 784) is no more than the copy of its data', async () => {
    // train.ts: train() snapshots the data with one memcpy when called and checks the values a
    // slice at a time between event-loop turns — so the synchronous part is about a slice() of the data.
    const big = classification(57, 20000, 784, 10);
    let sliceMs = Infinity;
    for (let r = 0; r < 3; r++) { const s0 = performance.now(); big.x.slice(); big.y.slice(); sliceMs = Math.min(sliceMs, performance.now() - s0); }
    const model = new KAN(opts);
    const probe = lagProbe();
    await sleep(5);
    const t0 = performance.now();
    const run = train(model, big, { steps: 1, batchSize: 1024, loss: 'crossEntropy', async: true });
    const setupMs = performance.now() - t0;
    await run;
    const s = probe.stop();
    report.push(`train() on 20,000 × 784 (async: true): synchronous part of the call ${setupMs.toFixed(1)} ms (a slice() of the data: ${sliceMs.toFixed(1)} ms); probe ${fmt(s)}`);
    expect(setupMs).toBeLessThan(2 * sliceMs + 15);
  });

  it('control: the same native work in a synchronous loop blocks the event loop (the probe can fail)', async () => {
    const model = new KAN(opts);
    const B = 1024;
    const x = data.x.subarray(0, B * 784);
    const dy = randomF32(new Rng(9), B * 10, -0.01, 0.01);
    const probe = lagProbe();
    await sleep(20);  // let the probe tick a few times first
    const t0 = performance.now();
    let iters = 0;
    while (performance.now() - t0 < 300) {
      model.forwardTrain(x, B);
      model.zeroGrad();
      model.backward(dy);
      iters++;
    }
    await sleep(20);
    const s = probe.stop();
    report.push(`lag control (sync forwardTrain/backward loop, ${iters} iterations, ${(performance.now() - t0).toFixed(0)} ms): ${fmt(s)}`);
    expect(s.max).toBeGreaterThan(100);
    expect(s.blockedMax).toBeGreaterThan(100);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Concurrency: forwardAsync during train()

describe('1,000 concurrent forwardAsync calls during train() see whole steps', () => {
  for (const mode of [true, false] as const) {
    it(`Adam, 50 steps, async: ${mode}`, async () => {
      const opts: KANOptions = { widths: [64, 64, 8], gridSize: 5, seed: 21 };
      const model = new KAN(opts);
      const data = regression(22, 512, 64, 8);
      const fresh = twin(opts, model);
      const rng = new Rng(23);
      const inputs = Array.from({ length: 10 }, () => randomF32(rng, 4 * 64, -1.2, 1.2));
      const snaps: Float32Array[] = [model.params.slice()];
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => { unhandled.push(e); };
      process.on('unhandledRejection', onUnhandled);
      interface Call { input: number; firedAt: number; doneAt: number; y: Float32Array | null; err: unknown }
      const calls: Call[] = [];
      const fire = () => {
        const c: Call = { input: calls.length % inputs.length, firedAt: snaps.length - 1, doneAt: -1, y: null, err: null };
        calls.push(c);
        return model.forwardAsync(inputs[c.input]).then(
          (y) => { c.y = y; c.doneAt = snaps.length - 1; },
          (e) => { c.err = e; });
      };
      const pending: Promise<void>[] = [];
      let duringRun = 0;
      try {
        const run = train(model, data, {
          optimizer: 'adam', lr: 0.01, steps: 50, batchSize: 128, async: mode, seed: 4,
          onStep: () => {
            snaps.push(model.params.slice());
            // Calls fired right between two steps: 12 per step, so that at least 40 + 49·12 = 628
            // are out before the last step however few event-loop turns a (fast) step leaves.
            for (let q = 0; q < 12 && calls.length < 1000; q++) pending.push(fire());
          },
        });
        let finished = false;
        run.finally(() => { finished = true; }).catch(() => {});
        // A burst while the first step holds the model, then waves paced to the steps (about
        // 18 per step, a few per event-loop turn) until 1,000 are out.
        for (let q = 0; q < 40; q++) pending.push(fire());
        while (calls.length < 1000) {
          const budget = finished ? 1000 : 40 + 18 * snaps.length;
          for (let q = 0; q < 3 && calls.length < Math.min(1000, budget); q++) pending.push(fire());
          await (finished ? Promise.resolve() : tick());
        }
        const r = await run;
        await Promise.all(pending);
        duringRun = calls.filter((c) => c.firedAt < 50).length;
        expect(r.steps).toBe(50);
        expect(snaps.length).toBe(51);
      } finally {
        // A microtask turn or two so a stray rejection would be reported before we stop listening.
        await sleep(10);
        process.off('unhandledRejection', onUnhandled);
      }
      expect(unhandled).toEqual([]);
      expect(calls.length).toBe(1000);

      // Reference outputs: every snapshot × every input on a fresh model.
      const refs: Float32Array[][] = snaps.map((p) => {
        fresh.params.set(p);
        return inputs.map((x) => fresh.forward(x));
      });
      // Consecutive snapshots give different outputs (so matching a snapshot identifies it).
      for (let s = 1; s < snaps.length; s++) expect(sameBits(refs[s][0], refs[s - 1][0])).toBe(false);
      let bad = 0, outOfOrder = 0;
      const seen = new Set<number>();
      for (const c of calls) {
        expect(c.err).toBeNull();
        const matches: number[] = [];
        for (let s = 0; s < snaps.length; s++) if (sameBits(c.y!, refs[s][c.input])) matches.push(s);
        if (matches.length === 0) { bad++; continue; }
        // It saw the weights of a step completed after it was fired and no later than it resolved.
        if (!matches.some((s) => s >= c.firedAt && s <= c.doneAt)) outOfOrder++;
        for (const s of matches) seen.add(s);
      }
      report.push(`forwardAsync×1000 during train(async: ${mode}): ${duringRun} fired before the last step; ${calls.length - bad} matched a whole step, ${bad} mixed, ` +
        `${outOfOrder} outside [fired, resolved]; ${seen.size} distinct snapshots seen of ${snaps.length}`);
      expect(bad).toBe(0);
      expect(outOfOrder).toBe(0);
      // The calls really interleaved with the steps.
      expect(duringRun).toBeGreaterThanOrEqual(500);
      expect(seen.size).toBeGreaterThanOrEqual(10);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. Busy rules

describe('ModelBusyError while train() holds the model', () => {
  const opts: KANOptions = { widths: [784, 64, 10], gridSize: 5, seed: 31 };
  const data = classification(32, 512, 784, 10);
  const topts: TrainOptions = { steps: 10, batchSize: 256, loss: 'crossEntropy', async: true, seed: 2 };

  it('second train(), forwardTrain/backward/zeroGrad/updateGrid(Async) are refused; forward() throws only during a step; all work afterwards', async () => {
    const ref = new KAN(opts);
    const refRun = await train(ref, data, topts);

    const model = new KAN(opts);
    const fresh = twin(opts, model);
    const snaps: Float32Array[] = [model.params.slice()];
    const x = data.x.subarray(0, 8 * 784);
    const dy = new Float32Array(8 * 10).fill(0.1);
    let inStepChecks = 0;
    const betweenSteps: { s: number; y: Float32Array }[] = [];
    const run = train(model, data, {
      ...topts,
      onStep: () => {
        snaps.push(model.params.slice());
        // Between two steps forward() and save()/toBytes() are allowed (model.ts docs).
        betweenSteps.push({ s: snaps.length - 1, y: model.forward(x) });
        expect(() => model.toBytes()).not.toThrow();
        inStepChecks++;
      },
    });
    expect(model.lock.training).toBe(true);
    await untilWriting(model);  // the first step holds the write lock now
    expect(model.lock.isWriting).toBe(true);
    const second = train(model, data, topts);
    await expect(second).rejects.toBeInstanceOf(ModelBusyError);
    await expect(second).rejects.toThrow(/already being trained/);
    for (const [what, fn] of [
      ['forwardTrain', () => model.forwardTrain(x, 8)],
      ['backward', () => model.backward(dy)],
      ['zeroGrad', () => model.zeroGrad()],
      ['updateGrid', () => updateGrid(model, x)],
    ] as const) {
      let err: unknown = null;
      try { fn(); } catch (e) { err = e; }
      expect(err, what).toBeInstanceOf(ModelBusyError);
    }
    await expect(updateGridAsync(model, x)).rejects.toBeInstanceOf(ModelBusyError);
    expect(() => model.forward(x)).toThrow(ModelBusyError);
    expect(() => model.toBytes()).toThrow(ModelBusyError);

    // Poll forward() on every event-loop turn during the run: it throws during a step, or
    // returns a result of a whole step.
    let finished = false;
    run.finally(() => { finished = true; }).catch(() => {});
    let threw = 0;
    const ok: { y: Float32Array; from: number }[] = [];
    while (!finished) {
      try {
        ok.push({ y: model.forward(x), from: snaps.length - 1 });
      } catch (e) {
        expect(e).toBeInstanceOf(ModelBusyError);
        expect((e as Error).message).toMatch(/forwardAsync/);
        threw++;
      }
      await tick();
    }
    const r = await run;
    expect(model.lock.training).toBe(false);
    expect(model.lock.isWriting).toBe(false);
    expect(inStepChecks).toBe(10);
    report.push(`forward() polled during train(async: true): ${threw} ModelBusyError, ${ok.length} results between steps`);
    expect(threw).toBeGreaterThan(0);

    // The refused calls changed nothing: same run as without them, bitwise.
    expect(sameBits(r.losses, refRun.losses)).toBe(true);
    expect(sameBits(model.params, ref.params)).toBe(true);
    expect(sameBits(model.data, ref.data)).toBe(true);

    // forward() results seen between steps are those of the snapshot current at that moment.
    const refOut = snaps.map((p) => { fresh.params.set(p); return fresh.forward(x); });
    for (const b of betweenSteps) expect(sameBits(b.y, refOut[b.s])).toBe(true);
    for (const o of ok) expect(sameBits(o.y, refOut[o.from])).toBe(true);

    // Everything works again.
    expect(model.forward(x).length).toBe(80);
    expect(model.forwardTrain(x, 8).length).toBe(80);
    model.zeroGrad();
    model.backward(dy);
    expect(model.grads.some((g) => g !== 0)).toBe(true);
    updateGrid(model, data.x.subarray(0, 64 * 784));
    await updateGridAsync(model, data.x.subarray(0, 64 * 784));
    expect(model.toBytes().length).toBeGreaterThan(4 * model.data.length);
    const again = await train(model, data, { ...topts, steps: 2 });
    expect(again.steps).toBe(2);
  });

  it('synchronous steps: forward() polled during train(async: false) never throws (no step is in flight at a turn)', async () => {
    const opts2: KANOptions = { widths: [16, 16, 2], gridSize: 5, seed: 41 };
    const model = new KAN(opts2);
    const d = regression(42, 256, 16, 2);
    const x = d.x.subarray(0, 4 * 16);
    let finished = false, polls = 0;
    const run = train(model, d, { steps: 3000, batchSize: 64, async: false });
    run.finally(() => { finished = true; }).catch(() => {});
    // Still a training run: the low-level calls are refused.
    expect(() => model.zeroGrad()).toThrow(ModelBusyError);
    // Right after the call (same synchronous turn) step 0 is still between its gradient and its
    // optimizer update (an await inside train()), so the lock is held; recorded, not asserted.
    const immediate = model.lock.isWriting;
    report.push(`train(async: false): lock.isWriting right after the call (same turn) = ${immediate}`);
    await tick();
    while (!finished) {
      model.forward(x);
      polls++;
      await tick();
    }
    await run;
    report.push(`forward() polled during train(async: false): ${polls} calls, none refused`);
    expect(polls).toBeGreaterThan(5);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. AbortSignal

describe('AbortSignal', () => {
  const data = classification(52, 512, 784, 10);
  const opts: KANOptions = { widths: [784, 64, 10], gridSize: 5, seed: 51 };

  for (const mode of [true, false] as const) {
    it(`aborting mid-run (async: ${mode}) rejects with the reason within one step; params = last completed step`, async () => {
      const model = new KAN(opts);
      const snaps: Float32Array[] = [model.params.slice()];
      const stepEnds: number[] = [];
      const ctrl = new AbortController();
      const reason = new Error('stop now');
      let abortedAt = -1;
      const run = train(model, data, {
        steps: 1000, batchSize: 256, loss: 'crossEntropy', async: mode, seed: 3,
        signal: ctrl.signal,
        onStep: () => { snaps.push(model.params.slice()); stepEnds.push(performance.now()); },
      });
      // Abort from a timer a random-ish time into the run (not on a step boundary).
      await new Promise<void>((resolve) => {
        const wait = () => {
          if (stepEnds.length >= 3) setTimeout(() => { ctrl.abort(reason); abortedAt = performance.now(); resolve(); }, 7);
          else setTimeout(wait, 2);
        };
        wait();
      });
      let err: unknown = null;
      try { await run; } catch (e) { err = e; }
      const rejectedAt = performance.now();
      expect(err).toBe(reason);
      const durations = stepEnds.slice(1).map((t, q) => t - stepEnds[q]).sort((a, b) => a - b);
      const stepsAfter = stepEnds.filter((t) => t > abortedAt).length;
      report.push(`abort async=${mode}: ${stepEnds.length} steps, ${stepsAfter} completed after abort(), rejection ${(rejectedAt - abortedAt).toFixed(1)} ms after abort (median step ${quantile(durations, 0.5).toFixed(1)} ms)`);
      // At most the step in flight completes.
      expect(stepsAfter).toBeLessThanOrEqual(mode ? 1 : 0);
      expect(rejectedAt - abortedAt).toBeLessThan(durations[durations.length - 1] * 1.5 + 30);
      expect(stepEnds.length).toBeLessThan(1000);
      // The model keeps the last completed step, bitwise.
      expect(sameBits(model.params, snaps[snaps.length - 1])).toBe(true);
      expect(model.lock.training).toBe(false);
      expect(model.lock.isWriting).toBe(false);
      const again = await train(model, data, { steps: 1, batchSize: 64, loss: 'crossEntropy' });
      expect(again.steps).toBe(1);
    });
  }

  it('abort() inside onStep at step 5: exactly 6 steps, params = snapshot 6, default reason is an AbortError', async () => {
    const opts2: KANOptions = { widths: [16, 16, 2], gridSize: 5, seed: 53 };
    for (const mode of [true, false] as const) {
      const model = new KAN(opts2);
      const d = regression(54, 256, 16, 2);
      const snaps: Float32Array[] = [model.params.slice()];
      const ctrl = new AbortController();
      let err: unknown = null;
      try {
        await train(model, d, {
          steps: 100, batchSize: 32, async: mode, signal: ctrl.signal,
          onStep: (i: StepInfo) => { snaps.push(model.params.slice()); if (i.step === 5) ctrl.abort(); },
        });
      } catch (e) { err = e; }
      expect(err).toBeInstanceOf(DOMException);
      expect((err as DOMException).name).toBe('AbortError');
      expect(snaps.length).toBe(7);
      expect(sameBits(model.params, snaps[6])).toBe(true);
      expect(sameBits(model.params, snaps[5])).toBe(false);
      // The same 6 steps without a signal give the same params.
      const ref = new KAN(opts2);
      await train(ref, d, { steps: 6, batchSize: 32, async: mode });
      expect(sameBits(model.params, ref.params)).toBe(true);
      expect(model.lock.training).toBe(false);
      expect((await train(model, d, { steps: 2, batchSize: 32, async: mode })).steps).toBe(2);
    }
  });

  it('an already-aborted signal rejects before any step and leaves the model untouched and free', async () => {
    const opts2: KANOptions = { widths: [16, 16, 2], gridSize: 5, seed: 55 };
    const model = new KAN(opts2);
    const before = model.data.slice();
    const d = regression(56, 128, 16, 2);
    const reason = new RangeError('already cancelled');
    let steps = 0;
    await expect(train(model, d, { steps: 10, signal: AbortSignal.abort(reason), onStep: () => { steps++; } })).rejects.toBe(reason);
    let err: unknown = null;
    try { await train(model, d, { steps: 10, async: true, signal: AbortSignal.abort(), onStep: () => { steps++; } }); } catch (e) { err = e; }
    expect((err as DOMException).name).toBe('AbortError');
    expect(steps).toBe(0);
    expect(sameBits(model.data, before)).toBe(true);
    expect(model.lock.training).toBe(false);
    const r = await train(model, d, { steps: 3 });
    expect(r.steps).toBe(3);
    expect(sameBits(model.data, before)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Inputs are copied

describe('inputs are copied', () => {
  it('forwardAsync: mutating x right after the call does not change the result (idle and queued behind a step)', async () => {
    const opts: KANOptions = { widths: [64, 64, 8], gridSize: 5, seed: 61 };
    const model = new KAN(opts);
    const fresh = twin(opts, model);
    const rng = new Rng(62);
    // Idle model: the native pass starts at once.
    for (let rep = 0; rep < 20; rep++) {
      const x = randomF32(rng, 256 * 64);
      const orig = x.slice();
      const p = model.forwardAsync(x);
      x.fill(rep % 2 ? NaN : 3.5);
      const y = await p;
      expect(sameBits(y, model.forward(orig))).toBe(true);
    }
    // Queued behind a training step (the pass starts later, after the mutation).
    const d = regression(63, 512, 64, 8);
    const snaps: Float32Array[] = [model.params.slice()];
    const run = train(model, d, { steps: 5, batchSize: 512, async: true, onStep: () => { snaps.push(model.params.slice()); } });
    await untilWriting(model);
    expect(model.lock.isWriting).toBe(true);
    const x = randomF32(rng, 256 * 64);
    const orig = x.slice();
    const p = model.forwardAsync(x);
    x.fill(-7);
    const y = await p;
    await run;
    const refs = snaps.map((s) => { fresh.params.set(s); return fresh.forward(orig); });
    expect(refs.some((r) => sameBits(r, y))).toBe(true);
    expect(sameBits(refs[0], y)).toBe(false);  // it waited for the step
  });

  for (const mode of [true, false] as const) {
    for (const batchSize of [64, 512]) {
      it(`train() copies its data (async: ${mode}, batchSize ${batchSize}${batchSize === 512 ? ', full batch' : ''})`, async () => {
        const opts: KANOptions = { widths: [8, 12, 3], gridSize: 5, seed: 71 };
        const base = regression(72, 512, 8, 3);
        const a = new KAN(opts), b = new KAN(opts);
        const topts: TrainOptions = { steps: 40, batchSize, async: mode, seed: 9, lr: 0.01 };
        const ra = await train(a, { x: base.x.slice(), y: base.y.slice() }, topts);
        const dm = { x: base.x.slice(), y: base.y.slice() };
        const garbage = new Rng(73);
        const mutate = () => {
          for (let q = 0; q < dm.x.length; q++) dm.x[q] = garbage.uniform() * 10 - 5;
          for (let q = 0; q < dm.y.length; q++) dm.y[q] = garbage.uniform() * 10 - 5;
        };
        const run = train(b, dm, { ...topts, onStep: mutate });
        mutate();
        const rb = await run;
        expect(sameBits(rb.losses, ra.losses)).toBe(true);
        expect(sameBits(b.params, a.params)).toBe(true);
        // Control: training on the mutated data does give different params.
        const c = new KAN(opts);
        await train(c, dm, topts);
        expect(sameBits(c.params, a.params)).toBe(false);
      });
    }
  }
});
