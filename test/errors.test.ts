// errors.test.ts — bad input is refused with a TypeError (wrong type) or RangeError (bad value)
// whose message names the argument, the expectation and the received value; nothing crashes,
// and nothing is modified by a refused call.
import { describe, expect, it } from 'vitest';
import {
  KAN, MLP, train, setNumThreads, getNumThreads, setSimd, simd, simdAvailable, tileGflops, Rng, type Model,
} from '../lib/index.js';
import { native } from '../lib/native.js';
import * as check from '../lib/check.js';

type ErrClass = typeof TypeError | typeof RangeError;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Regex for "Expected <expectation> for <name> but received <received>" (substrings). */
function named(name: string, expectation: string, received: string): RegExp {
  return new RegExp(`Expected ${esc(expectation)}.* for ${esc(name)} but received ${esc(received)}`);
}

/** Runs fn, asserts it throws exactly `cls` (not a subclass chain mismatch) with a matching message. */
function expectThrows(fn: () => unknown, cls: ErrClass, re: RegExp): Error {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  expect(caught, 'expected a throw').toBeInstanceOf(Error);
  const e = caught as Error;
  expect(e.constructor).toBe(cls);
  expect(e.message).toMatch(re);
  return e;
}

async function expectRejects(p: () => Promise<unknown>, cls: ErrClass, re: RegExp): Promise<Error> {
  let caught: unknown;
  let promise: Promise<unknown>;
  try {
    promise = p();
  } catch (err) {
    throw new Error(`expected a rejected promise, got a synchronous throw: ${(err as Error).message}`);
  }
  try { await promise; } catch (err) { caught = err; }
  expect(caught, 'expected a rejection').toBeInstanceOf(Error);
  const e = caught as Error;
  expect(e.constructor).toBe(cls);
  expect(e.message).toMatch(re);
  return e;
}

// ---------------------------------------------------------------------------------------------
// Constructors

type Case = [string, unknown, ErrClass, RegExp];

