// grid.ts — grid update from samples and grid extension (DESIGN.md; pykan's
// update_grid_from_samples and refine).
//
// Update, per layer and input i, from the layer's inputs on a batch of samples:
//   sort the n inputs; adaptive knots at the sample percentiles ids = floor(n/G * j), j < G, and
//   the maximum; uniform knots over [min, max]; g = eps·uniform + (1−eps)·adaptive; extend by k
//   knots of spacing (g_G − g_0)/G on each side; refit the coefficients by least squares so the
//   spline part keeps its values at the sorted samples.
import * as check from './check.js';
import { KAN } from './kan.js';
import { native } from './native.js';
import { ModelBusyError, runAsync, runSync, type NativeCall } from './model.js';

export interface GridUpdateOptions {
  /** Weight of the uniform grid in the mix (pykan's grid_eps). Default 0.02. */
  gridEps?: number;
  /** Ridge of the refit, relative to the mean diagonal of the normal equations. Default 1e-8. */
  lambda?: number;
}

function gridOptions(model: unknown, x: unknown, options: unknown) {
  if (!(model instanceof KAN)) throw check.typeError('model', 'KAN', model);
  const o = check.plainObject('options', options);
  check.knownKeys('options', o, ['gridEps', 'lambda']);
  const eps = o.gridEps === undefined ? 0.02 : check.num('options.gridEps', o.gridEps, 0, 1);
  const lambda = o.lambda === undefined ? 1e-8 : check.num('options.lambda', o.lambda, 0);
  check.f32('x', x, { multipleOf: model.inputDim });
  return { eps, lambda };
}

/** Adapts every layer's grid to the distribution of its inputs on x (B, inputDim). In place. */
export function updateGrid(model: KAN, x: Float32Array, options: GridUpdateOptions = {}): void {
  const { eps, lambda } = gridOptions(model, x, options);
  if (model.lock.training || model.lock.isWriting) throw new ModelBusyError('updateGrid(): the model is being trained; use train()\'s gridUpdate option');
  runSync(gridUpdateCalls(model, x, eps, lambda, false));
}

/** @internal The trainer's grid update (it already holds the model's write lock). */
export function gridUpdateForTrainer(model: KAN, x: Float32Array, gridEps: number, async: boolean): void | Promise<void> {
  return async ? runAsync(gridUpdateCalls(model, x, gridEps, 1e-8, true)) : runSync(gridUpdateCalls(model, x, gridEps, 1e-8, false));
}

/** updateGrid with its native work (spline evaluation, least squares, forward) off the event loop. */
export async function updateGridAsync(model: KAN, x: Float32Array, options: GridUpdateOptions = {}): Promise<void> {
  const { eps, lambda } = gridOptions(model, x, options);
  if (model.lock.training) throw new ModelBusyError('updateGridAsync(): the model is being trained; use train()\'s gridUpdate option');
  const xc = x.slice();
  await model.lock.write(() => runAsync(gridUpdateCalls(model, xc, eps, lambda, true)));
}

