// cli.test.ts — the `kan` command (dist/lib/cli.js, the package's bin) run as a child process:
// `kan continual` (default peaks run: R matrices, summary, peaks.json, peaks.svg, within 60 s),
// --json, --seeds, split-digits, `kan sweep` (CSV/JSON/SVG; worker threads, checked in-process),
// bad flags (exit 2, one 'kan:' line on stderr, no stack) and progress bars only on a TTY.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'lib', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'kan-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Count the Worker threads runSweep starts (and which configurations each one ran), delegating to
// the real class. Only this process's imports see the mock; the CLI child processes do not.
const workerLog = vi.hoisted(() => ({ created: 0, posted: [] as number[][] }));
vi.mock('node:worker_threads', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:worker_threads')>();
  class CountingWorker extends real.Worker {
    private readonly id: number;
    constructor(...args: ConstructorParameters<typeof real.Worker>) {
      super(...args);
      this.id = workerLog.created++;
      workerLog.posted.push([]);
    }
    override postMessage(value: unknown, transfer?: readonly import('node:worker_threads').TransferListItem[]): void {
      workerLog.posted[this.id].push((value as { idx: number }).idx);
      super.postMessage(value, transfer);
    }
  }
  return { ...real, default: { ...real, Worker: CountingWorker }, Worker: CountingWorker };
});

interface Run { status: number | null; stdout: string; stderr: string; ms: number; }

function kan(args: string[], env: Record<string, string> = {}): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: tmp, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

const fmtE = (v: number) => v.toExponential(2);
const fmtA = (v: number) => (100 * v).toFixed(1) + '%';
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

interface JsonRun {
  experiment: string; description: string; metric: 'mse' | 'accuracy'; tasks: string[];
  runs: { model: string; label: string; seed: number; result: { R: number[][]; domain: number[] | null; meanForgetting: number; bwt: number;
    averageFinal: number; trainMs: number[] } }[];
  curves: { model: string; phase: number; x: number[]; pred: number[] }[];
  regions: unknown[];
}

/** The R matrix block printed for `model`: its rows split into cells (row label dropped). */
function printedMatrix(stdout: string, model: string, label: string, from = 0): { rows: string[][]; end: number; what: string } {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l, q) => q >= from && l === `${model}: ${label}`);
  expect(start, `R matrix block for ${model}`).toBeGreaterThanOrEqual(0);
  const what = /^R\[i\]\[j\] = test (MSE|accuracy) on task j after training through task i/.exec(lines[start + 1]);
  expect(what, lines[start + 1]).not.toBeNull();
  expect(lines[start + 3]).toMatch(/^-+( +-+)+$/);
  const rows: string[][] = [];
  for (let q = start + 4; q < lines.length && lines[q].startsWith('after '); q++)
    rows.push(lines[q].replace(/^after .+?  +/, '').trim().split(/ {2,}/));
  return { rows, end: start + 4 + rows.length, what: what![1] };
}

/** The summary table's header cells and the row of each model. */
function printedSummary(stdout: string, title: RegExp, from = 0): { header: string[]; rows: Map<string, string[]>; end: number } {
  const lines = stdout.split('\n');
  const s = lines.findIndex((l, q) => q >= from && title.test(l));
  expect(s, 'summary table').toBeGreaterThanOrEqual(0);
  const header = lines[s + 1].trim().split(/ {2,}/);
  expect(lines[s + 2]).toMatch(/^-+( +-+)+$/);
  const rows = new Map<string, string[]>();
  let q = s + 3;
  for (; q < lines.length && lines[q].trim() !== ''; q++) {
    const cells = lines[q].trim().split(/ {2,}/);
    rows.set(cells[0], cells.slice(1));
  }
  return { header, rows, end: q };
}

function expectOneErrorLine(r: Run, mention: RegExp) {
  expect(r.status, `exit code; stderr: ${r.stderr}`).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines.length, `stderr: ${JSON.stringify(r.stderr)}`).toBe(1);
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(lines[0]).toMatch(/^kan: /);
  expect(lines[0]).toMatch(mention);
  expect(r.stderr).not.toMatch(/\n\s+at |Error:|node:internal/);
  expect(r.stdout).toBe('');
}