const kanCases: Case[] = [
  ['widths missing', {}, TypeError, named('options.widths', 'array of at least 2 positive integers', 'undefined')],
  ['widths []', { widths: [] }, RangeError, named('options.widths', 'array of at least 2', 'array of length 0')],
  ['widths [2]', { widths: [2] }, RangeError, named('options.widths', 'array of at least 2', 'array of length 1')],
  ['widths [2, 0]', { widths: [2, 0] }, RangeError, named('options.widths[1]', 'integer in [1, 1000000]', '0 of type number')],
  ['widths [2, 1.5]', { widths: [2, 1.5] }, RangeError, named('options.widths[1]', 'integer', '1.5 of type number')],
  ['widths [2, -3]', { widths: [2, -3] }, RangeError, named('options.widths[1]', 'integer', '-3 of type number')],
  ['widths [2, NaN]', { widths: [2, NaN] }, RangeError, named('options.widths[1]', 'integer', 'NaN of type number')],
  ['widths [2, undefined, 1]', { widths: [2, undefined, 1] }, TypeError, named('options.widths[1]', 'integer', 'undefined')],
  // A sparse array: forEach skips the hole, so the check must not rely on it.
  // eslint-disable-next-line no-sparse-arrays
  ['widths [2, <hole>, 1] (sparse array)', { widths: [2, , 1] }, TypeError, named('options.widths[1]', 'integer', 'undefined')],
  ["widths ['a']", { widths: ['a'] }, RangeError, named('options.widths', 'array of at least 2', 'array of length 1')],
  ["widths ['a', 2]", { widths: ['a', 2] }, TypeError, named('options.widths[0]', 'integer', '"a" of type string')],
  ["widths 'abc'", { widths: 'abc' }, TypeError, named('options.widths', 'array', '"abc" of type string')],
  ['widths [1e6, 1e6] (too large to allocate)', { widths: [1_000_000, 1_000_000] }, RangeError, /options\.widths.*2\^31/],
  ['gridSize 0', { widths: [2, 1], gridSize: 0 }, RangeError, named('options.gridSize', 'integer in [1, 10000]', '0 of type number')],
  ['gridSize 1.5', { widths: [2, 1], gridSize: 1.5 }, RangeError, named('options.gridSize', 'integer in [1, 10000]', '1.5 of type number')],
  ['gridSize -1', { widths: [2, 1], gridSize: -1 }, RangeError, named('options.gridSize', 'integer in [1, 10000]', '-1 of type number')],
  ['gridSize 10001', { widths: [2, 1], gridSize: 10001 }, RangeError, named('options.gridSize', 'integer in [1, 10000]', '10001 of type number')],
  ["gridSize '5'", { widths: [2, 1], gridSize: '5' }, TypeError, named('options.gridSize', 'integer in [1, 10000]', '"5" of type string')],
  ['gridSize Infinity', { widths: [2, 1], gridSize: Infinity }, RangeError, named('options.gridSize', 'integer', 'Infinity of type number')],
  ['gridSize null', { widths: [2, 1], gridSize: null }, TypeError, named('options.gridSize', 'integer', 'null')],
  ['splineOrder 0', { widths: [2, 1], splineOrder: 0 }, RangeError, named('options.splineOrder', 'integer in [1, 5]', '0 of type number')],
  ['splineOrder 9', { widths: [2, 1], splineOrder: 9 }, RangeError, named('options.splineOrder', 'integer in [1, 5]', '9 of type number')],
  ['splineOrder 2.5', { widths: [2, 1], splineOrder: 2.5 }, RangeError, named('options.splineOrder', 'integer in [1, 5]', '2.5 of type number')],
  ['splineOrder true', { widths: [2, 1], splineOrder: true }, TypeError, named('options.splineOrder', 'integer', 'true of type boolean')],
  ['gridRange [1, -1]', { widths: [2, 1], gridRange: [1, -1] }, RangeError, /Expected array \[a, b\] with a < b for options\.gridRange but received .*\[1, -1\]/],
  ['gridRange [0, 0]', { widths: [2, 1], gridRange: [0, 0] }, RangeError, /Expected array \[a, b\] with a < b for options\.gridRange but received .*\[0, 0\]/],
  ['gridRange [NaN, 1]', { widths: [2, 1], gridRange: [NaN, 1] }, RangeError, named('options.gridRange[0]', 'finite number', 'NaN of type number')],
  ['gridRange [0, Infinity]', { widths: [2, 1], gridRange: [0, Infinity] }, RangeError, named('options.gridRange[1]', 'finite number', 'Infinity of type number')],
  ["gridRange 'x'", { widths: [2, 1], gridRange: 'x' }, TypeError, named('options.gridRange', 'array [a, b]', '"x" of type string')],
  ['gridRange [0, 1, 2]', { widths: [2, 1], gridRange: [0, 1, 2] }, TypeError, named('options.gridRange', 'array [a, b]', 'array of length 3')],
  ["gridRange ['0', 1]", { widths: [2, 1], gridRange: ['0', 1] }, TypeError, named('options.gridRange[0]', 'finite number', '"0" of type string')],
  ["base 'relu'", { widths: [2, 1], base: 'relu' }, RangeError, named('options.base', "one of 'silu', 'identity', 'zero'", '"relu" of type string')],
  ['base 2', { widths: [2, 1], base: 2 }, TypeError, named('options.base', "one of 'silu'", '2 of type number')],
  ['noiseScale -1', { widths: [2, 1], noiseScale: -1 }, RangeError, named('options.noiseScale', 'finite number >= 0', '-1 of type number')],
  ['noiseScale NaN', { widths: [2, 1], noiseScale: NaN }, RangeError, named('options.noiseScale', 'finite number >= 0', 'NaN of type number')],
  ['scaleBaseSigma -0.5', { widths: [2, 1], scaleBaseSigma: -0.5 }, RangeError, named('options.scaleBaseSigma', 'finite number >= 0', '-0.5 of type number')],
  ["scaleBaseMu 'a'", { widths: [2, 1], scaleBaseMu: 'a' }, TypeError, named('options.scaleBaseMu', 'finite number', '"a" of type string')],
  ['seed -1', { widths: [2, 1], seed: -1 }, RangeError, named('options.seed', 'integer in [0, 4294967295]', '-1 of type number')],
  ['seed 1.5', { widths: [2, 1], seed: 1.5 }, RangeError, named('options.seed', 'integer in [0, 4294967295]', '1.5 of type number')],
  ['seed 2^32', { widths: [2, 1], seed: 2 ** 32 }, RangeError, named('options.seed', 'integer in [0, 4294967295]', '4294967296 of type number')],
  ["unknown option 'gridsize'", { widths: [2, 1], gridsize: 5 }, RangeError, /Unknown option options\.gridsize; expected one of .*gridSize/],
  ["trainable {coef: 'yes'}", { widths: [2, 1], trainable: { coef: 'yes' } }, TypeError, named('options.trainable.coef', 'boolean', '"yes" of type string')],
  ["trainable {cof: true}", { widths: [2, 1], trainable: { cof: true } }, RangeError, /Unknown option options\.trainable\.cof; expected one of coef, wb, ws/],
  ["trainable 'all'", { widths: [2, 1], trainable: 'all' }, TypeError, named('options.trainable', 'object', '"all" of type string')],
  ['options null', null, TypeError, named('options', 'object', 'null')],
  ['options undefined', undefined, TypeError, named('options', 'object', 'undefined')],
  ['options an array', [2, 1], TypeError, named('options', 'object', 'array of length 2')],
];

describe('new KAN(bad options)', () => {
  it.each(kanCases)('%s', (_name, options, cls, re) => {
    expectThrows(() => new KAN(options as never), cls, re);
  });

  it('valid neighbours of the bad options construct fine (the checks are not over-eager)', () => {
    for (const o of [
      { widths: [2, 1], gridSize: 1 }, { widths: [2, 1], gridSize: 10000 }, { widths: [2, 1], splineOrder: 1 },
      { widths: [2, 1], splineOrder: 5 }, { widths: [2, 1], gridRange: [-3, -2] }, { widths: [2, 1], base: 'zero' },
      { widths: [2, 1], noiseScale: 0 }, { widths: [2, 1], seed: 2 ** 32 - 1 }, { widths: [2, 1], trainable: {} },
      { widths: [1, 1] },
    ]) expect(new KAN(o as never)).toBeInstanceOf(KAN);
  });
});