function* gridUpdateCalls(model: KAN, x: Float32Array, eps: number, lambda: number, async: boolean): Generator<NativeCall> {
  const B = x.length / model.inputDim;
  let h = x;
  for (const layer of model.layers) {
    const { inDim: I, outDim: O, gridSize: G, splineOrder: k, numKnots: NK } = layer;
    // Sorted inputs per column: xs (B, I).
    const xs = new Float32Array(B * I);
    const col = new Float32Array(B);
    for (let i = 0; i < I; i++) {
      for (let b = 0; b < B; b++) col[b] = h[b * I + i];
      col.sort();
      for (let b = 0; b < B; b++) xs[b * I + i] = col[b];
    }
    // The spline part at the sorted samples, on the old grid.
    const yEval = new Float32Array(check.sizeOf('grid update samples', B, I, O));
    yield native.splineEval(yEval, xs, layer.grid, layer.coef, B, I, O, G, k, async);
    // New knot rows.
    const grid = new Float32Array(I * NK);
    for (let i = 0; i < I; i++) {
      const g = new Float64Array(G + 1);
      const lo = xs[i], hi = xs[(B - 1) * I + i];
      for (let j = 0; j < G; j++) {
        const adaptive = xs[Math.floor((B / G) * j) * I + i];
        g[j] = eps * (lo + ((hi - lo) / G) * j) + (1 - eps) * adaptive;
      }
      g[G] = hi;
      let step = (g[G] - g[0]) / G;
      if (!(step > 0)) step = 1e-3;  // all samples equal: keep a non-degenerate row around them
      const row = grid.subarray(i * NK, (i + 1) * NK);
      for (let m = 0; m < k; m++) row[m] = g[0] - (k - m) * step;
      for (let j = 0; j <= G; j++) row[k + j] = g[j];
      for (let m = 1; m <= k; m++) row[k + G + m] = g[G] + m * step;
      if (!(hi > lo)) for (let m = 0; m < NK; m++) row[m] = lo + (m - k - G / 2) * step;
    }
    layer.grid.set(grid);
    yield native.splineFit(layer.coef, xs, yEval, layer.grid, B, I, O, G, k, lambda, async);
    // Inputs of the next layer, with the refitted layer.
    const next = new Float32Array(B * O);
    yield native.kanForward(next, h, layer.grid, layer.coef, layer.wb, layer.ws, layer.mask, B, I, O, G, k, model.baseCode, async);
    h = next;
  }
}

/**
 * A new KAN with `gridSize` intervals whose splines are fitted to this model's (pykan's refine):
 * each layer's new uniform-in-index grid spans the old grid's [t_k, t_{k+G}] range, and the new
 * coefficients are least-squares fits to the old spline part sampled densely on that range.
 * Weights, masks and the other settings carry over.
 */
export function extendGrid(model: KAN, gridSize: number, options: { samples?: number; lambda?: number } = {}): KAN {
  if (!(model instanceof KAN)) throw check.typeError('model', 'KAN', model);
  const G2 = check.int('gridSize', gridSize, 1, 10000);
  const o = check.plainObject('options', options);
  check.knownKeys('options', o, ['samples', 'lambda']);
  const lambda = o.lambda === undefined ? 1e-8 : check.num('options.lambda', o.lambda, 0);
  const cfg = model.config() as Record<string, unknown>;
  const out = new KAN({ ...(cfg as object), gridSize: G2 } as never);
  model.layers.forEach((old, l) => {
    const nu = out.layers[l];
    const { inDim: I, outDim: O, gridSize: G, splineOrder: k, numKnots: NK } = old;
    const NK2 = nu.numKnots;
    const n = o.samples === undefined ? Math.max(4 * (G2 + k), 200) : check.int('options.samples', o.samples, 2, 1e7);
    const xs = new Float32Array(n * I);
    for (let i = 0; i < I; i++) {
      const a = old.grid[i * NK + k], b = old.grid[i * NK + k + G];
      // New grid row: G2+1 points interpolated in knot index over the old interior knots, extended.
      const g = new Float64Array(G2 + 1);
      for (let j = 0; j <= G2; j++) {
        const pos = (j * G) / G2, m = Math.min(G - 1, Math.floor(pos)), f = pos - m;
        g[j] = old.grid[i * NK + k + m] * (1 - f) + old.grid[i * NK + k + m + 1] * f;
      }
      const step = (g[G2] - g[0]) / G2;
      for (let m = 0; m < k; m++) nu.grid[i * NK2 + m] = g[0] - (k - m) * step;
      for (let j = 0; j <= G2; j++) nu.grid[i * NK2 + k + j] = g[j];
      for (let m = 1; m <= k; m++) nu.grid[i * NK2 + k + G2 + m] = g[G2] + m * step;
      for (let s = 0; s < n; s++) xs[s * I + i] = a + ((b - a) * s) / (n - 1);
    }
    const yEval = new Float32Array(check.sizeOf('grid extension samples', n, I, O));
    native.splineEval(yEval, xs, old.grid, old.coef, n, I, O, G, k);
    native.splineFit(nu.coef, xs, yEval, nu.grid, n, I, O, G2, k, lambda);
    nu.wb.set(old.wb); nu.ws.set(old.ws); nu.mask.set(old.mask);
  });
  return out;
}
