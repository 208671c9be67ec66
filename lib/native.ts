// native.ts — loads the addon and types the raw binding.
//
// The binary is found by node-gyp-build: build/Release (a local source build) first, then
// prebuilds/<platform>-<arch>/. Every function checks only cheap invariants (types, lengths
// against dims); the precise argument checks with named messages live in check.ts and the
// models. Functions marked [sync|async] return a Promise when their last argument is true.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as check from './check.js';

export type F32 = Float32Array;

export interface Binding {
  // [sync|async] y (B,O) = KAN layer(x (B,I)); grid (I,NK), coef (I,NB,O), wb/ws/mask (I,O)
  kanForward(y: F32, x: F32, grid: F32, coef: F32, wb: F32, ws: F32, mask: F32,
    B: number, I: number, O: number, G: number, k: number, base: number, async?: boolean): void | Promise<void>;
  // [sync|async] accumulates dx (or null), dcoef, dwb, dws from dy; with overwrite, dcoef, dwb
  // and dws are set to the batch's gradient (bitwise the same as zeroing them first), dx still added to
  kanBackward(dx: F32 | null, dcoef: F32, dwb: F32, dws: F32, dy: F32, x: F32, grid: F32, coef: F32,
    wb: F32, ws: F32, mask: F32, B: number, I: number, O: number, G: number, k: number, base: number,
    async?: boolean, overwrite?: boolean): void | Promise<void>;
  // [sync|async] coef (I,NB,O) = ridge least-squares fit of y (n,I,O) at x (n,I)
  splineFit(coef: F32, x: F32, y: F32, grid: F32, n: number, I: number, O: number, G: number, k: number,
    lambda: number, async?: boolean): void | Promise<void>;
  // [sync|async] out (n,I,O) = spline part sum_m coef[i,m,o] B_m(x[n,i]) (pykan's coef2curve)
  splineEval(out: F32, x: F32, grid: F32, coef: F32, n: number, I: number, O: number, G: number, k: number,
    async?: boolean): void | Promise<void>;
  // [sync|async] z = x W + bias, y = act(z); z may be null
  denseForward(y: F32, z: F32 | null, x: F32, W: F32, bias: F32, B: number, I: number, O: number, act: number,
    async?: boolean): void | Promise<void>;
  // [sync|async] accumulates dx (or null), dW, dbias; with overwrite, dW and dbias are set to the
  // batch's gradient (bitwise the same as zeroing them first), dx still added to
  denseBackward(dx: F32 | null, dW: F32, dbias: F32, dy: F32, x: F32, z: F32, W: F32, B: number, I: number,
    O: number, act: number, async?: boolean, overwrite?: boolean): void | Promise<void>;
  // [sync] index of the first NaN/±Inf of x (length n), or -1
  firstNonFinite(x: F32, n: number): number;
  // [sync] mean squared error; writes dpred unless null
  mseLoss(dpred: F32 | null, pred: F32, target: F32, n: number): number;
  // [sync] mean softmax cross-entropy; writes dlogits unless null
  crossEntropyLoss(dlogits: F32 | null, logits: F32, labels: Int32Array, B: number, C: number): number;
  // [sync|async]
  adamStep(p: F32, m: F32, v: F32, g: F32, n: number, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, t: number, async?: boolean): void | Promise<void>;
  // [sync|async]
  sgdStep(p: F32, buf: F32, g: F32, n: number, lr: number, momentum: number, weightDecay: number,
    async?: boolean): void | Promise<void>;
  // [sync] rows idx[from .. from+count) of src (srcRows × width) into rows at .. at+count of dst
  gatherRows(dst: F32, dstRows: number, src: F32, srcRows: number, width: number, idx: Uint32Array, n: number,
    from: number, count: number, at: number): void;
  simd(): SimdPath;
  simdAvailable(): SimdPath[];
  setSimd(name: string): void;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  peakGflops(threads: number, seconds: number): number;
  readBandwidth(bytes: number, threads: number, seconds: number): number;
  tileGflops(tile: number, threads: number, seconds: number): number;
  // [sync] the address of the buffer's first byte modulo 64
  addressMod64(buffer: ArrayBuffer): number;
}

/**
 * 'w16' is a testing path: the AVX-512 path's kernel code (16 lanes, its panel widths and tile
 * shapes) with each vector a pair of AVX2 vectors, so that code can be tested on CPUs without
 * AVX-512. It is listed by simdAvailable() after the real paths and never chosen automatically.
 */
export type SimdPath = 'avx512' | 'avx2' | 'baseline' | 'scalar' | 'w16';

