// build.test.ts — every build path yields a working addon.
//
// Each path builds in its own fresh temp dir (a copy of the sources with /work/main/node_modules
// symlinked in), never in this package's build/ or prebuilds/, which others use concurrently:
//   (a) cmake-js      node scripts/build-native.mjs          -> build/Release/kan_native.node
//   (b) node-gyp      node-gyp rebuild --nodedir=/usr         -> build/Release/kan_native.node
//   (c) prebuildify   npm run prebuild                        -> prebuilds/<platform>-<arch>/*.node
//   (d) install hook  node scripts/install.mjs with only a prebuild (must not compile), then
//                     with KAN_BUILD_FROM_SOURCE=1 (must build) — in (a)'s work dir, with (a)'s
//                     configured build/ moved aside for the first run and back for the second,
//                     its addon deleted: the hook's build runs build-native.mjs incrementally
//                     (the link), since (a) is the from-scratch build of that same script
// Every resulting binary is loaded in a CHILD process (a crash cannot take the runner down),
// must report a known SIMD path, and must give a kanForward result byte-identical to this
// package's own build (build/Release/kan_native.node, loaded here) on every SIMD path this CPU has.
// The builds are heavy (~15-30 s each) and run sequentially in beforeAll hooks.
// Set KAN_KEEP_BUILD_TMP=1 to keep the temp dirs for inspection.
import { spawnSync, execFileSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Binding, SimdPath } from '../lib/native.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rootRequire = createRequire(join(ROOT, 'package.json'));
const MAIN_ADDON = join(ROOT, 'build', 'Release', 'kan_native.node');
const KNOWN_PATHS: SimdPath[] = ['avx512', 'avx2', 'baseline', 'scalar', 'w16'];
const PLATFORM_DIR = `${process.platform}-${process.arch}`;
const BUILD_TIMEOUT_MS = 300_000;

// ---------------------------------------------------------------------------------------------
// The reference: this package's own build, loaded in the test process.

function loadMain(): Binding {
  if (!existsSync(MAIN_ADDON)) {
    throw new Error(`build.test: the reference addon ${MAIN_ADDON} is missing; run \`npm run build:native\` first`);
  }
  return rootRequire(MAIN_ADDON) as Binding;
}
const main = loadMain();
const SIMD_PATHS = main.simdAvailable();
const NUM_THREADS = main.getNumThreads();

// A small KAN layer: I=2, O=3, G=5, k=3, uniform grid on [-1, 1] extended by k knots each side.
const B = 5, I = 2, O = 3, G = 5, K = 3, BASE = 2; // base 2 = silu
const NK = G + 2 * K + 1, NB = G + K;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeInputs() {
  const rnd = mulberry32(12345);
  const uni = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const grid = new Float32Array(I * NK);
  for (let i = 0; i < I; i++) for (let m = 0; m < NK; m++) grid[i * NK + m] = -1 + ((m - K) * 2) / G;
  // x slightly beyond [-1, 1] too, to exercise the edge spans.
  const x = Float32Array.from({ length: B * I }, () => uni(-1.2, 1.2));
  const coef = Float32Array.from({ length: I * NB * O }, () => uni(-1, 1));
  const wb = Float32Array.from({ length: I * O }, () => uni(-1, 1));
  const ws = Float32Array.from({ length: I * O }, () => uni(0.5, 1.5));
  const mask = new Float32Array(I * O).fill(1);
  return { x, grid, coef, wb, ws, mask };
}
const inputs = makeInputs();

const reference = new Map<string, string>();
/** Hex bytes of y from the main build on SIMD path `p`. */
function referenceHex(p: SimdPath): string {
  let hex = reference.get(p);
  if (hex === undefined) {
    main.setSimd(p);
    expect(main.simd()).toBe(p);
    const y = new Float32Array(B * O);
    const { x, grid, coef, wb, ws, mask } = inputs;
    main.kanForward(y, x, grid, coef, wb, ws, mask, B, I, O, G, K, BASE);
    // Guard against a vacuous comparison (all zeros / NaN would match anything broken the same way).
    expect(y.every(Number.isFinite), `reference y not finite: ${Array.from(y)}`).toBe(true);
    expect(y.some((v) => v !== 0), 'reference y is all zeros').toBe(true);
    hex = Buffer.from(y.buffer, y.byteOffset, y.byteLength).toString('hex');
    reference.set(p, hex);
  }
  return hex;
}

// ---------------------------------------------------------------------------------------------
// Temp dirs, environment, running commands

const TMP = mkdtempSync(join(tmpdir(), 'kan-build-test-'));
const INPUTS_JSON = join(TMP, 'inputs.json');
const CHECK_SCRIPT = join(TMP, 'check.cjs');

