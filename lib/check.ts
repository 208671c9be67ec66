// check.ts — argument checks. Every failure is a TypeError (wrong type) or RangeError (right
// type, bad value) whose message names the argument, the expectation and what was received:
//   "Expected positive integer for gridSize but received 1.5 of type number"
import { native } from './native.js';  // (native.ts uses this module only inside functions)

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${String(v)} of type ${typeof v}`;
  if (typeof v === 'string') return `${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)} of type string`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length?: number }).length ?? v.byteLength})`;
  if (Array.isArray(v)) return `array of length ${v.length}`;
  if (typeof v === 'function') return 'function';
  return `${(v as object).constructor?.name ?? 'object'} of type object`;
}

export function typeError(name: string, expected: string, actual: unknown): TypeError {
  return new TypeError(`Expected ${expected} for ${name} but received ${describe(actual)}`);
}

export function rangeError(name: string, expected: string, actual: unknown): RangeError {
  return new RangeError(`Expected ${expected} for ${name} but received ${describe(actual)}`);
}

/** An integer in [lo, hi]. Non-numbers are a TypeError, other numbers a RangeError. */
export function int(name: string, v: unknown, lo: number, hi: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number') throw typeError(name, intRange(lo, hi), v);
  if (!Number.isInteger(v) || v < lo || v > hi) throw rangeError(name, intRange(lo, hi), v);
  return v;
}

// int's expectation in words (built on failure only: the checks on every step allocate nothing)
function intRange(lo: number, hi: number): string {
  return lo === 1 && hi === Number.MAX_SAFE_INTEGER ? 'positive integer'
    : hi === Number.MAX_SAFE_INTEGER ? `integer >= ${lo}` : `integer in [${lo}, ${hi}]`;
}

/** A finite number in [lo, hi] (open ends when the flags say so). */
export function num(name: string, v: unknown, lo = -Infinity, hi = Infinity, opts: { openLo?: boolean; openHi?: boolean } = {}): number {
  const l = opts.openLo ? '(' : '[', r = opts.openHi ? ')' : ']';
  const what = lo === -Infinity && hi === Infinity ? 'finite number'
    : hi === Infinity ? `finite number ${opts.openLo ? '>' : '>='} ${lo}`
    : `finite number in ${l}${lo}, ${hi}${r}`;
  if (typeof v !== 'number') throw typeError(name, what, v);
  if (!Number.isFinite(v) || v < lo || v > hi || (opts.openLo && v === lo) || (opts.openHi && v === hi)) throw rangeError(name, what, v);
  return v;
}

export function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw typeError(name, 'boolean', v);
  return v;
}

export function oneOf<T extends string>(name: string, v: unknown, options: readonly T[]): T {
  const what = `one of ${options.map((o) => `'${o}'`).join(', ')}`;
  if (typeof v !== 'string') throw typeError(name, what, v);
  if (!(options as readonly string[]).includes(v)) throw rangeError(name, what, v);
  return v as T;
}

export function plainObject(name: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw typeError(name, 'object', v);
  return v as Record<string, unknown>;
}

/** Rejects keys the options object does not know (catches typos such as `gridsize`). */
export function knownKeys(name: string, o: Record<string, unknown>, keys: readonly string[]): void {
  // for-in over own keys: Object.keys would allocate an array per call (backward's options, per step)
  for (const key in o)
    if (Object.prototype.hasOwnProperty.call(o, key) && !keys.includes(key))
      throw new RangeError(`Unknown option ${name}.${key}; expected one of ${keys.join(', ')}`);
}

/**
 * A Float32Array of the given length (or a multiple of `multipleOf`) whose values are all finite.
 * Buffers backed by a SharedArrayBuffer are refused: another thread could change them while a
 * kernel reads them. Detached buffers show up as length 0 and are refused by the length check.
 */
export function f32(name: string, v: unknown, opts: { length?: number; multipleOf?: number; finite?: boolean } = {}): Float32Array {
  return f32Checked(name, v, opts.length, opts.multipleOf, opts.finite !== false);
}

/** f32 with a required length and no options object: what the per-step calls use (nothing allocated). */
export function f32Length(name: string, v: unknown, length: number, finite = true): Float32Array {
  return f32Checked(name, v, length, undefined, finite);
}

function f32Checked(name: string, v: unknown, length: number | undefined, multipleOf: number | undefined, finite: boolean): Float32Array {
  if (!(v instanceof Float32Array)) throw typeError(name, 'Float32Array', v);
  if (typeof SharedArrayBuffer !== 'undefined' && v.buffer instanceof SharedArrayBuffer)
    throw typeError(name, 'Float32Array backed by an ArrayBuffer (not a SharedArrayBuffer)', v);
  if (length !== undefined && v.length !== length)
    throw new RangeError(`Expected Float32Array of length ${length} for ${name} but received length ${v.length}`);
  if (multipleOf !== undefined && (v.length === 0 || v.length % multipleOf !== 0))
    throw new RangeError(`Expected Float32Array whose length is a positive multiple of ${multipleOf} for ${name} but received length ${v.length}`);
  if (finite) {
    const q = firstNonFinite(v);
    if (q >= 0) throw new RangeError(`Expected finite values in ${name} but received ${v[q]} at index ${q}`);
  }
  return v;
}

/**
 * Index of the first NaN or ±Infinity in v[from..to), or -1. Spans of 256 values or more go to the
 * addon (a vectorised test of the exponent bits, ~0.1 ns per value), shorter ones stay in JS (a
 * call costs more than they do); V8's own loop over a large Float32Array takes ~3 ns per value,
 * 2.4 ms for one batch of config a's inputs.
 */
export function firstNonFinite(v: Float32Array, from = 0, to = v.length): number {
  if (to - from >= 256) {
    const q = native.firstNonFinite(from === 0 && to === v.length ? v : v.subarray(from, to), to - from);
    return q < 0 ? -1 : from + q;
  }
  for (let q = from; q < to; q++) {
    const e = v[q];
    if (e - e !== 0) return q;
  }
  return -1;
}

/** Checked product of sizes: refuses anything that cannot be allocated as one Float32Array. */
export function sizeOf(name: string, ...dims: number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  if (!(p < 2 ** 31)) throw new RangeError(`Expected ${name} to need fewer than 2^31 floats but it needs ${p}`);
  return p;
}