function expectSvg(svg: string) {
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  // balanced groups: a truncated or broken document would not be
  expect((svg.match(/<g[\s>]/g) ?? []).length).toBe((svg.match(/<\/g>/g) ?? []).length);
  expect(svg).not.toMatch(/NaN|undefined/);
}

// ---------------------------------------------------------------------------------------------

describe('the kan bin', () => {
  it('runs as a command itself (shebang and executable bit: what npx kan runs in a fresh clone)', () => {
    const r = spawnSync(cli, ['--help'], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
    expect(r.error, String(r.error)).toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/continual/);
  });
});

describe('kan continual (default: peaks)', () => {
  const out = join(tmp, 'default');
  let r: Run;
  let json: JsonRun;
  beforeAll(() => {
    r = kan(['continual', '--quiet', '--out', out]);
    console.log(`kan continual --quiet --out <dir> (default peaks run): ${(r.ms / 1000).toFixed(2)} s wall, exit ${r.status}`);
    if (r.status === 0) json = JSON.parse(readFileSync(join(out, 'peaks.json'), 'utf8'));
  });

  it('exits 0 within 60 s (documented requirement), nothing on stderr', () => {
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.ms).toBeLessThan(60_000);
  });

  it('writes peaks.json with runs for kan, mlp, mlp-adam, kan-grid, kan-silu', () => {
    expect(json.experiment).toBe('peaks');
    expect(json.metric).toBe('mse');
    expect(json.tasks).toEqual(['peak 1', 'peak 2', 'peak 3', 'peak 4', 'peak 5']);
    expect(json.runs.map((x) => `${x.model}/${x.seed}`)).toEqual(['kan/0', 'mlp/0', 'mlp-adam/0', 'kan-grid/0', 'kan-silu/0']);
    for (const x of json.runs) {
      expect(x.result.R.length).toBe(5);
      expect(x.result.domain!.length).toBe(5);
    }
    expect(json.curves.length).toBe(25);
    // the expected outcome, through the CLI too
    const k = json.runs[0].result;
    expect(k.domain![4]).toBeLessThan(1e-7);
    expect(k.meanForgetting).toBeLessThan(1e-8);
    expect(json.runs[1].result.meanForgetting).toBeGreaterThan(1e-2);
  });

  it("prints each model's R matrix (test MSE and whole domain), matching peaks.json", () => {
    expect(r.stdout).toMatch(/^kan continual — /);
    for (const x of json.runs) {
      const { rows, what } = printedMatrix(r.stdout, x.model, x.label);
      expect(what).toBe('MSE');
      expect(rows.length).toBe(5);
      rows.forEach((cells, i) => {
        expect(cells).toEqual([...x.result.R[i].map(fmtE), fmtE(x.result.domain![i])]);
      });
    }
    expect(r.stdout).toMatch(/ +peak 1 +peak 2 +peak 3 +peak 4 +peak 5 +whole domain\n/);
  });

  it('prints a summary table: final whole-domain MSE, mean forgetting, BWT, train time', () => {
    const { header, rows } = printedSummary(r.stdout, /^Summary \(peaks\)$/);
    for (const col of ['model', 'final whole-domain MSE', 'mean forgetting', 'BWT', 'train time']) expect(header).toContain(col);
    expect([...rows.keys()]).toEqual(['kan', 'mlp', 'mlp-adam', 'kan-grid', 'kan-silu']);
    const col = (name: string) => header.indexOf(name) - 1;
    for (const x of json.runs) {
      const cells = rows.get(x.model)!;
      expect(cells[col('final whole-domain MSE')]).toBe(fmtE(x.result.domain![4]));
      expect(cells[col('mean forgetting')]).toBe(fmtE(x.result.meanForgetting));
      expect(cells[col('BWT')]).toBe(fmtE(x.result.bwt));
      expect(cells[col('train time')]).toBe((x.result.trainMs.reduce((s, v) => s + v, 0) / 1000).toFixed(2) + ' s');
    }
    expect(r.stdout).toContain(`wrote ${join(out, 'peaks.json')}`);
  });

  it('writes peaks.svg: a valid SVG with a panel per phase and model', () => {
    const svg = readFileSync(join(out, 'peaks.svg'), 'utf8');
    expectSvg(svg);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    // one column header per phase
    for (const t of json.tasks) expect(texts.filter((s) => s === `after ${t}`).length, `header 'after ${t}'`).toBe(1);
    expect(texts.filter((s) => s.startsWith('after ')).length).toBe(5);
    // one row header per model
    for (const x of json.runs) expect(texts.filter((s) => s.startsWith(`${x.model}: `)).length, `row header of ${x.model}`).toBe(1);
    // 5 × 5 panels: each with the ground truth, the prediction and the shaded training region
    for (const layer of ['child_layer_0_marks', 'child_layer_1_marks', 'child_layer_2_marks'])
      expect((svg.match(new RegExp(`class="mark-[a-z]+ role-mark ${layer}"`, 'g')) ?? []).length, layer).toBe(25);
  });
});