/** The environment for builds and children: no npm_* (npx/npm leave e.g. npm_config_local_prefix
 *  pointing at /work/main), no variables that redirect node-gyp-build or force a source build. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD') continue;
    if (['KAN_SIMD', 'KAN_NUM_THREADS', 'KAN_BUILD_FROM_SOURCE', 'KAN_NATIVE_PREBUILD', 'PREBUILDS_ONLY', 'NODE_OPTIONS'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** A fresh copy of the sources in TMP/<name>, with node_modules symlinked to this package's. */
function makeWorkdir(name: string, parts = ['package.json', '.npmrc', 'CMakeLists.txt', 'binding.gyp', 'native', 'scripts']): string {
  const dir = join(TMP, name);
  for (const p of parts) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

interface RunResult { cmd: string; cwd: string; status: number | null; signal: string | null; error?: Error; stdout: string; stderr: string; ms: number }

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv(), timeout = BUILD_TIMEOUT_MS): RunResult {
  const t0 = Date.now();
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  return {
    cmd: [cmd, ...args].join(' '), cwd, status: r.status, signal: r.signal, error: r.error,
    stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0,
  };
}

const tail = (s: string, n = 3000) => (s.length > n ? '…' + s.slice(-n) : s);
function explain(r: RunResult): string {
  return `\`${r.cmd}\` in ${r.cwd} → status ${r.status}, signal ${r.signal}` +
    (r.error ? `, error ${r.error.message}` : '') + ` after ${r.ms} ms\n` +
    `--- stderr (tail) ---\n${tail(r.stderr)}\n--- stdout (tail) ---\n${tail(r.stdout)}`;
}
function expectOk(r: RunResult | undefined, what: string): asserts r is RunResult {
  expect(r, `${what} did not run (an earlier step failed)`).toBeDefined();
  expect(r!.status, `${what} failed:\n${explain(r!)}`).toBe(0);
}

function nodeFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
}

