// sweep-worker.ts — a worker thread of `kan sweep`: runs one configuration per message.
import { parentPort } from 'node:worker_threads';
import { setNumThreads } from '../native.js';
import { runExperiment } from './experiment-run.js';
import type { SweepConfig, SweepRow } from './sweep.js';

// The workers share the process's one native pool; each job stays on its own thread.
setNumThreads(1);

parentPort!.on('message', async (m: { idx: number; config: SweepConfig }) => {
  try {
    const c = m.config;
    const run = await runExperiment({ experiment: c.experiment, models: [c.model], seeds: [c.seed], steps: c.steps,
      dim: c.dim, size: c.size, grid: c.grid, curvePoints: 2 });
    const r = run.runs[0].result;
    const row: SweepRow = { ...c, averageFinal: r.averageFinal, bwt: r.bwt, meanForgetting: r.meanForgetting,
      finalDomainError: r.domain ? r.domain[r.domain.length - 1] : null, trainMs: r.trainMs.reduce((s, v) => s + v, 0), R: r.R };
    parentPort!.postMessage({ idx: m.idx, row });
  } catch (err) {
    parentPort!.postMessage({ idx: m.idx, error: (err as Error).message });
  }
});
