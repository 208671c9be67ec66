#!/usr/bin/env node
// cli.ts — the `kan` command.
//   kan continual [--experiment peaks] [--models kan,mlp,...] [--seeds 0,1,2] [--out dir] [--json file]
//   kan sweep --experiment bumps-nd --dims 1,2,4,8 --models kan,mlp --sizes 4 --grids 20 --seeds 0,1
//   kan export <model-file> -o <model.onnx> [--opset N] [--verify]
// Bad flags: one line on stderr and exit code 2. Progress bars on stderr when it is a TTY.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { EXPERIMENTS, type ExperimentName } from './continual/experiments.js';
import { buildExperiment, runExperiment, type ExperimentRun } from './continual/experiment-run.js';
import { runSweep, sweepConfigs, type SweepRow } from './continual/sweep.js';
import { continualFigureSpec, renderSvg, sweepFigureSpec } from './plot.js';
import { getNumThreads, setNumThreads, simd } from './native.js';
import { loadModel } from './index.js';
import { exportOnnx, verifyOnnx, MIN_OPSET, MAX_OPSET, DEFAULT_OPSET } from './onnx/export.js';
import { readFileSync } from 'node:fs';

function intList(name: string, lo: number, hi: number) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim());
    const out = parts.map((p) => {
      const v = Number(p);
      if (p === '' || !Number.isInteger(v) || v < lo || v > hi)
        throw new InvalidArgumentError(`${name} must be a comma-separated list of integers in [${lo}, ${hi}]; got '${value}'.`);
      return v;
    });
    return out;
  };
}
function intArg(name: string, lo: number, hi: number) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isInteger(v) || v < lo || v > hi)
      throw new InvalidArgumentError(`${name} must be an integer in [${lo}, ${hi}]; got '${value}'.`);
    return v;
  };
}
/** A usage problem found after parsing (exit code 2, one line). */
class UsageError extends Error {}

const strList = (value: string) => value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

const fmtE = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? String(v) : v.toExponential(2));
const fmtA = (v: number) => (100 * v).toFixed(1) + '%';

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(w[c]) : v.padStart(w[c]))).join('  ');
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function mean(a: number[]): number { return a.reduce((s, v) => s + v, 0) / a.length; }
function meanStd(a: number[], f: (v: number) => string): string {
  if (a.length === 1) return f(a[0]);
  const m = mean(a), sd = Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1));
  return `${f(m)} ± ${f(sd)}`;
}

function progressBars(enabled: boolean) {
  if (!enabled) return null;
  return new cliProgress.MultiBar({
    stream: process.stderr, clearOnComplete: false, hideCursor: true, etaBuffer: 50,
    format: ' {name} |{bar}| {percentage}% {phase} loss {loss}',
  }, cliProgress.Presets.shades_classic);
}

function printContinual(run: ExperimentRun): void {
  const acc = run.metric === 'accuracy';
  const f = acc ? fmtA : fmtE;
  const models = [...new Set(run.runs.map((r) => r.model))];
  for (const m of models) {
    const runs = run.runs.filter((r) => r.model === m);
    const seeds = runs.map((r) => r.seed);
    console.log(`\n${m}: ${runs[0].label}`);
    console.log(`R[i][j] = ${acc ? 'test accuracy' : 'test MSE'} on task j after training through task i` +
      (seeds.length > 1 ? ` (mean over seeds ${seeds.join(',')})` : ` (seed ${seeds[0]})`));
    const T = run.tasks.length;
    const rows = Array.from({ length: T }, (_, i) => [`after ${run.tasks[i]}`,
      ...Array.from({ length: T }, (_, j) => f(mean(runs.map((r) => r.result.R[i][j])))),
      ...(runs[0].result.domain ? [fmtE(mean(runs.map((r) => r.result.domain![i])))] : [])]);
    console.log(table(['', ...run.tasks, ...(runs[0].result.domain ? ['whole domain'] : [])], rows));
  }
  console.log(`\nSummary (${run.experiment}${run.runs.length > models.length ? ', mean ± sd over seeds' : ''})`);
  const header = acc
    ? ['model', 'final mean accuracy', 'mean forgetting', 'BWT', 'train time']
    : ['model', 'final whole-domain MSE', 'final mean task MSE', 'mean forgetting', 'BWT', 'train time'];
  const rows = models.map((m) => {
    const rs = run.runs.filter((r) => r.model === m).map((r) => r.result);
    const time = meanStd(rs.map((r) => r.trainMs.reduce((s, v) => s + v, 0) / 1000), (v) => v.toFixed(2) + ' s');
    return acc
      ? [m, meanStd(rs.map((r) => r.averageFinal), fmtA), meanStd(rs.map((r) => r.meanForgetting), fmtA), meanStd(rs.map((r) => r.bwt), fmtA), time]
      : [m, rs[0].domain ? meanStd(rs.map((r) => r.domain![r.domain!.length - 1]), fmtE) : '-', meanStd(rs.map((r) => r.averageFinal), fmtE),
        meanStd(rs.map((r) => r.meanForgetting), fmtE), meanStd(rs.map((r) => r.bwt), fmtE), time];
  });
  console.log(table(header, rows));
}