// node-gyp: npm's bundled copy (found robustly), or a local install.
function findNodeGyp(): string | undefined {
  const candidates: string[] = [];
  const fromEnv = process.env.npm_config_node_gyp;
  if (fromEnv) candidates.push(fromEnv);
  try {
    const prefix = execFileSync('npm', ['prefix', '-g'], { encoding: 'utf8', env: cleanEnv(), timeout: 30_000 }).trim();
    candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    candidates.push(join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  } catch { /* no npm on PATH: try the other places */ }
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  for (const from of [ROOT, join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm')]) {
    try { candidates.push(createRequire(join(from, 'package.json')).resolve('node-gyp/bin/node-gyp.js')); } catch { /* not there */ }
  }
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  return candidates.find((c) => c.endsWith('.js') && existsSync(c));
}
const NODE_GYP = findNodeGyp();

// ---------------------------------------------------------------------------------------------
// The child-process check: load one binary (by file, or via node-gyp-build on a package dir),
// report simd()/simdAvailable() and the bytes of a kanForward result.

const CHECK_SOURCE = String.raw`'use strict';
const fs = require('fs');
const [mode, target, inputsPath, ngbPath] = process.argv.slice(2);
let file = target;
if (mode === 'ngb') file = require(ngbPath).path(target);
const b = require(file);
const d = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
const f = (a) => Float32Array.from(a);
const y = new Float32Array(d.B * d.O);
b.kanForward(y, f(d.x), f(d.grid), f(d.coef), f(d.wb), f(d.ws), f(d.mask), d.B, d.I, d.O, d.G, d.k, d.base);
process.stdout.write('\n' + JSON.stringify({
  file, simd: b.simd(), available: b.simdAvailable(), threads: b.getNumThreads(),
  hex: Buffer.from(y.buffer).toString('hex'),
}) + '\n');
`;

interface CheckResult { file: string; simd: string; available: string[]; threads: number; hex: string }

function check(mode: 'file' | 'ngb', target: string, simdPath?: SimdPath): CheckResult {
  const ngb = createRequire(join(mode === 'ngb' ? target : ROOT, 'package.json')).resolve('node-gyp-build');
  const env = cleanEnv({ KAN_NUM_THREADS: String(NUM_THREADS), ...(simdPath ? { KAN_SIMD: simdPath } : {}) });
  const r = run(process.execPath, [CHECK_SCRIPT, mode, target, INPUTS_JSON, ngb], TMP, env, 60_000);
  expect(r.status, `child check of ${target} (KAN_SIMD=${simdPath ?? 'unset'}) failed:\n${explain(r)}`).toBe(0);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as CheckResult;
}

/** The shared tests for one binary: loads, reports a known SIMD path, matches the main build. */
function addonTests(label: string, target: () => { mode: 'file' | 'ngb'; path: string }) {
  it(`${label}: loads in a child process and simd() reports a known path`, () => {
    const t = target();
    const r = check(t.mode, t.path);
    expect(KNOWN_PATHS).toContain(r.simd);
    expect(r.available).toEqual(SIMD_PATHS);
    expect(r.simd).toBe(SIMD_PATHS[0]);
  });
  it.each(SIMD_PATHS)(`${label}: kanForward bytes equal the main build's on the %s path`, (p) => {
    const t = target();
    const r = check(t.mode, t.path, p);
    expect(r.simd, 'KAN_SIMD was not honoured in the child').toBe(p);
    expect(r.threads).toBe(NUM_THREADS);
    expect(r.hex).toBe(referenceHex(p));
  });
}

beforeAll(() => {
  writeFileSync(INPUTS_JSON, JSON.stringify({
    B, I, O, G, k: K, base: BASE,
    x: Array.from(inputs.x), grid: Array.from(inputs.grid), coef: Array.from(inputs.coef),
    wb: Array.from(inputs.wb), ws: Array.from(inputs.ws), mask: Array.from(inputs.mask),
  }));
  writeFileSync(CHECK_SCRIPT, CHECK_SOURCE);
});

afterAll(() => {
  if (process.env.KAN_KEEP_BUILD_TMP) console.log(`build.test: temp dirs kept in ${TMP}`);
  else rmSync(TMP, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('main build (the reference)', () => {
  it('is loaded from build/Release and reports a known SIMD path', () => {
    expect(KNOWN_PATHS).toContain(main.simd());
    expect(SIMD_PATHS.length).toBeGreaterThan(0);
    for (const p of SIMD_PATHS) referenceHex(p);
  });
});

let cmakeDir = ''; // (a)'s work dir with its configured build/, reused by (d)

describe('(a) cmake-js: node scripts/build-native.mjs', () => {
  let dir = '';
  let build: RunResult | undefined;
  beforeAll(() => {
    dir = makeWorkdir('cmake-js');
    build = run(process.execPath, ['scripts/build-native.mjs'], dir);
    console.log(`build.test (a) cmake-js: status ${build.status} in ${build.ms} ms`);
    if (build.status === 0) cmakeDir = dir;
  });

  it('builds build/Release/kan_native.node', () => {
    expectOk(build, 'cmake-js build');
    expect(existsSync(join(dir, 'build', 'Release', 'kan_native.node')), explain(build)).toBe(true);
  });
  addonTests('(a) cmake-js', () => ({ mode: 'file', path: join(dir, 'build', 'Release', 'kan_native.node') }));
});

describe.skipIf(!NODE_GYP)(`(b) node-gyp: node-gyp rebuild --nodedir=/usr (binding.gyp)${NODE_GYP ? '' : ' [skipped: node-gyp not found]'}`, () => {
  let dir = '';
  let build: RunResult | undefined;
  beforeAll(() => {
    dir = makeWorkdir('node-gyp');
    build = run(process.execPath, [NODE_GYP!, 'rebuild', '--nodedir=/usr', '--jobs=max'], dir);
    console.log(`build.test (b) node-gyp (${NODE_GYP}): status ${build.status} in ${build.ms} ms`);
  });

  it('builds build/Release/kan_native.node', () => {
    expectOk(build, 'node-gyp build');
    expect(existsSync(join(dir, 'build', 'Release', 'kan_native.node')), explain(build)).toBe(true);
  });
  addonTests('(b) node-gyp', () => ({ mode: 'file', path: join(dir, 'build', 'Release', 'kan_native.node') }));
});

let prebuildDir = ''; // (c)'s prebuilds/<platform>-<arch>, reused by (d)

describe('(c) prebuildify: npm run prebuild', () => {
  let dir = '';
  let build: RunResult | undefined;
  let beforeRemoval = ''; // what node-gyp-build resolved while build/ was still there
  beforeAll(() => {
    dir = makeWorkdir('prebuildify');
    build = run('npm', ['run', 'prebuild'], dir);
    if (build.status === 0) prebuildDir = join(dir, 'prebuilds', PLATFORM_DIR);
    try { beforeRemoval = createRequire(join(dir, 'package.json'))('node-gyp-build').path(dir); } catch (e) { beforeRemoval = String(e); }
    console.log(`build.test (c) prebuildify: status ${build.status} in ${build.ms} ms; ` +
      `build/Release then held [${nodeFiles(join(dir, 'build', 'Release')).join(', ')}], node-gyp-build resolved ${beforeRemoval}`);
    rmSync(join(dir, 'build'), { recursive: true, force: true });
  });

  it(`builds prebuilds/${PLATFORM_DIR}/*.node`, () => {
    expectOk(build, 'npm run prebuild');
    const files = nodeFiles(join(dir, 'prebuilds', PLATFORM_DIR));
    expect(files.length, `no .node in prebuilds/${PLATFORM_DIR} (node-gyp-build resolved ${beforeRemoval})\n${explain(build)}`).toBe(1);
  });

  it('node-gyp-build loads the prebuild from prebuilds/ once build/ is moved away (node-gyp-build prefers a stale build/)', () => {
    expectOk(build, 'npm run prebuild');
    expect(existsSync(join(dir, 'build'))).toBe(false);
    const r = check('ngb', dir);
    expect(r.file.startsWith(join(dir, 'prebuilds', PLATFORM_DIR) + sep), `loaded ${r.file} (before build/ was removed: ${beforeRemoval})`).toBe(true);
    expect(KNOWN_PATHS).toContain(r.simd);
  });
  addonTests('(c) prebuildify via node-gyp-build', () => ({ mode: 'ngb', path: dir }));
});

describe('(d) install hook: node scripts/install.mjs', () => {
  let dir = '';
  let withPrebuild: RunResult | undefined;
  let buildDirAfterPrebuildInstall = false;
  let loadedBeforeSourceBuild: CheckResult | string = 'not run';
  let fromSource: RunResult | undefined;
  beforeAll(() => {
    if (!prebuildDir || !cmakeDir) return; // needs (c)'s prebuild and (a)'s build; the tests below say so
    dir = cmakeDir;
    const aside = join(dir, 'build.cmake-js');
    renameSync(join(dir, 'build'), aside);
    cpSync(prebuildDir, join(dir, 'prebuilds', PLATFORM_DIR), { recursive: true });
    withPrebuild = run(process.execPath, ['scripts/install.mjs'], dir);
    buildDirAfterPrebuildInstall = existsSync(join(dir, 'build'));
    console.log(`build.test (d) install with a prebuild: status ${withPrebuild.status} in ${withPrebuild.ms} ms`);
    if (withPrebuild.status !== 0 || buildDirAfterPrebuildInstall) return;
    // What loads now (before the source build below adds a build/ that would win).
    try { loadedBeforeSourceBuild = check('ngb', dir); } catch (e) { loadedBeforeSourceBuild = (e as Error).message; }
    renameSync(aside, join(dir, 'build'));
    rmSync(join(dir, 'build', 'Release', 'kan_native.node'));
    fromSource = run(process.execPath, ['scripts/install.mjs'], dir, cleanEnv({ KAN_BUILD_FROM_SOURCE: '1' }));
    console.log(`build.test (d) install with KAN_BUILD_FROM_SOURCE=1: status ${fromSource.status} in ${fromSource.ms} ms`);
  });

  it('with only a prebuild (no build/), exits 0 without compiling', () => {
    expect(prebuildDir, '(c) produced no prebuild to install from').not.toBe('');
    expect(cmakeDir, '(a) produced no build to reuse').not.toBe('');
    expectOk(withPrebuild, 'install.mjs with a prebuild');
    expect(buildDirAfterPrebuildInstall, `install.mjs created build/ although a prebuild loads:\n${explain(withPrebuild)}`).toBe(false);
    expect(nodeFiles(join(dir, 'prebuilds', PLATFORM_DIR)).length).toBe(1);
    const r = loadedBeforeSourceBuild;
    expect(typeof r, `loading via node-gyp-build after install.mjs failed: ${String(r)}`).toBe('object');
    const c = r as CheckResult;
    expect(c.file.startsWith(join(dir, 'prebuilds', PLATFORM_DIR) + sep), `loaded ${c.file}`).toBe(true);
    expect(KNOWN_PATHS).toContain(c.simd);
  });

  it('with KAN_BUILD_FROM_SOURCE=1, builds build/Release/kan_native.node (build-native.mjs, incremental on (a)\'s build/)', () => {
    expectOk(fromSource, 'install.mjs with KAN_BUILD_FROM_SOURCE=1');
    const out = join(dir, 'build', 'Release', 'kan_native.node');
    expect(existsSync(out), explain(fromSource)).toBe(true);
    expect(statSync(out).size).toBeGreaterThan(0);
    // Now build/ wins over prebuilds/ for node-gyp-build.
    expect(check('ngb', dir).file).toBe(out);
  });
  addonTests('(d) install.mjs KAN_BUILD_FROM_SOURCE=1 build', () => ({ mode: 'file', path: join(dir, 'build', 'Release', 'kan_native.node') }));
});
