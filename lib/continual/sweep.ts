// sweep.ts — `kan sweep`: the grid of (dim, size, grid, model, seed) configurations of an
// experiment, run in parallel worker threads (each with a 1-thread native pool), one result row
// per configuration.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packageRoot } from '../native.js';
import type { ExperimentName } from './experiments.js';

export interface SweepConfig {
  experiment: ExperimentName; model: string; dim: number; size: number; grid: number; seed: number; steps?: number;
}

export interface SweepRow extends SweepConfig {
  averageFinal: number; bwt: number; meanForgetting: number; finalDomainError: number | null; trainMs: number;
  R: number[][];
}

export interface SweepOptions {
  experiment: ExperimentName;
  models: string[]; dims: number[]; sizes: number[]; grids: number[]; seeds: number[]; steps?: number;
  /** Worker threads. Default: available parallelism. */
  workers?: number;
  onRow?: (row: SweepRow, done: number, total: number) => void;
}

export function sweepConfigs(o: SweepOptions): SweepConfig[] {
  const out: SweepConfig[] = [];
  for (const dim of o.dims) for (const size of o.sizes) for (const grid of o.grids)
    for (const model of o.models) for (const seed of o.seeds)
      out.push({ experiment: o.experiment, model, dim, size, grid, seed, steps: o.steps });
  return out;
}

// The compiled worker: beside this file in dist/, or dist/'s copy when this runs from the
// TypeScript sources (tests), since a Worker cannot execute .ts.
function sweepWorkerUrl(): URL {
  const here = new URL('./sweep-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return pathToFileURL(join(packageRoot(), 'dist', 'lib', 'continual', 'sweep-worker.js'));
}

export async function runSweep(o: SweepOptions): Promise<SweepRow[]> {
  const configs = sweepConfigs(o);
  const nw = Math.max(1, Math.min(o.workers ?? availableParallelism(), configs.length));
  const rows: SweepRow[] = new Array(configs.length);
  let next = 0, done = 0;
  const workerUrl = sweepWorkerUrl();
  await Promise.all(Array.from({ length: nw }, () => new Promise<void>((resolve, reject) => {
    const w = new Worker(workerUrl);
    const feed = () => {
      if (next >= configs.length) { void w.terminate().then(() => resolve()); return; }
      const idx = next++;
      w.postMessage({ idx, config: configs[idx] });
    };
    w.on('message', (m: { idx: number; row?: SweepRow; error?: string }) => {
      if (m.error) { void w.terminate(); reject(new Error(`sweep configuration ${JSON.stringify(configs[m.idx])} failed: ${m.error}`)); return; }
      rows[m.idx] = m.row!;
      done++;
      o.onRow?.(m.row!, done, configs.length);
      feed();
    });
    w.on('error', reject);
    feed();
  })));
  return rows;
}
