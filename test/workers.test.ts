// workers.test.ts — the addon in worker_threads: 4 workers per round each import the compiled
// package (dist/lib/index.js), build and train their own KAN and post the results; 5 rounds; the
// results are bitwise identical across workers, rounds, sync/async steps and the main thread,
// which trains the same model concurrently. Then workers are terminate()d mid-training (inside
// synchronous native calls and with asynchronous jobs in flight): the process survives, the
// main thread keeps working and a new round gives the same results.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(here, '../dist/lib/index.js');
const LIB_URL = pathToFileURL(DIST).href;

// The job both the workers and the main thread run: a KAN trained on a seeded dataset.
const JOB_SRC = `
export function dataset(Rng, n, inD, outD, seed) {
  const rng = new Rng(seed);
  const x = new Float32Array(n * inD), y = new Float32Array(n * outD);
  for (let q = 0; q < x.length; q++) x[q] = rng.uniform() * 2 - 1;
  for (let s = 0; s < n; s++)
    for (let o = 0; o < outD; o++) y[s * outD + o] = Math.sin(2 * x[s * inD + (o % inD)]) * x[s * inD + ((o + 3) % inD)];
  return { x, y };
}
export async function runJob(lib, job) {
  const { KAN, train, Rng } = lib;
  const model = new KAN({ widths: job.widths, gridSize: 5, seed: job.seed });
  const d = dataset(Rng, job.n, job.widths[0], job.widths[job.widths.length - 1], job.seed + 1);
  const r = await train(model, d, { steps: job.steps, batchSize: job.batchSize, lr: 0.01, async: job.async, seed: job.seed });
  const xs = d.x.subarray(0, 8 * job.widths[0]);
  const y = model.forward(xs), ya = await model.forwardAsync(xs);
  return { losses: r.losses, params: model.params.slice(), y, ya };
}
`;

const WORKER_SRC = `
import { parentPort, workerData, threadId } from 'node:worker_threads';
const lib = await import(workerData.lib);
const { runJob, dataset } = await import(workerData.job);
if (workerData.save) {
  // Save a small model to a shared path n times; count the failures by error code.
  const { path, seed, n } = workerData.save;
  const model = new lib.KAN({ widths: [8, 16, 2], gridSize: 5, seed });
  const errors = {};
  let ok = 0, first = null;
  for (let q = 0; q < n; q++) {
    try { model.save(path); ok++; } catch (e) { errors[e.code] = (errors[e.code] || 0) + 1; first = first || e.message; }
  }
  parentPort.postMessage({ type: 'saved', ok, errors, first, bytes: model.toBytes() });
} else if (workerData.forever) {
  // Work "forever" (until terminate()), announcing once it is under way.
  const { widths: w, mode } = workerData.forever;
  const model = new lib.KAN({ widths: w, gridSize: 5, seed: 1 });
  const d = dataset(lib.Rng, 512, w[0], w[w.length - 1], 2);
  if (mode === 'forwardAsync') {
    parentPort.postMessage({ type: 'training', threadId });
    for (;;) await model.forwardAsync(d.x);
  }
  let told = false;
  await lib.train(model, d, { steps: 1e9, batchSize: 256, async: mode === 'train-async', onStep: ({ step }) => {
    if (!told && step >= 2) { told = true; parentPort.postMessage({ type: 'training', threadId }); }
  } });
  parentPort.postMessage({ type: 'finished?!' });
} else {
  const t0 = performance.now();
  const r = await runJob(lib, workerData.jobSpec);
  parentPort.postMessage({ type: 'done', threadId, ms: performance.now() - t0, ...r });
}
`;