/** The package root: the nearest folder above this file with kan-native's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let n = 0; n < 6; n++) {
    if (existsSync(join(dir, 'package.json')) && (existsSync(join(dir, 'binding.gyp')) || existsSync(join(dir, 'CMakeLists.txt')))) return dir;
    dir = dirname(dir);
  }
  throw new Error('kan-native: cannot find the package root from ' + fileURLToPath(import.meta.url));
}

function load(): Binding {
  const root = packageRoot();
  const require = createRequire(join(root, 'package.json'));
  try {
    return require('node-gyp-build')(root) as Binding;
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(
      `kan-native: could not load the native addon (${msg}).\n` +
      'Possible fixes:\n' +
      '  - build it from source: npm run build:native (needs cmake and a C++17 compiler)\n' +
      `  - check that prebuilds/${process.platform}-${process.arch}/ holds a prebuild for this platform\n` +
      '  - reinstall: rm -rf node_modules build && npm install');
  }
}

export const native: Binding = load();

/**
 * A zero-filled Float32Array of n floats whose first element is 64-byte aligned (a view into a
 * slightly larger ArrayBuffer, whose backing store never moves). The kernels' vector loads of
 * model parameters, gradients and activations then never straddle two cache lines where the
 * layout allows. What `new Float32Array` gives here is 16-byte aligned (16 or 48 mod 64 for large
 * arrays); the single-sample forward, which reads the model's rows directly, ran 1.13–1.16×
 * slower on them (784×64 layer, 1 thread) and config a's model.forward 1.08–1.10×; the batch
 * forms, which copy rows into aligned scratch, did not move.
 */
export function alignedF32(n: number): Float32Array {
  const buf = new ArrayBuffer(4 * n + 64);
  const skip = (64 - native.addressMod64(buf)) % 64;
  // an allocator gives at least 4-byte-aligned memory; were it not, the view would throw here
  return new Float32Array(buf, skip, n);
}

/** The SIMD path the kernels use: 'avx512', 'avx2', 'baseline' (SSE2/NEON) or 'scalar'. */
export function simd(): SimdPath { return native.simd(); }
/** SIMD paths this CPU supports, best first ('w16', a testing path, last). */
export function simdAvailable(): SimdPath[] { return native.simdAvailable(); }
/**
 * Switch the SIMD path for the whole process (for tests and benchmarks; KAN_SIMD in the
 * environment does the same at load time). Throws RangeError if this CPU lacks it.
 */
export function setSimd(name: SimdPath): void {
  if (typeof name !== 'string') throw new TypeError(`Expected string for name but received ${typeof name}`);
  native.setSimd(name);
}
/** Threads of the native pool (KAN_NUM_THREADS or the core count at load time). */
export function getNumThreads(): number { return native.getNumThreads(); }
/** Resize the native pool: results are bitwise identical for a given count. */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number') throw new TypeError(`Expected integer in [1, 256] for n but received ${typeof n === 'string' ? JSON.stringify(n) : String(n)} of type ${typeof n}`);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`Expected integer in [1, 256] for n but received ${String(n)}`);
  native.setNumThreads(n);
}
/** FMA throughput of the active SIMD path over `threads` threads, in GFLOP/s. */
export function peakGflops(threads = getNumThreads(), seconds = 0.25): number {
  return native.peakGflops(threads, seconds);
}
/** Read bandwidth (GB/s) of the active SIMD path over a warm working set of `bytes` (4 KiB–1 GiB)
 *  split across `threads` threads (at most the pool size): what streaming that many bytes from
 *  wherever they fit can do. */
export function readBandwidth(bytes: number, threads = getNumThreads(), seconds = 0.25): number {
  return native.readBandwidth(bytes, threads, seconds);
}
/** The register tiles tileGflops() can run. */
export const TILES = ['forward', 'backward-rows', 'backward-dx'] as const;
export type Tile = (typeof TILES)[number];
/**
 * GFLOP/s of one of the KAN kernels' own register tiles (k = 3, G = 5) with every operand in L1,
 * over `threads` threads (at most the pool size): 'forward' the folded forward's 2-sample ×
 * 4-vector tile over a block of inputs, 'backward-rows' the backward's R-row/dwb pass over runs of
 * samples, 'backward-dx' its dx pass. What the tile can reach when nothing waits for memory — a
 * ceiling for the kernel built from it, to compare with peakGflops(). Counts 2 flops per lane of
 * every FMA and multiply the tile executes.
 */
export function tileGflops(tile: Tile = 'forward', threads = getNumThreads(), seconds = 0.25): number {
  return native.tileGflops(TILES.indexOf(check.oneOf('tile', tile, TILES)), threads, seconds);
}
