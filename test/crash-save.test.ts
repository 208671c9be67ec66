// crash-save.test.ts — atomic save under SIGKILL: a child process saves two different models A
// and B (≈2 MB each, different configs and sizes) alternately to the same path in a loop; the
// parent kills it with SIGKILL at seeded random times spread over many saves (≥ 30 kills). After
// every kill the file at the path must load (KAN.load) and be byte-for-byte A's or B's file,
// never a mix or a partial file. Temp files left by a killed save are reported; they never carry
// the target's name and hold a prefix of A's or B's bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KAN, Rng } from '../lib/index.js';

const KAN_DIST = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), '../dist/lib/kan.js')).href;
const KILLS = 36;
const TARGET = 'model.kan';

// The saver: loads A and B from their files, saves them alternately; "b<i>" / "e<i>" lines mark
// the start and end of save i (stdout to a pipe is synchronous on Linux).
const SAVER_SRC = `
import { readFileSync } from 'node:fs';
const { KAN } = await import(process.argv[2]);
const [, , , path, aFile, bFile] = process.argv;
const models = [KAN.fromBytes(readFileSync(aFile)), KAN.fromBytes(readFileSync(bFile))];
process.stdout.write('ready\\n');
for (let i = 0; ; i++) {
  process.stdout.write('b' + i + '\\n');
  models[i % 2].save(path);
  process.stdout.write('e' + i + '\\n');
}
`;

let dir = '';
let work = '';
let saver = '';
let aBytes: Buffer, bBytes: Buffer;
let A: KAN, B: KAN;
const report: string[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'kan-crash-save-'));
  work = join(dir, 'target');
  fs.mkdirSync(work);
  saver = join(dir, 'saver.mjs');
  fs.writeFileSync(saver, SAVER_SRC);
  A = new KAN({ widths: [784, 64, 10], gridSize: 5, seed: 11 });
  B = new KAN({ widths: [256, 128, 16], gridSize: 8, seed: 12, base: 'identity' });
  aBytes = Buffer.from(A.toBytes());
  bBytes = Buffer.from(B.toBytes());
  fs.writeFileSync(join(dir, 'a.bin'), aBytes);
  fs.writeFileSync(join(dir, 'b.bin'), bBytes);
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  console.log('[crash-save]\n  ' + report.join('\n  '));
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let q = 0; q < ua.length; q++) if (ua[q] !== ub[q]) return false;
  return true;
}

interface KillOutcome { delay: number; lastLine: string; sinceLast: number; saves: number; saveMs: number[]; which: 'A' | 'B'; temps: { name: string; size: number }[] }