// A separate process terminates workers (so an abort takes down that process only and is seen
// as its exit status), then runs the job on its main thread and a fresh round of 4 workers.
const TERMINATE_SRC = `
import { Worker } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
const [libUrl, jobUrl, workerFile, modesArg, jobArg] = process.argv.slice(2);
const modes = modesArg.split(',');
const JOB = JSON.parse(jobArg);
const lib = await import(libUrl);
const { runJob } = await import(jobUrl);
const b64 = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = { terminations: [], main: [], workers: [] };
for (let rep = 0; rep < 4; rep++) {
  const victims = modes.map((mode) => {
    const worker = new Worker(workerFile, { workerData: { lib: libUrl, job: jobUrl, forever: { widths: [784, 64, 10], mode } } });
    const ready = new Promise((res, rej) => {
      worker.on('message', (m) => { if (m.type === 'training') res(); else rej(new Error('unexpected message ' + JSON.stringify(m))); });
      worker.on('error', rej);
      worker.on('exit', (code) => rej(new Error('worker exited early with ' + code)));
    });
    return { worker, ready, mode };
  });
  await Promise.all(victims.map((v) => v.ready));
  await sleep(3 + 9 * rep);  // stop at different points of a step (tens of ms here)
  const t0 = performance.now();
  const codes = await Promise.all(victims.map((v) => v.worker.terminate()));
  out.terminations.push({ rep, modes, codes, ms: performance.now() - t0 });
  const r = await runJob(lib, { ...JOB, async: rep % 2 === 0 });
  out.main.push(b64(r.params));
}
const round = await Promise.all([0, 1, 2, 3].map((q) => new Promise((res, rej) => {
  const w = new Worker(workerFile, { workerData: { lib: libUrl, job: jobUrl, jobSpec: { ...JOB, async: q % 2 === 0 } } });
  let msg = null;
  w.on('message', (m) => { msg = m; });
  w.on('error', rej);
  w.on('exit', (code) => res({ code, params: msg ? b64(msg.params) : null }));
})));
out.workers = round;
process.stdout.write(JSON.stringify(out));
`;

let dir = '';
let terminateFile = '';
let workerFile = '';
let jobFile = '';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let lib: any;
let runJob: (lib: unknown, job: JobSpec) => Promise<JobResult>;

interface JobSpec { widths: number[]; seed: number; n: number; steps: number; batchSize: number; async: boolean }
interface JobResult { losses: Float32Array; params: Float32Array; y: Float32Array; ya: Float32Array }

const report: string[] = [];
beforeAll(async () => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'kan-workers-'));
  workerFile = join(dir, 'worker.mjs');
  jobFile = join(dir, 'job.mjs');
  fs.writeFileSync(jobFile, JOB_SRC);
  fs.writeFileSync(workerFile, WORKER_SRC);
  terminateFile = join(dir, 'terminate.mjs');
  fs.writeFileSync(terminateFile, TERMINATE_SRC);
  lib = await import(LIB_URL);
  ({ runJob } = await import(pathToFileURL(jobFile).href));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  console.log('[workers]\n  ' + report.join('\n  '));
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let q = 0; q < ua.length; q++) if (ua[q] !== ub[q]) return false;
  return true;
}

const JOB: Omit<JobSpec, 'async'> = { widths: [16, 32, 4], seed: 7, n: 512, steps: 150, batchSize: 128 };

interface WorkerOutcome { msg: (JobResult & { type: string; threadId: number; ms: number }) | null; error: unknown; exitCode: number }

function startJobWorker(async: boolean): { worker: Worker; done: Promise<WorkerOutcome> } {
  const worker = new Worker(workerFile, { workerData: { lib: LIB_URL, job: pathToFileURL(jobFile).href, jobSpec: { ...JOB, async } } });
  const done = new Promise<WorkerOutcome>((res) => {
    const out: WorkerOutcome = { msg: null, error: null, exitCode: -1 };
    worker.on('message', (m) => { out.msg = m; });
    worker.on('error', (e) => { out.error = e; });
    worker.on('exit', (code) => { out.exitCode = code; res(out); });
  });
  return { worker, done };
}

function checkResult(r: JobResult, ref: JobResult, what: string): void {
  expect(sameBits(r.losses, ref.losses), `${what}: losses`).toBe(true);
  expect(sameBits(r.params, ref.params), `${what}: params`).toBe(true);
  expect(sameBits(r.y, ref.y), `${what}: forward`).toBe(true);
  expect(sameBits(r.ya, ref.ya), `${what}: forwardAsync`).toBe(true);
}

let reference: JobResult;