const mlpCases: Case[] = [
  ["activation 'gelu'", { widths: [2, 3, 1], activation: 'gelu' }, RangeError,
    named('options.activation', "one of 'identity', 'relu', 'silu', 'tanh'", '"gelu" of type string')],
  ["activation 'ReLU' (case matters)", { widths: [2, 3, 1], activation: 'ReLU' }, RangeError, named('options.activation', 'one of', '"ReLU" of type string')],
  ['activation 0', { widths: [2, 3, 1], activation: 0 }, TypeError, named('options.activation', 'one of', '0 of type number')],
  ['widths missing', {}, TypeError, named('options.widths', 'array of at least 2 positive integers', 'undefined')],
  ['widths [3]', { widths: [3] }, RangeError, named('options.widths', 'array of at least 2', 'array of length 1')],
  ['widths [3, 0, 1]', { widths: [3, 0, 1] }, RangeError, named('options.widths[1]', 'integer in [1, 1000000]', '0 of type number')],
  // eslint-disable-next-line no-sparse-arrays
  ['widths [3, <hole>, 1] (sparse array)', { widths: [3, , 1] }, TypeError, named('options.widths[1]', 'integer', 'undefined')],
  ['widths [3, 2.5]', { widths: [3, 2.5] }, RangeError, named('options.widths[1]', 'integer', '2.5 of type number')],
  ["widths [3, '4']", { widths: [3, '4'] }, TypeError, named('options.widths[1]', 'integer', '"4" of type string')],
  ['widths a Float32Array', { widths: new Float32Array([2, 1]) }, TypeError, named('options.widths', 'array', 'Float32Array(2)')],
  ["seed 'x'", { widths: [2, 1], seed: 'x' }, TypeError, named('options.seed', 'integer', '"x" of type string')],
  ["unknown option 'hidden'", { widths: [2, 1], hidden: 3 }, RangeError, /Unknown option options\.hidden; expected one of widths, activation/],
  ['trainable {weight: 1}', { widths: [2, 1], trainable: { weight: 1 } }, TypeError, named('options.trainable.weight', 'boolean', '1 of type number')],
];

describe('new MLP(bad options)', () => {
  it.each(mlpCases)('%s', (_name, options, cls, re) => {
    expectThrows(() => new MLP(options as never), cls, re);
  });
});

// ---------------------------------------------------------------------------------------------
// forward / forwardAsync

function detached(n: number): Float32Array {
  const a = new Float32Array(n);
  structuredClone(a, { transfer: [a.buffer] });
  expect(a.buffer.byteLength).toBe(0);
  return a;
}

function sabF32(n: number): Float32Array {
  const a = new Float32Array(new SharedArrayBuffer(4 * n));
  a.fill(0.25);
  return a;
}

function withValue(n: number, at: number, v: number): Float32Array {
  const a = new Float32Array(n).fill(0.1);
  a[at] = v;
  return a;
}

const forwardCases: [string, () => unknown, ErrClass, RegExp][] = [
  ['a plain array', () => [0.1, 0.2, 0.3, 0.4], TypeError, named('x', 'Float32Array', 'array of length 4')],
  ['a Float64Array', () => new Float64Array(4), TypeError, named('x', 'Float32Array', 'Float64Array(4)')],
  ['a Uint8Array', () => new Uint8Array(4), TypeError, named('x', 'Float32Array', 'Uint8Array(4)')],
  ['null', () => null, TypeError, named('x', 'Float32Array', 'null')],
  ['a string', () => 'abcd', TypeError, named('x', 'Float32Array', '"abcd" of type string')],
  ['wrong length 3 (not a multiple of 2)', () => new Float32Array(3), RangeError,
    /Expected Float32Array whose length is a positive multiple of 2 for x but received length 3/],
  ['wrong length 5', () => new Float32Array(5), RangeError, /multiple of 2 for x but received length 5/],
  ['an empty array', () => new Float32Array(0), RangeError, /positive multiple of 2 for x but received length 0/],
  ['NaN at index 3', () => withValue(6, 3, NaN), RangeError, /Expected finite values in x but received NaN at index 3/],
  ['+Infinity at index 0', () => withValue(4, 0, Infinity), RangeError, /finite values in x but received Infinity at index 0/],
  ['-Infinity at index 5', () => withValue(6, 5, -Infinity), RangeError, /finite values in x but received -Infinity at index 5/],
  ['a detached Float32Array', () => detached(4), RangeError, /positive multiple of 2 for x but received length 0/],
  ['a Float32Array on a SharedArrayBuffer', () => sabF32(4), TypeError,
    named('x', 'Float32Array backed by an ArrayBuffer (not a SharedArrayBuffer)', 'Float32Array(4)')],
];

const models: [string, () => Model][] = [
  ['KAN', () => new KAN({ widths: [2, 3, 1], seed: 1 })],
  ['MLP', () => new MLP({ widths: [2, 4, 1], seed: 1 })],
];

describe.each(models)('%s.forward / forwardAsync with bad x', (_kind, make) => {
  const model = make();
  it.each(forwardCases)('forward: %s', (_name, x, cls, re) => {
    const before = Uint8Array.from(new Uint8Array(model.data.buffer));
    expectThrows(() => model.forward(x() as Float32Array), cls, re);
    expect(new Uint8Array(model.data.buffer)).toEqual(before);
  });
  it.each(forwardCases)('forwardAsync rejects: %s', async (_name, x, cls, re) => {
    await expectRejects(() => model.forwardAsync(x() as Float32Array), cls, re);
  });
  it('still works after all the refusals', async () => {
    const x = new Float32Array([0.1, 0.2, -0.3, 0.4]);
    const y = model.forward(x);
    expect(y.length).toBe(2);
    expect(Number.isFinite(y[0]) && Number.isFinite(y[1])).toBe(true);
    expect(await model.forwardAsync(x)).toEqual(y);
  });
});

// ---------------------------------------------------------------------------------------------
// train