/** Starts a saver, kills it after `delay` ms of saving, checks the target; returns what happened. */
async function killRound(delay: number): Promise<KillOutcome> {
  const target = join(work, TARGET);
  const child = spawn(process.execPath, [saver, KAN_DIST, target, join(dir, 'a.bin'), join(dir, 'b.bin')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  let buf = '';
  let lastLine = '', lastAt = 0, saves = 0;
  const begins = new Map<number, number>();
  const saveMs: number[] = [];
  const ready = new Promise<void>((res, rej) => {
    child.stdout.on('data', (d: Buffer) => {
      const now = performance.now();
      buf += d.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') { res(); continue; }
        lastLine = line; lastAt = now;
        const i = Number(line.slice(1));
        if (line[0] === 'b') begins.set(i, now);
        else { saves++; const b0 = begins.get(i); if (b0 !== undefined) saveMs.push(now - b0); }
      }
    });
    child.on('exit', () => rej(new Error(`saver exited before ready: ${stderr}`)));
  });
  await ready;
  await new Promise((r) => setTimeout(r, delay));
  // Drain what the child has written so far (the 'data' events) before deciding the phase.
  await new Promise((r) => setImmediate(r));
  const killAt = performance.now();
  const phaseLine = lastLine, sinceLast = killAt - lastAt;
  child.kill('SIGKILL');
  const ex = await exited;
  expect(ex.signal, stderr).toBe('SIGKILL');

  // The target: loads, and is exactly A's or B's file.
  const bytes = fs.readFileSync(target);
  const isA = bytes.equals(aBytes), isB = bytes.equals(bBytes);
  expect(isA || isB, `after kill: ${bytes.length} bytes, neither A (${aBytes.length}) nor B (${bBytes.length})`).toBe(true);
  const loaded = KAN.load(target);
  const ref = isA ? A : B;
  expect(loaded.config()).toEqual(ref.config());
  expect(sameBits(loaded.data, ref.data)).toBe(true);

  // Leftovers: temp files of the killed save, beside the target, never under its name.
  const temps: { name: string; size: number }[] = [];
  for (const name of fs.readdirSync(work)) {
    if (name === TARGET) continue;
    const p = join(work, name);
    const content = fs.readFileSync(p);
    temps.push({ name, size: content.length });
    expect(name).not.toBe(TARGET);
    expect(name.startsWith(`.${TARGET}.`) && name.endsWith('.tmp'), `unexpected file ${name}`).toBe(true);
    expect(name).toContain(`.${child.pid}.`);
    // A killed write leaves a prefix of one model's bytes.
    const prefixOf = (full: Buffer) => content.length <= full.length && full.subarray(0, content.length).equals(content);
    expect(prefixOf(aBytes) || prefixOf(bBytes), `temp file ${name} (${content.length} bytes) is not a prefix of A or B`).toBe(true);
    fs.unlinkSync(p);
  }
  return { delay, lastLine: phaseLine, sinceLast, saves, saveMs, which: isA ? 'A' : 'B', temps };
}

describe('atomic save under SIGKILL', () => {
  it(`${KILLS} SIGKILLs at random times during repeated saves: the target is always A or B, whole`, async () => {
    expect(aBytes.length).not.toBe(bBytes.length);
    expect(aBytes.length).toBeGreaterThan(1_500_000);
    expect(bBytes.length).toBeGreaterThan(1_500_000);
    // Calibration: how long a save takes here (the kill times are spread over several saves).
    const cal = await killRound(400);
    const mean = cal.saveMs.reduce((a, b) => a + b, 0) / Math.max(1, cal.saveMs.length);
    expect(cal.saves).toBeGreaterThan(2);
    const span = Math.min(600, Math.max(60, 8 * mean));
    const rng = new Rng(20240611);
    const outcomes: KillOutcome[] = [];
    for (let k = 0; k < KILLS; k++) outcomes.push(await killRound(rng.uniform() * span));

    const inSave = outcomes.filter((o) => o.lastLine.startsWith('b'));
    const quart = [0, 0, 0, 0, 0];  // elapsed share of a mean save when killed inside one (last bin: > 1 mean)
    for (const o of inSave) quart[Math.min(4, Math.floor((o.sinceLast / mean) * 4))]++;
    const between = outcomes.length - inSave.length;
    const tempTotal = outcomes.reduce((n, o) => n + o.temps.length, 0);
    const tempSizes = outcomes.flatMap((o) => o.temps.map((t) => t.size));
    const allMs = outcomes.flatMap((o) => o.saveMs).sort((a, b) => a - b);
    report.push(`A ${aBytes.length} bytes, B ${bBytes.length} bytes; save ${mean.toFixed(1)} ms mean at calibration ` +
      `(median over the run ${allMs[Math.floor(allMs.length / 2)]?.toFixed(1)} ms); kill delays uniform in [0, ${span.toFixed(0)}] ms`);
    report.push(`${outcomes.length} kills: target = A ${outcomes.filter((o) => o.which === 'A').length}×, B ${outcomes.filter((o) => o.which === 'B').length}×, never anything else; ` +
      `${outcomes.reduce((n, o) => n + o.saves, 0)} saves completed in total`);
    report.push(`kill phase: ${inSave.length} inside a save (by elapsed share of a mean save: 0–25% ${quart[0]}, 25–50% ${quart[1]}, ` +
      `50–75% ${quart[2]}, 75–100% ${quart[3]}, later ${quart[4]}), ${between} between saves`);
    report.push(`temp files left by killed saves: ${tempTotal} (sizes ${tempSizes.join(', ') || '—'}); none named ${TARGET}, all prefixes of A or B`);
    expect(outcomes.length).toBeGreaterThanOrEqual(30);
    // The kills landed inside saves, at different points, and both models were the target.
    expect(inSave.length).toBeGreaterThanOrEqual(10);
    expect(quart.filter((n) => n > 0).length).toBeGreaterThanOrEqual(3);
    expect(outcomes.some((o) => o.which === 'A')).toBe(true);
    expect(outcomes.some((o) => o.which === 'B')).toBe(true);
    expect(tempTotal).toBeGreaterThan(0);
  });
});