describe('worker_threads', () => {
  it('reference: the job on the main thread alone (sync and async steps agree bitwise)', async () => {
    reference = await runJob(lib, { ...JOB, async: false });
    const again = await runJob(lib, { ...JOB, async: true });
    checkResult(again, reference, 'main async vs sync');
    expect(sameBits(reference.y, reference.ya)).toBe(true);
    // The training did something (the comparison is not between untouched models).
    expect(reference.losses[JOB.steps - 1]).toBeLessThan(reference.losses[0]);
  });

  it('5 rounds × 4 workers, each training its own KAN, while the main thread trains too: all identical, clean exits', async () => {
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      const ws = [0, 1, 2, 3].map((q) => startJobWorker(q % 2 === 1));
      // The main thread uses the addon meanwhile: the same job, alternating sync/async steps.
      let mainRuns = 0;
      let allDone = false;
      const outcomes = Promise.all(ws.map((w) => w.done)).finally(() => { allDone = true; });
      while (!allDone || mainRuns === 0) {
        const r = await runJob(lib, { ...JOB, async: mainRuns % 2 === 1 });
        checkResult(r, reference, `round ${round} main run ${mainRuns}`);
        mainRuns++;
      }
      const outs = await outcomes;
      const ids = new Set<number>();
      outs.forEach((o, q) => {
        expect(o.error, `round ${round} worker ${q}`).toBeNull();
        expect(o.exitCode, `round ${round} worker ${q} exit code`).toBe(0);
        expect(o.msg?.type).toBe('done');
        checkResult(o.msg!, reference, `round ${round} worker ${q}`);
        ids.add(o.msg!.threadId);
      });
      expect(ids.size).toBe(4);
      report.push(`round ${round}: 4 workers done in ${(performance.now() - t0).toFixed(0)} ms ` +
        `(per-worker job ${outs.map((o) => o.msg!.ms.toFixed(0)).join('/')} ms); main thread ran the job ${mainRuns}× meanwhile; all bitwise equal`);
    }
  });

  it('two workers saving to the same path at once: every save succeeds, no temp file is left, the final file is one of the two models', async () => {
    // Atomic save (io.ts) writes a temp file beside the target named after the pid and the
    // millisecond; worker threads share the pid.
    const target = join(dir, 'shared.kan');
    const N = 1000;
    const outs = await Promise.all([101, 102].map((seed) => new Promise<{ ok: number; errors: Record<string, number>; first: string | null; bytes: Uint8Array }>((res, rej) => {
      const w = new Worker(workerFile, { workerData: { lib: LIB_URL, job: pathToFileURL(jobFile).href, save: { path: target, seed, n: N } } });
      let msg: { ok: number; errors: Record<string, number>; first: string | null; bytes: Uint8Array } | null = null;
      w.on('message', (m) => { msg = m; });
      w.on('error', rej);
      w.on('exit', (code) => (code === 0 && msg ? res(msg) : rej(new Error(`save worker exited with ${code}`))));
    })));
    const final = fs.readFileSync(target);
    const leftovers = fs.readdirSync(dir).filter((f) => f.startsWith('.shared.kan.'));
    report.push(`concurrent saves to one path from 2 workers (${N} each): ` +
      outs.map((o, q) => `worker ${q}: ${o.ok} ok, failures ${JSON.stringify(o.errors)}`).join('; ') +
      `; temp files left: ${leftovers.length}` + (outs.find((o) => o.first) ? `; e.g. "${outs.find((o) => o.first)!.first}"` : ''));
    expect(outs.some((o) => Buffer.from(o.bytes).equals(final))).toBe(true);
    expect(leftovers).toEqual([]);
    for (const o of outs) {
      expect(o.errors).toEqual({});
      expect(o.ok).toBe(N);
    }
  });

  const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  for (const [title, modes] of [
    ['synchronous steps (terminate() while a native call runs on the worker thread)', 'train-sync'],
    ['asynchronous steps and forwardAsync (terminate() with native jobs in flight)', 'train-async,forwardAsync'],
  ] as const) {
    it(`terminate() workers mid-training, ${title}: the process survives, and a new round works`, () => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [terminateFile, LIB_URL, pathToFileURL(jobFile).href, workerFile, modes,
        JSON.stringify({ ...JOB, async: false })], { encoding: 'utf8', timeout: 90_000 });
      const ms = performance.now() - t0;
      report.push(`terminate [${modes}]: child exit status ${r.status}, signal ${r.signal}, ${ms.toFixed(0)} ms` +
        (r.stderr ? `; stderr: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''));
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as {
        terminations: { rep: number; codes: number[]; ms: number }[]; main: string[]; workers: { code: number; params: string | null }[];
      };
      for (const t of out.terminations) expect(t.codes.every((c) => c === 1)).toBe(true);
      report.push(`terminate [${modes}]: ${out.terminations.length} reps, terminate() took ` +
        out.terminations.map((t) => t.ms.toFixed(0)).join('/') + ' ms');
      expect(out.terminations.length).toBe(4);
      const ref = b64(reference.params);
      for (const p of out.main) expect(p).toBe(ref);
      expect(out.workers.length).toBe(4);
      for (const w of out.workers) {
        expect(w.code).toBe(0);
        expect(w.params).toBe(ref);
      }
    });
  }
});