function regressionData(n = 32) {
  const rng = new Rng(3);
  const x = new Float32Array(2 * n), y = new Float32Array(n);
  for (let q = 0; q < x.length; q++) x[q] = rng.range(-1, 1);
  for (let q = 0; q < n; q++) y[q] = x[2 * q] * x[2 * q + 1];
  return { x, y };
}

function classData(n = 30, C = 3) {
  const rng = new Rng(4);
  const x = new Float32Array(2 * n), y = new Int32Array(n);
  for (let q = 0; q < x.length; q++) x[q] = rng.range(-1, 1);
  for (let q = 0; q < n; q++) y[q] = q % C;
  return { x, y };
}

type TrainCase = [string, () => { model: Model; data: unknown; options?: unknown }, ErrClass, RegExp];
const reg = () => new KAN({ widths: [2, 2, 1], seed: 2 });
const cls3 = () => new MLP({ widths: [2, 4, 3], seed: 2 });

const trainCases: TrainCase[] = [
  ['lr -1', () => ({ model: reg(), data: regressionData(), options: { lr: -1 } }), RangeError, named('options.lr', 'finite number > 0', '-1 of type number')],
  ['lr 0', () => ({ model: reg(), data: regressionData(), options: { lr: 0 } }), RangeError, named('options.lr', 'finite number > 0', '0 of type number')],
  ['lr NaN', () => ({ model: reg(), data: regressionData(), options: { lr: NaN } }), RangeError, named('options.lr', 'finite number > 0', 'NaN of type number')],
  ['lr Infinity', () => ({ model: reg(), data: regressionData(), options: { lr: Infinity } }), RangeError, named('options.lr', 'finite number > 0', 'Infinity of type number')],
  ["lr '0.1'", () => ({ model: reg(), data: regressionData(), options: { lr: '0.1' } }), TypeError, named('options.lr', 'finite number > 0', '"0.1" of type string')],
  ['lr 0 with sgd', () => ({ model: reg(), data: regressionData(), options: { optimizer: 'sgd', lr: 0 } }), RangeError, named('options.lr', 'finite number > 0', '0 of type number')],
  ['steps -1', () => ({ model: reg(), data: regressionData(), options: { steps: -1 } }), RangeError, named('options.steps', 'integer in [0, 1000000000]', '-1 of type number')],
  ['steps 1.5', () => ({ model: reg(), data: regressionData(), options: { steps: 1.5 } }), RangeError, named('options.steps', 'integer', '1.5 of type number')],
  ["steps '10'", () => ({ model: reg(), data: regressionData(), options: { steps: '10' } }), TypeError, named('options.steps', 'integer', '"10" of type string')],
  ['batchSize 0', () => ({ model: reg(), data: regressionData(), options: { batchSize: 0 } }), RangeError, named('options.batchSize', 'positive integer', '0 of type number')],
  ['batchSize 2.5', () => ({ model: reg(), data: regressionData(), options: { batchSize: 2.5 } }), RangeError, named('options.batchSize', 'positive integer', '2.5 of type number')],
  ["optimizer 'rmsprop'", () => ({ model: reg(), data: regressionData(), options: { optimizer: 'rmsprop' } }), RangeError, named('options.optimizer', "one of 'adam', 'sgd'", '"rmsprop" of type string')],
  ["loss 'hinge'", () => ({ model: reg(), data: regressionData(), options: { loss: 'hinge' } }), RangeError, named('options.loss', "one of 'mse', 'crossEntropy'", '"hinge" of type string')],
  ['seed -1', () => ({ model: reg(), data: regressionData(), options: { seed: -1 } }), RangeError, named('options.seed', 'integer', '-1 of type number')],
  ['beta1 1', () => ({ model: reg(), data: regressionData(), options: { beta1: 1 } }), RangeError, named('options.beta1', 'finite number in [0, 1)', '1 of type number')],
  ['weightDecay -0.1', () => ({ model: reg(), data: regressionData(), options: { weightDecay: -0.1 } }), RangeError, named('options.weightDecay', 'finite number >= 0', '-0.1 of type number')],
  ['momentum 1 with sgd', () => ({ model: reg(), data: regressionData(), options: { optimizer: 'sgd', momentum: 1 } }), RangeError, named('options.momentum', 'finite number in [0, 1)', '1 of type number')],
  ['momentum with adam', () => ({ model: reg(), data: regressionData(), options: { momentum: 0.9 } }), RangeError, /options\.momentum.*adam/],
  ['historySize with adam', () => ({ model: reg(), data: regressionData(), options: { historySize: 5 } }), RangeError, /options\.historySize.*adam/],
  ['gridUpdate on an MLP', () => ({ model: new MLP({ widths: [2, 3, 1] }), data: regressionData(), options: { gridUpdate: { every: 1, until: 5 } } }),
    TypeError, named('model', 'KAN', 'MLP of type object')],
  ['gridUpdate.every 0', () => ({ model: reg(), data: regressionData(), options: { gridUpdate: { every: 0, until: 5 } } }),
    RangeError, named('options.gridUpdate.every', 'positive integer', '0 of type number')],
  ['onStep not a function', () => ({ model: reg(), data: regressionData(), options: { onStep: 'log' } }), TypeError, named('options.onStep', 'function', '"log" of type string')],
  ["unknown option 'learningRate'", () => ({ model: reg(), data: regressionData(), options: { learningRate: 0.1 } }), RangeError, /Unknown option options\.learningRate; expected one of .*lr/],
  ["unknown option 'epochs'", () => ({ model: reg(), data: regressionData(), options: { epochs: 3 } }), RangeError, /Unknown option options\.epochs/],
  ['options null', () => ({ model: reg(), data: regressionData(), options: null }), TypeError, named('options', 'object', 'null')],
  ['y of wrong length', () => ({ model: reg(), data: { x: regressionData().x, y: new Float32Array(31) } }), RangeError,
    /Expected Float32Array of length 32 for data\.y but received length 31/],
  ['NaN in y', () => { const d = regressionData(); d.y[5] = NaN; return { model: reg(), data: d }; }, RangeError,
    /Expected finite values in data\.y but received NaN at index 5/],
  ['Infinity in x', () => { const d = regressionData(); d.x[7] = Infinity; return { model: reg(), data: d }; }, RangeError,
    /Expected finite values in data\.x but received Infinity at index 7/],
  ['x of odd length', () => ({ model: reg(), data: { x: new Float32Array(63), y: new Float32Array(31) } }), RangeError,
    /multiple of 2 for data\.x but received length 63/],
  ['x a Float64Array', () => ({ model: reg(), data: { x: new Float64Array(64), y: new Float32Array(32) } }), TypeError,
    named('data.x', 'Float32Array', 'Float64Array(64)')],
  ['y an Int32Array for mse', () => ({ model: reg(), data: { x: regressionData().x, y: new Int32Array(32) } }), TypeError,
    named('data.y', 'Float32Array', 'Int32Array(32)')],
  ['data null', () => ({ model: reg(), data: null }), TypeError, named('data', 'object', 'null')],
  ['crossEntropy with Float32Array labels', () => ({ model: cls3(), data: { x: classData().x, y: new Float32Array(30) }, options: { loss: 'crossEntropy' } }),
    TypeError, named('data.y', 'Int32Array of class labels', 'Float32Array(30)')],
  ['crossEntropy with label 3 of 3 classes', () => { const d = classData(); d.y[4] = 3; return { model: cls3(), data: d, options: { loss: 'crossEntropy' } }; },
    RangeError, /class labels in \[0, 3\) in data\.y but received 3 at index 4/],
  ['crossEntropy with label -1', () => { const d = classData(); d.y[0] = -1; return { model: cls3(), data: d, options: { loss: 'crossEntropy' } }; },
    RangeError, /class labels in \[0, 3\) in data\.y but received -1 at index 0/],
  ['crossEntropy with too few labels', () => ({ model: cls3(), data: { x: classData().x, y: new Int32Array(29) }, options: { loss: 'crossEntropy' } }),
    RangeError, /Int32Array of length 30 for data\.y but received length 29/],
];