async function continualFigure(run: ExperimentRun): Promise<string | null> {
  if (run.curves.length === 0) return null;
  const points = run.curves.flatMap((c) => c.x.map((x, q) => ({ model: `${c.model}: ${c.label}`, phase: `after ${run.tasks[c.phase]}`, x, truth: c.truth[q], pred: c.pred[q] })));
  const models = [...new Set(run.curves.map((c) => `${c.model}: ${c.label}`))];
  const regions = models.flatMap((model) => run.regions.map((r) => ({ model, phase: `after ${run.tasks[r.phase]}`, lo: r.lo, hi: r.hi })));
  let ymax = 1;
  for (const c of run.curves) for (const t of c.truth) ymax = Math.max(ymax, t);
  return renderSvg(continualFigureSpec(points, regions, `${run.experiment}: prediction (red) vs ground truth (grey) after each phase; shaded: the phase's training region`,
    [-0.5, Math.ceil(ymax * 1.5 * 10) / 10]));
}

async function cmdContinual(o: Record<string, unknown>): Promise<void> {
  if (o.threads !== undefined) setNumThreads(o.threads as number);
  const experiment = o.experiment as ExperimentName;
  const exp = buildExperiment({ experiment, dim: o.dim as number | undefined, heads: (o.heads as 'shared' | 'multi' | undefined) });
  const models = (o.models as string[] | undefined) ?? exp.defaultModels;
  for (const m of models)
    if (!exp.models.some((s) => s.id === m))
      throw new UsageError(`unknown model '${m}' for --experiment ${experiment}; expected one of ${exp.models.map((s) => s.id).join(', ')}.`);
  const seeds = (o.seeds as number[] | undefined) ?? [0];
  const quiet = Boolean(o.quiet) || !process.stderr.isTTY;
  console.log(`kan continual — ${exp.description}\nSIMD ${simd()}, ${getNumThreads()} threads; models ${models.join(', ')}; seeds ${seeds.join(',')}`);
  const bars = progressBars(!quiet);
  const barOf = new Map<string, cliProgress.SingleBar>();
  const t0 = performance.now();
  const headsList: ('shared' | 'multi')[] = experiment === 'split-digits' ? ((o.heads ? [o.heads] : ['shared', 'multi']) as ('shared' | 'multi')[]) : ['shared'];
  const outDir = resolve(o.out as string);
  mkdirSync(outDir, { recursive: true });
  const all: ExperimentRun[] = [];
  for (const heads of headsList) {
    const run = await runExperiment({
      experiment, models, seeds, steps: o.steps as number | undefined, dim: o.dim as number | undefined, heads,
      onProgress: bars ? (model, seed, e) => {
        const key = `${model}/${seed}/${heads}`;
        let bar = barOf.get(key);
        const total = e.phases * e.steps;
        if (!bar) { bar = bars.create(total, 0, { name: `${model} seed ${seed}`.padEnd(18), phase: '', loss: '' }); barOf.set(key, bar); }
        bar.update(e.phase * e.steps + e.step, { phase: e.task, loss: e.loss.toExponential(2) });
      } : undefined,
    });
    all.push(run);
  }
  bars?.stop();
  for (const run of all) {
    if (all.length > 1) console.log(`\n=== ${run.description} ===`);
    printContinual(run);
  }
  const base = join(outDir, experiment);
  const payload = all.length === 1 ? all[0] : all;
  writeFileSync(`${base}.json`, JSON.stringify(payload, null, 1));
  if (o.json) writeFileSync(resolve(o.json as string), JSON.stringify(payload, null, 1));
  const svg = await continualFigure(all[0]);
  if (svg) writeFileSync(`${base}.svg`, svg);
  console.log(`\nwrote ${base}.json${o.json ? ` and ${resolve(o.json as string)}` : ''}${svg ? `, figure ${base}.svg` : ''}` +
    ` (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

async function cmdSweep(o: Record<string, unknown>): Promise<void> {
  const experiment = o.experiment as ExperimentName;
  if (experiment !== 'bumps-nd') throw new UsageError(`--experiment for sweep must be bumps-nd; got '${experiment}'.`);
  const opts = {
    experiment, models: (o.models as string[] | undefined) ?? ['kan', 'mlp'], dims: o.dims as number[], sizes: o.sizes as number[],
    grids: o.grids as number[], seeds: o.seeds as number[], steps: o.steps as number | undefined, workers: o.workers as number | undefined,
  };
  const valid = buildExperiment({ experiment, dim: 1 }).models.map((m) => m.id);
  for (const m of opts.models) if (!valid.includes(m)) throw new UsageError(`unknown model '${m}' for --experiment ${experiment}; expected one of ${valid.join(', ')}.`);
  const total = sweepConfigs(opts).length;
  console.log(`kan sweep — ${experiment}: ${total} configurations (dims ${opts.dims.join(',')} × sizes ${opts.sizes.join(',')} × grids ${opts.grids.join(',')} × models ${opts.models.join(',')} × seeds ${opts.seeds.join(',')}) on ${opts.workers ?? 'all'} worker threads`);
  const quiet = Boolean(o.quiet) || !process.stderr.isTTY;
  const bar = quiet ? null : new cliProgress.SingleBar({ stream: process.stderr, format: ' sweep |{bar}| {value}/{total} {last}' }, cliProgress.Presets.shades_classic);
  bar?.start(total, 0, { last: '' });
  const t0 = performance.now();
  const rows = await runSweep({ ...opts, onRow: (r, done) => bar?.update(done, { last: `${r.model} d=${r.dim} seed ${r.seed}` }) });
  bar?.stop();
  const outDir = resolve(o.out as string);
  mkdirSync(outDir, { recursive: true });
  const cols: (keyof SweepRow)[] = ['experiment', 'model', 'dim', 'size', 'grid', 'seed', 'averageFinal', 'meanForgetting', 'bwt', 'finalDomainError', 'trainMs'];
  writeFileSync(join(outDir, 'sweep.csv'), [cols.join(','), ...rows.map((r) => cols.map((c) => String(r[c])).join(','))].join('\n') + '\n');
  writeFileSync(join(outDir, 'sweep.json'), JSON.stringify(rows, null, 1));
  // Swept parameter: the first of dims, sizes, grids with more than one value (dims by default).
  const axis = opts.dims.length > 1 ? 'dim' : opts.sizes.length > 1 ? 'size' : opts.grids.length > 1 ? 'grid' : 'dim';
  const groups = new Map<string, SweepRow[]>();
  for (const r of rows) {
    const series = `${r.model}${axis !== 'size' && opts.sizes.length > 1 ? ` h=${r.size}` : ''}${axis !== 'grid' && opts.grids.length > 1 ? ` G=${r.grid}` : ''}${axis !== 'dim' && opts.dims.length > 1 ? ` d=${r.dim}` : ''}`;
    const key = `${series}\u0000${r[axis]}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const points = [...groups.entries()].map(([key, rs]) => {
    const [series, x] = key.split('\u0000');
    const f = rs.map((r) => r.meanForgetting);
    return { series, x: Number(x), y: mean(f), lo: Math.min(...f), hi: Math.max(...f) };
  });
  points.sort((a, b) => a.series.localeCompare(b.series) || a.x - b.x);
  console.log('\n' + table(['series', axis, 'mean forgetting (MSE)', 'min', 'max', 'seeds'],
    points.map((p) => [p.series, String(p.x), fmtE(p.y), fmtE(p.lo), fmtE(p.hi), String(groups.get(`${p.series}\u0000${p.x}`)!.length)])));
  writeFileSync(join(outDir, 'sweep.svg'), await renderSvg(sweepFigureSpec(points, axis === 'dim' ? 'input dimension d' : axis === 'size' ? 'hidden width' : 'grid intervals G',
    'mean forgetting (test MSE increase)', `${experiment}: forgetting against ${axis}`)));
  console.log(`\nwrote ${join(outDir, 'sweep.csv')}, sweep.json and sweep.svg (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

/** Tolerance of `kan export --verify`: max |onnx − native| ≤ 1e-5 × max(1, max |y|). */
export const VERIFY_TOLERANCE = 1e-5;

async function cmdExport(file: string, o: Record<string, unknown>): Promise<number> {
  const model = loadModel(file);
  const out = resolve(o.output as string);
  exportOnnx(model, out, { opset: o.opset as number });
  console.log(`wrote ${out} (${model.kind} [${(model.config() as { widths: number[] }).widths.join(',')}], opset ${o.opset})`);
  if (!o.verify) return 0;
  const r = await verifyOnnx(model, readFileSync(out));
  const ok = r.relative <= VERIFY_TOLERANCE;
  console.log(`verify: onnxruntime vs native forward on ${r.samples} inputs inside and outside the grid range: ` +
    `max abs difference ${r.maxAbsDiff.toExponential(2)} (output scale ${r.outputScale.toExponential(2)}, relative ${r.relative.toExponential(2)}) — ${ok ? 'OK' : `FAILED (tolerance ${VERIFY_TOLERANCE})`}`);
  return ok ? 0 : 1;
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('kan').description('kan-native: Kolmogorov–Arnold Networks — continual-learning experiments and tools')
    .exitOverride().showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(`kan: ${s.replace(/^error: /, '')}`) });
  program.command('continual').description('train models on tasks one after another and measure what they forget')
    .addOption(new Option('--experiment <name>', 'experiment').choices([...EXPERIMENTS]).default('peaks'))
    .option('--models <list>', 'comma-separated model ids (default: the experiment\'s set)', strList)
    .option('--seeds <list>', 'comma-separated initialisation seeds', intList('--seeds', 0, 2 ** 32 - 1), [0])
    .option('--steps <n>', 'optimizer steps per phase (default: the experiment\'s)', intArg('--steps', 1, 1e6))
    .option('--dim <d>', 'bumps-nd: input dimension', intArg('--dim', 1, 64))
    .addOption(new Option('--heads <kind>', 'split-digits: output heads (default: both)').choices(['shared', 'multi']))
    .option('--out <dir>', 'folder for the figure and the JSON results', 'kan-out')
    .option('--json <file>', 'also write the JSON results here')
    .option('--threads <n>', 'native threads', intArg('--threads', 1, 256))
    .option('--quiet', 'no progress bars')
    .exitOverride()
    .action((opts) => cmdContinual(opts));
  program.command('sweep').description('run a grid of configurations in parallel worker threads; write CSV, JSON and a plot')
    .addOption(new Option('--experiment <name>', 'experiment').choices(['bumps-nd']).default('bumps-nd'))
    .option('--dims <list>', 'input dimensions', intList('--dims', 1, 64), [1, 2, 4, 8])
    .option('--models <list>', 'model ids (kan, kan-silu, mlp)', strList)
    .option('--sizes <list>', 'hidden widths', intList('--sizes', 1, 1024), [4])
    .option('--grids <list>', 'KAN grid sizes', intList('--grids', 1, 10000), [20])
    .option('--seeds <list>', 'seeds', intList('--seeds', 0, 2 ** 32 - 1), [0, 1])
    .option('--steps <n>', 'LBFGS steps per phase', intArg('--steps', 1, 1e6))
    .option('--workers <n>', 'worker threads (default: available parallelism)', intArg('--workers', 1, 256))
    .option('--out <dir>', 'output folder', 'kan-out')
    .option('--quiet', 'no progress bar')
    .exitOverride()
    .action((opts) => cmdSweep(opts));
  program.command('export').description('export a saved model (save()/KAN.load format) to ONNX')
    .argument('<model-file>', 'model file written by save()')
    .requiredOption('-o, --output <file>', 'the .onnx file to write')
    .option('--opset <n>', `ai.onnx opset version (${MIN_OPSET}–${MAX_OPSET})`, intArg('--opset', MIN_OPSET, MAX_OPSET), DEFAULT_OPSET)
    .option('--verify', 'run the file in onnxruntime and compare with the native forward; exit 1 if it differs')
    .exitOverride()
    .action(async (file: string, opts) => { process.exitCode = await cmdExport(file, opts); });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    process.exitCode = 0;
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;  // commander printed it
    const e = err as Error;
    process.stderr.write(`kan: ${e.message}\n`);
    return e instanceof UsageError || e instanceof RangeError || e instanceof TypeError ? 2 : 1;
  }
}

const isMain = process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL((await import('node:fs')).realpathSync(process.argv[1])).href;
if (isMain) process.exitCode = await main(process.argv.slice(2));