describe('kan continual options', () => {
  it('--models kan --seeds 0,1 runs two seeds; --json file writes the same JSON there', () => {
    const out = join(tmp, 'seeds'), file = join(tmp, 'seeds-copy.json');
    const r = kan(['continual', '--models', 'kan', '--seeds', '0,1', '--quiet', '--out', out, '--json', file]);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(join(out, 'peaks.json'), 'utf8');
    expect(readFileSync(file, 'utf8')).toBe(text);
    const json: JsonRun = JSON.parse(text);
    expect(json.runs.map((x) => [x.model, x.seed])).toEqual([['kan', 0], ['kan', 1]]);
    // two different initialisations, both keeping every peak
    expect(json.runs[0].result.R).not.toEqual(json.runs[1].result.R);
    for (const x of json.runs) expect(x.result.meanForgetting).toBeLessThan(1e-8);
    // curves of the first seed only
    expect(json.curves.map((c) => `${c.model}:${c.phase}`)).toEqual([0, 1, 2, 3, 4].map((p) => `kan:${p}`));
    expect(r.stdout).toContain('seeds 0,1');
    expect(r.stdout).toContain('(mean over seeds 0,1)');
    const { rows } = printedMatrix(r.stdout, 'kan', json.runs[0].label);
    rows.forEach((cells, i) => expect(cells.slice(0, 5)).toEqual(
      [0, 1, 2, 3, 4].map((j) => fmtE(mean(json.runs.map((x) => x.result.R[i][j]))))));
    const s = printedSummary(r.stdout, /^Summary \(peaks, mean ± sd over seeds\)$/);
    expect(s.rows.get('kan')!.every((c) => c.includes(' ± '))).toBe(true);
    expect(r.stdout).toContain(`and ${file}`);
    expect(existsSync(join(out, 'peaks.svg'))).toBe(true);
  });

  it('--experiment split-digits --steps 20 --models kan prints accuracy tables for shared and multi heads', () => {
    const out = join(tmp, 'digits');
    const r = kan(['continual', '--experiment', 'split-digits', '--steps', '20', '--models', 'kan', '--quiet', '--out', out]);
    console.log(`kan continual --experiment split-digits --steps 20 --models kan: ${(r.ms / 1000).toFixed(2)} s`);
    expect(r.status, r.stderr).toBe(0);
    const json: JsonRun[] = JSON.parse(readFileSync(join(out, 'split-digits.json'), 'utf8'));
    expect(Array.isArray(json)).toBe(true);
    expect(json.length).toBe(2);
    expect(json[0].description).toMatch(/shared 10-way head/);
    expect(json[1].description).toMatch(/one head per task/);
    let from = 0;
    for (const run of json) {
      expect(run.metric).toBe('accuracy');
      expect(run.tasks).toEqual(['digits 0/1', 'digits 2/3', 'digits 4/5', 'digits 6/7', 'digits 8/9']);
      expect(run.runs.map((x) => x.model)).toEqual(['kan']);
      expect(run.curves).toEqual([]);
      const lines = r.stdout.split('\n');
      const sec = lines.findIndex((l, q) => q >= from && l === `=== ${run.description} ===`);
      expect(sec, `section ${run.description}`).toBeGreaterThanOrEqual(0);
      const x = run.runs[0];
      const m = printedMatrix(r.stdout, 'kan', x.label, sec);
      expect(m.what).toBe('accuracy');
      expect(m.rows.length).toBe(5);
      m.rows.forEach((cells, i) => expect(cells).toEqual(x.result.R[i].map(fmtA)));
      const s = printedSummary(r.stdout, /^Summary \(split-digits\)$/, m.end);
      expect(s.header).toEqual(['model', 'final mean accuracy', 'mean forgetting', 'BWT', 'train time']);
      expect(s.rows.get('kan')!.slice(0, 3)).toEqual([fmtA(x.result.averageFinal), fmtA(x.result.meanForgetting), fmtA(x.result.bwt)]);
      from = s.end;
      console.log(`  split-digits kan steps 20 ${run.description.includes('shared') ? 'shared' : 'multi '}: ` +
        `final mean accuracy ${fmtA(x.result.averageFinal)}, mean forgetting ${fmtA(x.result.meanForgetting)}`);
    }
    // no figure for classification
    expect(existsSync(join(out, 'split-digits.svg'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

describe('kan sweep', () => {
  it('--dims 1,2 --models kan,mlp --seeds 0 --steps 5 writes sweep.csv, sweep.json and sweep.svg', () => {
    const out = join(tmp, 'sweep');
    const r = kan(['sweep', '--dims', '1,2', '--models', 'kan,mlp', '--seeds', '0', '--steps', '5', '--quiet', '--out', out]);
    console.log(`kan sweep --dims 1,2 --models kan,mlp --seeds 0 --steps 5: ${(r.ms / 1000).toFixed(2)} s`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const csv = readFileSync(join(out, 'sweep.csv'), 'utf8').trimEnd().split('\n');
    const header = csv[0].split(',');
    for (const c of ['experiment', 'model', 'dim', 'size', 'grid', 'seed', 'averageFinal', 'meanForgetting', 'bwt', 'finalDomainError', 'trainMs'])
      expect(header).toContain(c);
    expect(csv.length).toBe(1 + 4);
    const rows = csv.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, q) => [header[q], v])));
    expect(rows.map((x) => `${x.model} d=${x.dim}`).sort()).toEqual(['kan d=1', 'kan d=2', 'mlp d=1', 'mlp d=2']);
    for (const x of rows) {
      expect(x.experiment).toBe('bumps-nd');
      for (const c of header.filter((h) => h !== 'experiment' && h !== 'model')) {
        expect(x[c]).toMatch(/^-?[0-9.e+-]+$/);
        expect(Number.isFinite(Number(x[c])), `${c} = ${x[c]}`).toBe(true);
      }
      expect(Number(x.size)).toBe(4);
      expect(Number(x.grid)).toBe(20);
      expect(Number(x.seed)).toBe(0);
      expect(Number(x.trainMs)).toBeGreaterThan(0);
    }
    const json = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as Record<string, unknown>[];
    expect(json.length).toBe(4);
    json.forEach((row, q) => {
      for (const c of header) expect(String(row[c]), `${c} of row ${q}`).toBe(rows[q][c]);
      expect((row.R as number[][]).length).toBe(4);
      expect(row.steps).toBe(5);
    });
    const svg = readFileSync(join(out, 'sweep.svg'), 'utf8');
    expectSvg(svg);
    expect(svg).toContain('forgetting');
    // the printed table has one line per (model, dim)
    for (const x of rows) expect(r.stdout).toMatch(new RegExp(`\\n${x.model} +${x.dim} +${fmtE(Number(x.meanForgetting)).replace('+', '\\+')} `));
  });

  it('runSweep spreads configurations over worker threads, with the same rows as one worker', async () => {
    // dist/: the worker file is resolved next to sweep.js, and only dist/ has the compiled sweep-worker.js
    const { runSweep } = await import('../dist/lib/continual/sweep.js');
    const opts = { experiment: 'bumps-nd' as const, models: ['kan', 'mlp'], dims: [1, 2], sizes: [4], grids: [20], seeds: [0], steps: 5 };
    workerLog.created = 0; workerLog.posted = [];
    let t0 = performance.now();
    const done: number[] = [];
    const two = await runSweep({ ...opts, workers: 2, onRow: (_r: unknown, n: number, total: number) => { expect(total).toBe(4); done.push(n); } });
    const ms2 = performance.now() - t0;
    expect(workerLog.created).toBe(2);
    const perWorker = workerLog.posted.map((p) => p.slice());
    expect(perWorker.every((p) => p.length >= 1)).toBe(true);
    expect(perWorker.flat().sort()).toEqual([0, 1, 2, 3]);
    expect(done).toEqual([1, 2, 3, 4]);

    workerLog.created = 0; workerLog.posted = [];
    t0 = performance.now();
    const one = await runSweep({ ...opts, workers: 1 });
    const ms1 = performance.now() - t0;
    expect(workerLog.created).toBe(1);
    expect(workerLog.posted[0]).toEqual([0, 1, 2, 3]);
    console.log(`runSweep, 4 configurations: 2 workers ${ms2.toFixed(0)} ms (worker 0 ran ${JSON.stringify(perWorker[0])}, ` +
      `worker 1 ran ${JSON.stringify(perWorker[1])}), 1 worker ${ms1.toFixed(0)} ms`);
    // same configurations in the same order, and bitwise the same results (trainMs aside)
    const strip = (rows: { trainMs: number }[]) => rows.map(({ trainMs: _t, ...rest }) => rest);
    expect(strip(two)).toEqual(strip(one));
    expect(two.map((x: { model: string; dim: number }) => `${x.model} d=${x.dim}`)).toEqual(['kan d=1', 'mlp d=1', 'kan d=2', 'mlp d=2']);
    for (const row of two) {
      expect(Number.isFinite(row.meanForgetting)).toBe(true);
      expect(row.R.length).toBe(4);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('bad flags: exit code 2, one line on stderr starting with "kan:", no stack trace', () => {
  const out = join(tmp, 'bad');
  const cases: [string[], RegExp][] = [
    [['continual', '--seeds', 'x'], /--seeds/],
    [['continual', '--models', 'foo'], /foo/],
    [['continual', '--experiment', 'nope'], /--experiment|nope/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['sweep', '--dims', '0'], /--dims/],
    [['continual', '--steps', '-1'], /--steps/],
    [['continual', '--threads', '0'], /--threads/],
    [['continual', '--steps', '1.5'], /--steps/],
    [['continual', '--bogus'], /--bogus/],
    [['sweep', '--models', 'foo'], /foo/],
    [['sweep', '--workers', '0'], /--workers/],
    [['sweep', '--seeds', '1,,2'], /--seeds/],
  ];
  for (const [args, mention] of cases)
    it(`kan ${args.join(' ')}`, () => {
      const r = kan([...args, '--quiet', '--out', out]);
      expectOneErrorLine(r, mention);
    });

  it('nothing was written for the refused commands', () => {
    expect(existsSync(out)).toBe(false);
  });
});

describe('progress bars', () => {
  const args = ['continual', '--models', 'kan', '--steps', '10'];

  it('do not appear when stderr is not a TTY (even without --quiet)', () => {
    const r = kan([...args, '--out', join(tmp, 'pipe')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/[█░]|\x1b\[/);
  });

  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  const haveScript = script.status === 0;
  const inTty = (cmd: string[]) => spawnSync('script', ['-qfec', [process.execPath, cli, ...cmd].map((a) => `'${a}'`).join(' '), '/dev/null'],
    { cwd: tmp, encoding: 'utf8', timeout: 60_000 });

  it.skipIf(!haveScript)('appear on a TTY (control, via script(1)), and --quiet turns them off', () => {
    const withBars = inTty([...args, '--out', join(tmp, 'tty')]);
    expect(withBars.status, withBars.stderr).toBe(0);
    expect(withBars.stdout).toMatch(/kan seed 0 +\|[█░]+\|/);
    const quiet = inTty([...args, '--quiet', '--out', join(tmp, 'tty-quiet')]);
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stdout).toContain('R[i][j] = test MSE');
    expect(quiet.stdout).not.toMatch(/[█░]/);
  });
});