describe('train(bad arguments)', () => {
  it.each(trainCases)('%s', async (_name, make, cls, re) => {
    const { model, data, options } = make();
    const before = Uint8Array.from(new Uint8Array(model.data.buffer));
    const opts = options === undefined ? { steps: 3 } : options;
    await expectRejects(() => train(model, data as never, opts as never), cls, re);
    // Refused before any step: the model is untouched.
    expect(new Uint8Array(model.data.buffer)).toEqual(before);
  });

  it('the valid neighbours of these cases train fine', async () => {
    const d = regressionData();
    const r1 = await train(reg(), d, { steps: 0 });
    expect(r1.steps).toBe(0);
    const r2 = await train(reg(), d, { steps: 2, lr: 1e-3, batchSize: 1000, optimizer: 'sgd', momentum: 0 });
    expect(r2.losses.length).toBe(2);
    const c = classData();
    const r3 = await train(cls3(), c, { steps: 2, loss: 'crossEntropy' });
    expect(Number.isFinite(r3.finalLoss)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Long arrays: the values are scanned by the addon (check.firstNonFinite), short ones in JS

describe('non-finite values in long arrays', () => {
  /** The plain transcription: index of the first value v with v - v !== 0 in a[from..to), or -1. */
  const reference = (a: Float32Array, from: number, to: number) => {
    for (let q = from; q < to; q++) if (a[q] - a[q] !== 0) return q;
    return -1;
  };
  const bits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
  const bad: [string, number][] = [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity],
    ['a NaN with a payload', bits(0x7fc00001)], ['a negative NaN', bits(0xffffffff)], ['a signalling NaN', bits(0x7f800001)]];
  // finite values whose exponent bits come closest to the non-finite ones', and zeros/denormals
  const edge = [bits(0x7f7fffff), -bits(0x7f7fffff), bits(0x7f000000), -0, bits(1), bits(0x807fffff)];

  it('finds the same index as the plain loop at every block and threshold edge', () => {
    for (const n of [255, 256, 257, 2047, 2048, 2049, 4097, 70000]) {
      const a = new Float32Array(n);
      for (let q = 0; q < n; q++) a[q] = edge[q % edge.length] * (q % 3 === 0 ? 1 : 0.5);
      expect(check.firstNonFinite(a), `all finite, n=${n}`).toBe(-1);
      for (const at of [0, 1, 255, 256, 2047, 2048, 2049, n - 2, n - 1].filter((q) => q >= 0 && q < n))
        for (const [what, v] of bad) {
          const keep = a[at];
          a[at] = v;
          expect(check.firstNonFinite(a), `${what} at ${at} of ${n}`).toBe(reference(a, 0, n));
          expect(check.firstNonFinite(a)).toBe(at);
          // a range that ends before it, one that starts after it, one that holds it
          expect(check.firstNonFinite(a, 0, at)).toBe(-1);
          expect(check.firstNonFinite(a, at + 1, n)).toBe(-1);
          const lo = Math.max(0, at - 300), hi = Math.min(n, at + 300);
          expect(check.firstNonFinite(a, lo, hi)).toBe(at);
          a[at] = keep;
        }
    }
  });

  it('reports the first of several', () => {
    const a = new Float32Array(10000);
    a[9000] = NaN; a[7001] = -Infinity; a[7002] = NaN;
    expect(check.firstNonFinite(a)).toBe(7001);
    expect(check.firstNonFinite(a, 7002)).toBe(7002);
  });

  it('finds it on every SIMD path and thread count when the scan is split between threads', () => {
    // from 2 · 65536 values the addon splits the scan into one part per thread; each part sums
    // v - v over blocks of 64 vectors (256 to 1024 values by path) before searching a block
    const n = 300001, path0 = simd(), threads0 = getNumThreads();
    const a = new Float32Array(n);
    for (let q = 0; q < n; q++) a[q] = edge[q % edge.length];
    try {
      for (const path of simdAvailable())
        for (const threads of [1, 2, 3]) {
          setSimd(path);
          setNumThreads(threads);
          const tag = `${path}, ${threads} threads`;
          expect(check.firstNonFinite(a), `all finite, ${tag}`).toBe(-1);
          // part edges for 2 and 3 threads, block edges of every path, the ends
          const ats = [0, 1, 255, 256, 1023, 1024, 100000, 100001, 150000, 150001, 200000, 200001, n - 2, n - 1];
          for (const at of ats) {
            const keep = a[at];
            a[at] = bad[at % bad.length][1];
            expect(check.firstNonFinite(a), `at ${at}, ${tag}`).toBe(at);
            a[at] = keep;
          }
          // one in every part: the first part's wins; then only in the last part
          a[n - 7] = NaN; a[150002] = Infinity; a[99999] = NaN;
          expect(check.firstNonFinite(a), tag).toBe(99999);
          a[99999] = 0;
          expect(check.firstNonFinite(a), tag).toBe(150002);
          a[150002] = 0;
          expect(check.firstNonFinite(a), tag).toBe(n - 7);
          a[n - 7] = 0;
        }
    } finally {
      setSimd(path0);
      setNumThreads(threads0);
    }
  });

  it('forward names the index of a NaN in a long x', () => {
    const m = new KAN({ widths: [2, 3, 1], seed: 1 });
    const x = new Float32Array(2 * 600).fill(0.25);
    x[1117] = NaN;
    const before = Uint8Array.from(new Uint8Array(m.data.buffer));
    expectThrows(() => m.forward(x), RangeError, /Expected finite values in x but received NaN at index 1117/);
    expectThrows(() => m.forwardTrain(x, 600), RangeError, /Expected finite values in x but received NaN at index 1117/);
    expect(new Uint8Array(m.data.buffer)).toEqual(before);
  });

  it('train() names the index of an Infinity in its second slice of a long dataset', async () => {
    const d = regressionData(40000);
    d.x[70001] = -Infinity;  // the values are checked 65536 at a time
    const m = reg();
    const before = Uint8Array.from(new Uint8Array(m.data.buffer));
    await expectRejects(() => train(m, d, { steps: 3 }), RangeError, /Expected finite values in data\.x but received -Infinity at index 70001/);
    expect(new Uint8Array(m.data.buffer)).toEqual(before);
  });

  it('the binding checks its own arguments', () => {
    expectThrows(() => native.firstNonFinite(new Float32Array(300), 301), RangeError, /Expected x to have length 301 but received 300/);
    expectThrows(() => native.firstNonFinite(new Float64Array(300) as never, 300), TypeError, /Expected Float32Array for x/);
    expect(native.firstNonFinite(new Float32Array(0), 0)).toBe(-1);
  });
});

// ---------------------------------------------------------------------------------------------
// Threads and SIMD

describe('setNumThreads / setSimd', () => {
  const threads = getNumThreads();
  const path = simd();

  it.each([
    ['0', 0, RangeError, /Expected integer in \[1, 256\] for n but received 0$/],
    ['1.5', 1.5, RangeError, /Expected integer in \[1, 256\] for n but received 1\.5$/],
    ['1000', 1000, RangeError, /Expected integer in \[1, 256\] for n but received 1000$/],
    ['-2', -2, RangeError, /for n but received -2$/],
    ['NaN', NaN, RangeError, /for n but received NaN$/],
    // A string is the wrong type: TypeError, and the message must not read "received 2" as if
    // an in-range number had been refused.
    ["'2'", '2', TypeError, /Expected integer in \[1, 256\] for n but received .*string/],
  ] as [string, unknown, ErrClass, RegExp][])('setNumThreads(%s)', (_name, n, cls, re) => {
    expectThrows(() => setNumThreads(n as number), cls, re);
    expect(getNumThreads()).toBe(threads);
  });

  it.each([
    ["'nope'", 'nope', RangeError, /Expected a SIMD path supported by this CPU for name but received nope/],
    ["'AVX2' (case matters)", 'AVX2', RangeError, /for name but received AVX2/],
    ['3', 3, TypeError, /Expected string for name but received number/],
    ['undefined', undefined, TypeError, /Expected string for name but received undefined/],
  ] as [string, unknown, ErrClass, RegExp][])('setSimd(%s)', (_name, v, cls, re) => {
    expectThrows(() => setSimd(v as never), cls, re);
    expect(simd()).toBe(path);
  });

  it.each([
    ["'backward'", 'backward', RangeError, /^Expected one of 'forward', 'backward-rows', 'backward-dx' for tile but received "backward" of type string$/],
    ['1', 1, TypeError, /^Expected one of 'forward', 'backward-rows', 'backward-dx' for tile but received 1 of type number$/],
  ] as [string, unknown, ErrClass, RegExp][])('tileGflops(%s)', (_name, v, cls, re) => {
    expectThrows(() => tileGflops(v as never, 1, 0.01), cls, re);
  });

  it('valid values are accepted and restore the state', () => {
    expect(simdAvailable()).toContain(path);
    setSimd(path);
    expect(simd()).toBe(path);
    setNumThreads(threads);
    expect(getNumThreads()).toBe(threads);
  });
});

// ---------------------------------------------------------------------------------------------
// The raw binding: cheap checks, but never a crash.

/** Valid kanForward arguments for a real KAN layer (B = 3). */
function kanArgs(): unknown[] {
  const m = new KAN({ widths: [2, 3], gridSize: 4, splineOrder: 3, seed: 1 });
  const L = m.layers[0];
  const B = 3;
  const x = new Float32Array(B * 2).map((_, q) => (q - 3) / 4);
  return [new Float32Array(B * 3), x, L.grid, L.coef, L.wb, L.ws, L.mask, B, 2, 3, 4, 3, 2];
}

function denseArgs(): unknown[] {
  const B = 4, I = 3, O = 2;
  return [new Float32Array(B * O), null, new Float32Array(B * I).fill(0.5), new Float32Array(I * O).fill(0.1),
    new Float32Array(O), B, I, O, 2];
}

const set = (args: unknown[], i: number, v: unknown) => { const a = args.slice(); a[i] = v; return a; };

type RawCase = [string, () => unknown, ErrClass, RegExp];
const call = (fn: keyof typeof native, args: unknown[]) => () => (native[fn] as (...a: unknown[]) => unknown)(...args);

const rawCases: RawCase[] = [
  ['kanForward: y a Float64Array', call('kanForward', set(kanArgs(), 0, new Float64Array(9))), TypeError, /Float32Array for y/],
  ['kanForward: x a Float64Array', call('kanForward', set(kanArgs(), 1, new Float64Array(6))), TypeError, /Float32Array for x/],
  ['kanForward: x a plain array', call('kanForward', set(kanArgs(), 1, [0, 0, 0, 0, 0, 0])), TypeError, /Float32Array for x/],
  ['kanForward: grid null', call('kanForward', set(kanArgs(), 2, null)), TypeError, /Float32Array for grid/],
  ['kanForward: y too short', call('kanForward', set(kanArgs(), 0, new Float32Array(8))), RangeError, /y to have length 9 but received 8/],
  ['kanForward: x too long', call('kanForward', set(kanArgs(), 1, new Float32Array(7))), RangeError, /x to have length 6 but received 7/],
  ['kanForward: coef of the wrong size', call('kanForward', set(kanArgs(), 3, new Float32Array(5))), RangeError, /coef to have length 42 but received 5/],
  ['kanForward: mask too short', call('kanForward', set(kanArgs(), 6, new Float32Array(5))), RangeError, /mask to have length 6 but received 5/],
  ['kanForward: x detached', call('kanForward', set(kanArgs(), 1, detached(6))), RangeError, /x to have length 6 but received 0/],
  ['kanForward: y detached', call('kanForward', set(kanArgs(), 0, detached(9))), RangeError, /y to have length 9 but received 0/],
  ['kanForward: B a string', call('kanForward', set(kanArgs(), 7, '3')), TypeError, /Expected integer for B/],
  ['kanForward: B = -1', call('kanForward', set(kanArgs(), 7, -1)), RangeError, /for B but received -1/],
  ['kanForward: B = 1.5', call('kanForward', set(kanArgs(), 7, 1.5)), RangeError, /for B but received 1\.5/],
  ['kanForward: I = 0', call('kanForward', set(kanArgs(), 8, 0)), RangeError, /for I but received 0/],
  ['kanForward: k = 6', call('kanForward', set(kanArgs(), 11, 6)), RangeError, /\[1, 5\] for k but received 6/],
  ['kanForward: base = 3', call('kanForward', set(kanArgs(), 12, 3)), RangeError, /\[0, 2\] for base but received 3/],
  ['kanForward: huge dims', call('kanForward', set(set(kanArgs(), 7, 2 ** 30), 9, 4)), RangeError, /fewer than 2\^31/],
  ['kanForward: no arguments', call('kanForward', []), TypeError, /Expected integer for B/],
  ['kanForward async: bad length throws synchronously', call('kanForward', [...set(kanArgs(), 1, new Float32Array(2)), true]), RangeError, /x to have length 6/],
  ['kanBackward: dcoef too short', () => {
    const a = kanArgs();
    const [, x, grid, coef, wb, ws, mask, B, I, O, G, k, base] = a;
    return native.kanBackward(null, new Float32Array(41), new Float32Array(6), new Float32Array(6), new Float32Array(9),
      x as Float32Array, grid as Float32Array, coef as Float32Array, wb as Float32Array, ws as Float32Array,
      mask as Float32Array, B as number, I as number, O as number, G as number, k as number, base as number);
  }, RangeError, /dcoef to have length 42 but received 41/],
  ['splineFit: lambda -1', call('splineFit', [new Float32Array(7), new Float32Array(3), new Float32Array(3), new Float32Array(12), 3, 1, 1, 4, 3, -1]),
    RangeError, /lambda >= 0/],
  ['denseForward: too few arguments', call('denseForward', denseArgs().slice(0, 5)), TypeError, /Expected integer for B/],
  ['denseForward: no arguments', call('denseForward', []), TypeError, /Expected integer for B/],
  ['denseForward: W an Int32Array', call('denseForward', set(denseArgs(), 3, new Int32Array(6))), TypeError, /Float32Array for W/],
  ['denseForward: bias too long', call('denseForward', set(denseArgs(), 4, new Float32Array(3))), RangeError, /bias to have length 2 but received 3/],
  ['denseForward: x detached', call('denseForward', set(denseArgs(), 2, detached(12))), RangeError, /x to have length 12 but received 0/],
  ['denseForward: act = 4', call('denseForward', set(denseArgs(), 8, 4)), RangeError, /\[0, 3\] for act but received 4/],
  ['denseBackward: missing z', call('denseBackward', [null, new Float32Array(6), new Float32Array(2), new Float32Array(8),
    new Float32Array(12), undefined, new Float32Array(6), 4, 3, 2, 2]), TypeError, /Float32Array for z/],
  ['mseLoss: target too short', call('mseLoss', [null, new Float32Array(4), new Float32Array(3), 4]), RangeError, /target to have length 4 but received 3/],
  ['mseLoss: n a string', call('mseLoss', [null, new Float32Array(4), new Float32Array(4), 'four']), TypeError, /Expected integer for n/],
  ['crossEntropyLoss: labels a Float32Array', call('crossEntropyLoss', [null, new Float32Array(6), new Float32Array(2), 2, 3]), TypeError, /Int32Array for labels/],
  ['crossEntropyLoss: label out of range', call('crossEntropyLoss', [null, new Float32Array(6), new Int32Array([0, 3]), 2, 3]), RangeError,
    /labels in \[0, 3\) but received 3 at index 1/],
  ['adamStep: t = 0', call('adamStep', [new Float32Array(2), new Float32Array(2), new Float32Array(2), new Float32Array(2), 2, 0.1, 0.9, 0.999, 1e-8, 0, 0]),
    RangeError, /for t but received 0/],
  ['adamStep: lr a string', call('adamStep', [new Float32Array(2), new Float32Array(2), new Float32Array(2), new Float32Array(2), 2, 'x', 0.9, 0.999, 1e-8, 0, 1]),
    TypeError, /Expected number for lr/],
  ['sgdStep: buf detached', call('sgdStep', [new Float32Array(2), detached(2), new Float32Array(2), 2, 0.1, 0, 0]), RangeError, /buf to have length 2 but received 0/],
  ['mseLoss: pred on a SharedArrayBuffer', call('mseLoss', [null, sabF32(4), new Float32Array(4), 4]), TypeError, /pred/],
  ['kanForward: y on a SharedArrayBuffer', call('kanForward', set(kanArgs(), 0, sabF32(9))), TypeError, /\by\b/],
  ['setSimd: no argument', call('setSimd', []), TypeError, /Expected string for name/],
  ['setNumThreads: 0', call('setNumThreads', [0]), RangeError, /for n but received 0/],
  ['setNumThreads: a string', call('setNumThreads', ['2']), TypeError, /Expected integer for n/],
  ['peakGflops: 0 seconds', call('peakGflops', [1, 0]), RangeError, /seconds in \(0, 60\]/],
  ['readBandwidth: 100 bytes', call('readBandwidth', [100, 1, 0.01]), RangeError, /for bytes but received 100/],
  ['readBandwidth: threads a string', call('readBandwidth', [65536, '1', 0.01]), TypeError, /Expected integer for threads/],
  ['readBandwidth: 61 seconds', call('readBandwidth', [65536, 1, 61]), RangeError, /seconds in \(0, 60\]/],
  ['tileGflops: tile 3', call('tileGflops', [3, 1, 0.01]), RangeError, /\[0, 2\] for tile but received 3/],
  ['tileGflops: threads 0', call('tileGflops', [0, 0, 0.01]), RangeError, /for threads but received 0/],
  ['tileGflops: 0 seconds', call('tileGflops', [0, 1, 0]), RangeError, /seconds in \(0, 60\]/],
];

describe('raw binding with wrong types and lengths', () => {
  it.each(rawCases)('%s', (_name, fn, cls, re) => {
    expectThrows(fn, cls, re);
  });

  it('the baseline arguments are valid (so each case fails because of its one change)', async () => {
    const a = kanArgs();
    expect(native.kanForward(...(a as Parameters<typeof native.kanForward>))).toBeUndefined();
    const y = a[0] as Float32Array;
    expect(y.some((v) => v !== 0)).toBe(true);
    const y2 = new Float32Array(9);
    const p = (native.kanForward as (...args: unknown[]) => unknown)(y2, ...a.slice(1), true);
    expect(p).toBeInstanceOf(Promise);
    await p;
    expect(y2).toEqual(y);
    const b = denseArgs();
    expect(native.denseForward(...(b as Parameters<typeof native.denseForward>))).toBeUndefined();
    expect((b[0] as Float32Array).some((v) => v !== 0)).toBe(true);
    expect(native.mseLoss(null, new Float32Array([1, 2]), new Float32Array([1, 4]), 2)).toBeCloseTo(2, 6);
    expect(getNumThreads()).toBeGreaterThanOrEqual(1);
  });

  it('a detached buffer is fine when the dims ask for zero elements (B = 0)', () => {
    const a = set(set(set(kanArgs(), 7, 0), 0, detached(9)), 1, detached(6));
    expect(() => native.kanForward(...(a as Parameters<typeof native.kanForward>))).not.toThrow();
  });
});
