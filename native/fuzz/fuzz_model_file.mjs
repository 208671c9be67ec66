// fuzz_model_file.mjs — seeded mutation fuzzer for the model-file reader (lib/io.ts
// parseModelBytes, KAN.fromBytes, MLP.fromBytes, loadModel), on the compiled package
// (dist/lib/index.js: run `npm run build:ts` after changing lib/).
//
//   node native/fuzz/fuzz_model_file.mjs [--iters N] [--seconds S] [--seed X] [--out DIR]
//                                        [--hang-seconds H] [--no-skip] [--verbose] [--replay ITER]
//   Stops after N iterations (default 200000) or S seconds (default 60), whichever comes first.
//
// Starting from valid KAN and MLP files (toBytes), every iteration applies 1-4 mutations:
// bit flips, byte sets, truncation, extension, header-length / version / magic edits, raw header
// text edits, header JSON edits (kind, floats, every config option: wrong types, out-of-range
// numbers, huge widths such as [1e6, 1e6] or [2^31, 1], unknown keys, …) and float-payload edits
// (NaN/Inf, huge values, unsorted or huge knot rows); most structured edits recompute the layout
// and the CRC (zlib crc32) so that the deeper checks are reached, and some also resize the
// payload to what the edited config needs, so that the model constructor runs.
// Each file goes to KAN.fromBytes, MLP.fromBytes or loadModel (through a temp file). Outcomes:
//   loaded            loaded, forward of finite inputs is finite, and save -> load is bitwise stable
//   ModelFileError / TypeError / RangeError   refused (the allowed errors)
// and findings:
//   loaded-nonfinite  loaded, but forward gives NaN/Inf for finite inputs (split by cause:
//                     non-finite payload floats, knot rows not non-decreasing, or neither)
//   other-error       any other thrown error type
//   roundtrip         a loaded model whose toBytes() does not load back to the same data
//   over-allocation   a Float32Array longer than the file could justify (4 x its floats + 64k)
//   slow              one load + forward taking more than 2 s
//   crash / hang      the worker process died (signal, abort) or made no progress for H s
// The iterations run in a child process: a crash or a hang is recorded with its iteration, the
// input is saved to DIR/crash-<seed>-<iter>.kanmodel (or hang-…; DIR defaults to a temp folder,
// kept when it holds one), and a new child goes on from the next iteration. Once a single
// mutation alone has crashed 3 times, later cases that use it are skipped (and counted) so that
// the run keeps looking elsewhere; --no-skip turns that off. Iteration i's input depends only on (seed, i): --replay i rebuilds it and
// runs it in this process, printing the outcome (and writing the input to --out FILE if given).
// The first iterations are fixed headers claiming enormous models (widths [1e6, 1e6], [2^31, 1],
// floats 2^53-1, …): each must be a quick ModelFileError without a large allocation.
// Exit status: 0 if every outcome was an allowed one, 1 otherwise.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');

// ---------------------------------------------------------------------------------------------
// Arguments

const argv = process.argv.slice(2);
const opt = { iters: 200000, seconds: 60, seed: 1, out: '', hangSeconds: 15, verbose: false, replay: -1, child: false, from: 0, skip: '', noSkip: false };
for (let a = 0; a < argv.length; a++) {
  const k = argv[a];
  const v = () => {
    if (a + 1 >= argv.length) usage(`${k} needs a value`);
    return argv[++a];
  };
  if (k === '--iters') opt.iters = Number(v());
  else if (k === '--seconds') opt.seconds = Number(v());
  else if (k === '--seed') opt.seed = Number(v()) >>> 0;
  else if (k === '--out') opt.out = v();
  else if (k === '--hang-seconds') opt.hangSeconds = Number(v());
  else if (k === '--verbose') opt.verbose = true;
  else if (k === '--replay') opt.replay = Number(v());
  else if (k === '--child') opt.child = true;
  else if (k === '--from') opt.from = Number(v());
  else if (k === '--skip') opt.skip = v();
  else if (k === '--no-skip') opt.noSkip = true;
  else usage(`unknown argument ${k}`);
}
function usage(msg) {
  console.error(`fuzz_model_file: ${msg}\nusage: node native/fuzz/fuzz_model_file.mjs [--iters N] [--seconds S] [--seed X] [--out DIR] [--hang-seconds H] [--no-skip] [--verbose] [--replay ITER]`);
  process.exit(2);
}
if (!(opt.iters >= 0) || !(opt.seconds > 0)) usage('--iters and --seconds take positive numbers');

// A loaded model whose finite weights are so large that float arithmetic overflows (the interval
// bound below shows it) is a valid file, not a reader bug: its NaN/Inf outputs are float's.
const ALLOWED = new Set(['loaded', 'ModelFileError', 'TypeError', 'RangeError', 'skipped (a mutation that alone crashed 3 times)',
  'loaded-nonfinite (finite payload whose values overflow float)']);

// The mutations of a case, without their numbers: a crash's "signature" tokens.
function tokensOf(desc) {
  return desc.split('; ').slice(1).map((t) => t.replace(/\[[^\]]*\]/g, '[]').replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, '#'));
}


// ---------------------------------------------------------------------------------------------
// Parent: runs children, records crashes and hangs, aggregates the counts.

async function runParent() {
  const t0 = Date.now();
  const outDir = opt.out || fs.mkdtempSync(join(tmpdir(), 'kan-fuzz-model-'));
  fs.mkdirSync(outDir, { recursive: true });
  const counts = {};
  const examples = {};
  const extra = [];
  let next = 0, counted = 0, children = 0;
  const crashTokens = new Map();  // mutation token -> crashes it took part in
  const deadline = t0 + opt.seconds * 1000;
  while (next < opt.iters && Date.now() < deadline) {
    children++;
    const progressFile = join(outDir, `.progress-${process.pid}`);
    fs.writeFileSync(progressFile, '-1');
    const skipFile = join(outDir, `.skip-${process.pid}`);
    fs.writeFileSync(skipFile, JSON.stringify([...crashTokens].filter(([, n]) => n >= 3).map(([t]) => t)));
    const args = [fileURLToPath(import.meta.url), '--child', '--from', String(next), '--iters', String(opt.iters),
      '--seconds', String(Math.max(0.1, (deadline - Date.now()) / 1000)), '--seed', String(opt.seed), '--out', progressFile,
      ...(opt.noSkip ? [] : ['--skip', skipFile])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let last = null;  // the child's latest cumulative stats
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('stats ')) last = JSON.parse(line.slice(6));
        else if (line.length) console.log(line);
      }
    });
    let hung = false, lastIter = -2, lastChange = Date.now();
    const watchdog = setInterval(() => {
      const it = Number(fs.readFileSync(progressFile, 'utf8') || -1);
      if (it !== lastIter) { lastIter = it; lastChange = Date.now(); return; }
      if (Date.now() - lastChange > opt.hangSeconds * 1000) { hung = true; child.kill('SIGKILL'); }
    }, 250);
    const { code, signal } = await new Promise((res) => child.on('close', (c, s) => res({ code: c, signal: s })));  // close: after stdout drained
    clearInterval(watchdog);
    if (last) {
      for (const [k, v] of Object.entries(last.counts)) counts[k] = (counts[k] ?? 0) + v;
      for (const [k, v] of Object.entries(last.examples)) if (!examples[k]) examples[k] = v;
      counted += last.done;
    }
    if (last && last.finished && code === 0) { next += last.done; break; }
    // the child died or hung at the iteration in its progress file
    if (code === 3) { console.error('fuzz_model_file: stopped on an internal error of the fuzzer'); process.exit(2); }
    const at = Number(fs.readFileSync(progressFile, 'utf8') || -1);
    if (at < 0) { console.error(`fuzz_model_file: a child exited (${code ?? signal}) before any iteration`); process.exit(2); }
    const what = hung ? 'hang' : 'crash';
    if (!lib) await loadLib();
    const crashed = makeCase(opt.seed, at);
    const bytes = crashed.bytes;
    // a crash is attributed to its mutation only when it had exactly one (no guessing in combinations)
    const toks = [...new Set(tokensOf(crashed.desc))];
    if (toks.length === 1) crashTokens.set(toks[0], (crashTokens.get(toks[0]) ?? 0) + 1);
    const file = join(outDir, `${what}-${opt.seed}-${at}.kanmodel`);
    fs.writeFileSync(file, bytes);
    counts[what] = (counts[what] ?? 0) + 1;
    const desc = `iteration ${at} (${hung ? `no progress for ${opt.hangSeconds} s` : `exit ${signal ?? code}`}); input saved to ${file}; replay: node native/fuzz/fuzz_model_file.mjs --seed ${opt.seed} --replay ${at}`;
    if (!examples[what]) examples[what] = desc;
    extra.push(`${what}: ${desc}`);
    console.log(`fuzz_model_file: ${what} at ${desc}`);
    counted++;
    next = at + 1;
    try { fs.unlinkSync(progressFile); } catch { /* gone */ }
  }
  for (const f of fs.readdirSync(outDir)) if (f.startsWith('.')) fs.rmSync(join(outDir, f), { force: true });
  const skipped = [...crashTokens].filter(([, n]) => n >= 3).map(([t]) => t);
  if (skipped.length) console.log(`fuzz_model_file: cases with these mutations, which alone crashed 3 times each, were skipped: ${skipped.map((t) => JSON.stringify(t)).join(', ')}`);
  report(counts, examples, next, counted, (Date.now() - t0) / 1000, children, outDir);
  const bad = Object.keys(counts).filter((k) => !ALLOWED.has(k));
  if (!opt.out && bad.every((k) => k !== 'crash' && k !== 'hang')) fs.rmSync(outDir, { recursive: true, force: true });
  process.exit(bad.length ? 1 : 0);
}

function report(counts, examples, done, counted, secs, children, outDir) {
  console.log(`fuzz_model_file: seed ${opt.seed}, ${done} iterations in ${secs.toFixed(1)} s (${children} worker process${children > 1 ? 'es' : ''}` +
    `${counted < done ? `; outcomes of ${done - counted} iterations run just before a crash were not reported` : ''})`);
  const keys = Object.keys(counts).sort((a, b) => (ALLOWED.has(b) - ALLOWED.has(a)) || counts[b] - counts[a]);
  for (const k of keys) console.log(`  ${ALLOWED.has(k) ? '  ' : '!!'} ${k.padEnd(44)} ${String(counts[k]).padStart(7)}`);
  const bad = keys.filter((k) => !ALLOWED.has(k));
  if (bad.length) {
    console.log('  findings (first example of each; replay with --seed S --replay ITER):');
    for (const k of bad) console.log(`    ${k}: ${examples[k]}`);
    if (outDir) console.log(`  crash/hang inputs are in ${outDir}`);
  } else {
    console.log('  every outcome was a loaded model with finite forward or a ModelFileError/TypeError/RangeError');
  }
}

// ---------------------------------------------------------------------------------------------
// Deterministic cases

function rng(seed) {  // mulberry32
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),               // [0, n)
    range: (lo, hi) => lo + (hi - lo) * next(),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
  };
}
function iterSeed(seed, it) {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ it, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13) ^ (it * 0x27d4eb2d), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const MAGIC = 'KANMODEL';

/** The documented layout, from a header text and a float payload; crc over everything before it. */
function build(headerText, data, { version = 1, magic = MAGIC, headerLen = null } = {}) {
  const header = Buffer.from(headerText, 'utf8');
  const P = (16 + header.length + 3) & ~3;
  const total = P + 4 * data.length + 4;
  const out = Buffer.alloc(total);
  out.write(magic.slice(0, 8).padEnd(8, '\0'), 0, 'latin1');
  out.writeUInt32LE(version >>> 0, 8);
  out.writeUInt32LE((headerLen ?? header.length) >>> 0, 12);
  header.copy(out, 16);
  for (let q = 0; q < data.length; q++) out.writeFloatLE(data[q], P + 4 * q);
  fixCrc(out);
  return out;
}
function fixCrc(buf) {
  if (buf.length >= 4) buf.writeUInt32LE(crc32(buf.subarray(0, buf.length - 4)) >>> 0, buf.length - 4);
  return buf;
}
function parseFile(buf) {  // the valid seeds only
  const H = buf.readUInt32LE(12);
  const header = JSON.parse(buf.toString('utf8', 16, 16 + H));
  const P = (16 + H + 3) & ~3;
  const data = new Float32Array(header.floats);
  for (let q = 0; q < data.length; q++) data[q] = buf.readFloatLE(P + 4 * q);
  return { header, data };
}

// floats a config needs (my own arithmetic, independent of lib/), or null if not computable
function floatsFor(kind, cfg) {
  try {
    const w = cfg.widths;
    if (!Array.isArray(w) || w.length < 2 || !w.every((v) => Number.isInteger(v) && v >= 1)) return null;
    let n = 0;
    if (kind === 'KAN') {
      const G = cfg.gridSize ?? 5, k = cfg.splineOrder ?? 3;
      if (!Number.isInteger(G) || !Number.isInteger(k) || G < 1 || k < 1) return null;
      for (let l = 0; l + 1 < w.length; l++) n += w[l] * (G + k) * w[l + 1] + 3 * w[l] * w[l + 1] + w[l] * (G + 2 * k + 1);
    } else if (kind === 'MLP') {
      for (let l = 0; l + 1 < w.length; l++) n += w[l] * w[l + 1] + w[l + 1];
    } else return null;
    return n;
  } catch { return null; }
}
// offsets of KAN grid rows in the payload: [{offset, I, NK}] per layer
function kanGrids(cfg) {
  const w = cfg.widths, G = cfg.gridSize ?? 5, k = cfg.splineOrder ?? 3, L = w.length - 1;
  let off = 0;
  for (let l = 0; l < L; l++) off += w[l] * (G + k) * w[l + 1];
  for (let l = 0; l < L; l++) off += 2 * w[l] * w[l + 1];
  const grids = [];
  for (let l = 0; l < L; l++) { grids.push({ offset: off, I: w[l], NK: G + 2 * k + 1 }); off += w[l] * (G + 2 * k + 1); }
  return grids;
}

let lib = null;  // dist/lib/index.js, loaded by the child
let seeds = null;

async function loadLib() {
  const dist = join(ROOT, 'dist', 'lib', 'index.js');
  if (!fs.existsSync(dist)) { console.error(`fuzz_model_file: ${dist} is missing; run npm run build:ts`); process.exit(2); }
  const libDir = join(ROOT, 'lib');
  const newest = Math.max(...fs.readdirSync(libDir).filter((f) => f.endsWith('.ts')).map((f) => fs.statSync(join(libDir, f)).mtimeMs));
  if (newest > fs.statSync(dist).mtimeMs && !opt.child) console.error('fuzz_model_file: warning: lib/ is newer than dist/; run npm run build:ts');
  lib = await import(pathToFileURL(dist).href);
  const { KAN, MLP } = lib;
  const mk = [
    new KAN({ widths: [2, 3, 1], seed: 1 }),
    new KAN({ widths: [1, 1], gridSize: 1, splineOrder: 1, base: 'zero', seed: 2 }),
    new KAN({ widths: [3, 2], gridSize: 12, splineOrder: 5, base: 'identity', gridRange: [-2, 3], trainable: { wb: false }, seed: 3 }),
    new KAN({ widths: [2, 2, 2], gridSize: 4, splineOrder: 2, noiseScale: 0.5, scaleBaseMu: 0.1, seed: 4 }),
    new MLP({ widths: [2, 4, 1], activation: 'relu', seed: 5 }),
    new MLP({ widths: [1, 1] }),
    new MLP({ widths: [3, 5, 5, 2], activation: 'tanh', trainable: { bias: false }, seed: 6 }),
  ];
  seeds = mk.map((m) => ({ kind: m.kind, bytes: Buffer.from(m.toBytes()) }));
}

// Values for config fields: wrong types, out-of-range numbers, huge and odd values.
const ODD = [null, true, false, '', '5', 'x', [], {}, [1], 0, -1, 1.5, -0, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e6, 1e9, 0.1];
const WIDTHS = [[1e6, 1e6], [2 ** 31, 1], [1, 2 ** 31], [1e5, 1e5, 1e5], [1e3, 1e3, 1e3], [], [1], [0, 1], [-1, 2], [1.5, 2], ['2', 1],
  [2, null], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], new Array(1000).fill(1), [1_000_000, 1], [1_000_001, 1], [3, 2 ** 53], 'abc', 5, null];
const CONFIG_FIELDS = {
  KAN: {
    gridSize: [0, 1, 2, 10000, 10001, 1e9, ...ODD],
    splineOrder: [0, 1, 5, 6, 100, ...ODD],
    gridRange: [[1, 0], [0, 0], [-1e308, 1e308], [-1e39, 1e39], [-1e38, 1e38], [-3e38, 3e38], [-1e-40, 1e-40], [null, 1], [1], [1, 2, 3], 'x', [-1, '1'], [1e30, 1e30 + 1e15]],
    base: ['silu', 'identity', 'zero', 'relu', 'SILU', 5, null],
    noiseScale: [0, 1e308, -1, ...ODD], scaleBaseMu: ODD, scaleBaseSigma: [-1, ...ODD],
    seed: [0, 2 ** 32 - 1, 2 ** 32, -1, 1.5, ...ODD],
    trainable: [{ coef: false }, { coef: 'yes' }, { foo: true }, [], null, { wb: null }, 'all'],
    unknownKey: [1, null],
  },
  MLP: {
    activation: ['identity', 'relu', 'silu', 'tanh', 'gelu', 1, null],
    seed: [0, 2 ** 32, -1, 1.5, ...ODD],
    trainable: [{ weight: false }, { bias: 'no' }, { foo: true }, [], null],
    unknownKey: [1, null],
  },
};

// Iterations 0..TARGETED.length-1 are fixed headers that claim enormous models: each must be
// refused quickly (ModelFileError) without allocating anything near what the header claims.
const TARGETED = [
  ['KAN', { widths: [1e6, 1e6] }, 'claimed'],                     // floats: what the config needs (8e12+)
  ['KAN', { widths: [1e6, 1e6] }, 0],
  ['KAN', { widths: [2 ** 31, 1] }, 'claimed'],
  ['KAN', { widths: [1000, 1000], gridSize: 10000 }, 'claimed'],
  ['MLP', { widths: [1e6, 1e6, 1e6] }, 'claimed'],
  ['MLP', { widths: [1e6, 1e6] }, 'file'],                       // floats: what the file holds
  ['KAN', { widths: [1, 1] }, 2 ** 53 - 1],
  ['KAN', { widths: [1, 1] }, 2 ** 31],
];

/** Iteration `it`'s file and how it is fed: {bytes, via, desc}. */
function makeCase(seed, it) {
  if (it < TARGETED.length) {
    const [kind, config, floats] = TARGETED[it];
    const data = new Float32Array(16);
    const n = floats === 'claimed' ? floatsFor(kind, config) : floats === 'file' ? data.length : floats;
    const bytes = build(JSON.stringify({ kind, config, floats: n }), data);
    return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), via: kind === 'MLP' ? 'MLP.fromBytes' : 'KAN.fromBytes',
      desc: `targeted: ${kind} ${JSON.stringify(config)} claiming ${n} floats in a ${bytes.length}-byte file` };
  }
  const r = rng(iterSeed(seed, it));
  const base = seeds[r.int(seeds.length)];
  const { header: h0, data: d0 } = parseFile(base.bytes);
  let header = JSON.parse(JSON.stringify(h0));
  let data = Float32Array.from(d0);
  const desc = [`seed-file ${base.kind} ${JSON.stringify(h0.config.widths)}`];
  let bytes = null;
  let version = 1, magic = MAGIC, headerLen = null, headerText = null;
  let resize = false;
  const nStructured = 1 + r.int(3);
  const structured = r.chance(0.75);
  if (structured) {
    for (let m = 0; m < nStructured; m++) {
      const what = r.int(16);
      const isObj = header !== null && typeof header === 'object' && !Array.isArray(header);
      if (!isObj && what <= 7) continue;  // the header itself was replaced by a non-object
      switch (what) {
        case 0: case 1: case 2: {  // one config field
          const kind = typeof header.kind === 'string' && CONFIG_FIELDS[header.kind] ? header.kind : 'KAN';
          if (typeof header.config !== 'object' || header.config === null || Array.isArray(header.config)) header.config = {};
          const fields = CONFIG_FIELDS[kind];
          const key = r.pick(Object.keys(fields));
          const val = r.chance(0.1) ? undefined : r.pick(fields[key]);
          if (val === undefined) delete header.config[key]; else header.config[key] = val;
          desc.push(`config.${key}=${JSON.stringify(val)?.slice(0, 60)}`);
          resize = r.chance(0.7);
          break;
        }
        case 3: case 4: {  // widths
          if (typeof header.config !== 'object' || header.config === null) header.config = {};
          const w = r.chance(0.5) ? r.pick(WIDTHS)
            : Array.from({ length: 2 + r.int(3) }, () => 1 + r.int(r.chance(0.2) ? 300 : 6));
          header.config.widths = w;
          desc.push(`widths=${JSON.stringify(w)?.slice(0, 60)}`);
          resize = r.chance(0.7);
          break;
        }
        case 5: {  // floats field
          const v = r.pick([header.floats + 1, header.floats - 1, 0, -1, 1.5, 2 ** 53, 2 ** 31, 1e308, '12', null, undefined, 2 ** 30]);
          if (v === undefined) delete header.floats; else header.floats = v;
          desc.push(`floats=${v}`);
          break;
        }
        case 6: {  // kind
          const v = r.pick(['KAN', 'MLP', 'kan', '', 'ONNX', 5, null, undefined, ['KAN']]);
          if (v === undefined) delete header.kind; else header.kind = v;
          desc.push(`kind=${JSON.stringify(v)}`);
          break;
        }
        case 7: {  // whole config / header replaced
          const v = r.pick([null, [], 'KAN', 0, {}, { widths: [2, 1] }, { widths: [2, 1], gridSize: 5, splineOrder: 3, extra: { deep: [1, 2] } }]);
          if (r.chance(0.5)) { header.config = v; desc.push(`config=${JSON.stringify(v)}`); }
          else { header = v; desc.push(`header=${JSON.stringify(v)}`); }
          resize = r.chance(0.5);
          break;
        }
        case 8: {  // raw header text
          const txt = JSON.stringify(header);
          const forms = [
            () => txt.slice(0, r.int(txt.length + 1)),
            () => txt + ' '.repeat(r.int(8)),
            () => '\ufeff' + txt,
            () => txt.replace(/"floats":\d+/, '"floats":1e999'),
            () => txt.replace(/"/, "'"),
            () => '['.repeat(5000) + ']'.repeat(5000),
            () => `{"kind":"KAN","config":${'['.repeat(20000)}${']'.repeat(20000)},"floats":0}`,
            () => txt.replace('{', '{"__proto__":{"polluted":1},'),
            () => txt.replace('"config":{', '"config":{"__proto__":{"gridSize":7},'),
            () => txt.replace('"config":{', '"config":{"constructor":{"prototype":{"x":1}},'),
            () => Buffer.from([0xff, 0xfe, 0xc3, 0x28]).toString('latin1') + txt,
            () => txt.replace(/"kind":"(\w+)"/, '"kind":"$1","kind":"MLP"'),
            () => txt + '\0',
          ];
          headerText = r.pick(forms)();
          desc.push(`header text (${headerText.length} chars)`);
          break;
        }
        case 9: {  // version / magic / header length
          const w = r.int(3);
          if (w === 0) { version = r.pick([0, 2, 255, 0x100, 0xffffffff, 0x80000001]); desc.push(`version=${version}`); }
          else if (w === 1) { magic = r.pick(['KANMODEX', 'kanmodel', 'KANMODE', '\0ANMODEL', 'PK\x03\x04MODL']); desc.push(`magic=${JSON.stringify(magic)}`); }
          else { headerLen = r.pick([0, 1, 0xffffffff, 0x7fffffff, 0x10000000, JSON.stringify(header ?? null).length + 1, JSON.stringify(header ?? null).length - 1]); desc.push(`H=${headerLen}`); }
          break;
        }
        case 10: case 11: {  // payload floats: non-finite and huge values
          if (data.length === 0) break;
          const n = 1 + r.int(Math.min(8, data.length));
          const v = r.pick([NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e30, 1e-45, -0]);
          for (let q = 0; q < n; q++) data[r.int(data.length)] = v;
          desc.push(`${n} payload floats=${v}`);
          break;
        }
        case 12: case 13: {  // knot rows: unsorted, huge-uniform, constant, scaled
          if (header?.kind !== 'KAN' || floatsFor('KAN', header.config ?? {}) !== data.length) break;
          const grids = kanGrids(header.config);
          const g = r.pick(grids);
          const i = r.int(g.I), off = g.offset + i * g.NK;
          const form = r.int(5);
          if (form === 0) { data.subarray(off, off + g.NK).reverse(); desc.push('knot row reversed'); }
          else if (form === 1) {  // uniform row spanning more than FLT_MAX
            const a = -r.range(0.55, 1) * 3.4e38, b = r.range(0.55, 1) * 3.4e38;
            for (let m = 0; m < g.NK; m++) data[off + m] = a + (b - a) * m / (g.NK - 1);
            desc.push(`knot row uniform on [${a.toPrecision(3)}, ${b.toPrecision(3)}]`);
          } else if (form === 2) { data.fill(data[off], off, off + g.NK); desc.push('knot row constant'); }
          else if (form === 3) {
            const s = r.pick([1e-30, 1e30, -1, 1e38]);
            for (let m = 0; m < g.NK; m++) data[off + m] *= s;
            desc.push(`knot row scaled by ${s}`);
          } else {
            const m = r.int(g.NK - 1);
            [data[off + m], data[off + m + 1]] = [data[off + m + 1], data[off + m]];
            desc.push('two knots swapped');
          }
          break;
        }
        case 14: {  // payload length
          const n = r.pick([0, 1, data.length - 1, data.length + 1, data.length * 2]);
          const d = new Float32Array(Math.max(0, n));
          d.set(data.subarray(0, Math.min(d.length, data.length)));
          data = d;
          desc.push(`payload ${n} floats`);
          break;
        }
        case 15: {  // weights scaled
          const s = r.pick([1e10, 1e20, 1e30, -1e37]);
          for (let q = 0; q < data.length; q++) if (r.chance(0.3)) data[q] *= s;
          desc.push(`payload scaled by ${s}`);
          break;
        }
      }
    }
    // make floats and the payload agree with the (edited) config, so that the constructor runs
    if (resize && header && typeof header === 'object') {
      const n = floatsFor(header.kind, header.config ?? {});
      if (n !== null && n <= 400_000) {
        const d = new Float32Array(n);
        for (let q = 0; q < n; q++) d[q] = q < data.length ? data[q] : r.range(-1, 1);
        if (header.kind === 'KAN') {  // sensible knot rows for the new shapes
          for (const g of kanGrids(header.config))
            for (let i = 0; i < g.I; i++)
              for (let m = 0; m < g.NK; m++) d[g.offset + i * g.NK + m] = -1 + (2 * m) / (g.NK - 1);
        }
        data = d;
        header.floats = n;
        desc.push(`payload resized to ${n}`);
      }
    }
    const text = headerText ?? JSON.stringify(header) ?? 'undefined';
    bytes = build(text, data, { version, magic, headerLen });
  } else {
    bytes = Buffer.from(base.bytes);
  }
  // byte-level mutations (then a recomputed CRC half of the time)
  const nBytes = structured ? (r.chance(0.3) ? 1 + r.int(3) : 0) : 1 + r.int(4);
  for (let m = 0; m < nBytes; m++) {
    const what = r.int(5);
    if (what === 0 && bytes.length) {
      const q = r.int(bytes.length), bit = r.int(8);
      bytes[q] ^= 1 << bit;
      desc.push(`bit ${bit} of byte ${q} flipped`);
    } else if (what === 1 && bytes.length) {
      const q = r.int(bytes.length), v = r.pick([0, 0xff, 0x7f, 0x80, r.int(256)]);
      bytes[q] = v;
      desc.push(`byte ${q}=${v}`);
    } else if (what === 2) {
      const n = r.int(bytes.length + 1);
      bytes = bytes.subarray(0, n);
      desc.push(`truncated to ${n}`);
    } else if (what === 3) {
      const n = r.pick([1, 3, 4, 100, 4096]);
      const ext = Buffer.alloc(n, r.chance(0.5) ? 0 : r.int(256));
      bytes = Buffer.concat([bytes, ext]);
      desc.push(`extended by ${n}`);
    } else {
      const q = bytes.length >= 16 ? r.pick([8, 12]) : 0;
      if (bytes.length >= q + 4) { const v = r.pick([0, 1, 2, 0xffffffff, r.int(2 ** 32)]); bytes.writeUInt32LE(v >>> 0, q); desc.push(`u32 at ${q}=${v}`); }
    }
  }
  if (nBytes && r.chance(0.5)) { bytes = fixCrc(Buffer.from(bytes)); desc.push('crc fixed'); }
  const via = r.chance(0.03) ? r.pick(['wrong type', 'offset view']) : r.pick(['KAN.fromBytes', 'MLP.fromBytes', 'loadModel', 'auto']);
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), via, desc: desc.join('; ') };
}

// ---------------------------------------------------------------------------------------------
// Child: runs iterations, reports cumulative stats as JSON lines.

let maxAlloc = 0;  // the longest Float32Array constructed in the current iteration
function installAllocationProbe() {
  const Real = globalThis.Float32Array;
  const probe = new Proxy(Real, {
    construct(target, args, newTarget) {
      const a = args[0];
      const n = typeof a === 'number' ? a : (a && typeof a === 'object' && !(a instanceof ArrayBuffer) && typeof a.length === 'number' ? a.length : 0);
      if (n > maxAlloc) maxAlloc = n;
      return Reflect.construct(target, args, newTarget === probe ? target : newTarget);
    },
  });
  globalThis.Float32Array = probe;
}

function finiteInputs(model) {
  const I = model.inputDim;
  const B = 4;
  const x = new Float32Array(B * I);
  let lo = -1, hi = 1;
  if (model.kind === 'KAN') {
    const L = model.layers[0];
    const g = L.grid;
    lo = g[0]; hi = g[L.numKnots - 1];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = -1; hi = 1; }
  }
  const r = rng(12345);
  for (let q = 0; q < x.length; q++) {
    const v = q < I ? 0 : r.chance(0.5) ? lo + (hi - lo) * r.next() : r.range(-3, 3);
    x[q] = Number.isFinite(v) ? v : 0;
  }
  return x;
}

function classifyNonfinite(model, x) {
  const d = model.data;
  for (let q = 0; q < d.length; q++) if (!Number.isFinite(d[q])) return 'loaded-nonfinite (payload has NaN/Inf)';
  if (model.kind === 'KAN') {
    for (const L of model.layers) {
      const NK = L.numKnots;
      for (let i = 0; i < L.inDim; i++)
        for (let m = 0; m + 1 < NK; m++) if (!(L.grid[i * NK + m] <= L.grid[i * NK + m + 1])) return 'loaded-nonfinite (knot row not non-decreasing)';
    }
  }
  // A float64 bound of |y|: |silu(x)|, |tanh(x)|, |relu(x)| <= |x| and the B-spline bases sum to
  // at most 1, so each layer's outputs are bounded by sum_i of |weights| times the input bound.
  let m = 0, peak = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  for (const L of model.layers) {
    let next = 0;
    for (let o = 0; o < L.outDim; o++) {
      let s = 0;
      for (let i = 0; i < L.inDim; i++) {
        const io = i * L.outDim + o;
        if (model.kind === 'KAN') {
          let c = 0;
          for (let q = 0; q < L.numBasis; q++) c = Math.max(c, Math.abs(L.coef[(i * L.numBasis + q) * L.outDim + o]));
          s += Math.max(1, Math.abs(L.mask[io])) * (Math.abs(L.wb[io]) * m + Math.abs(L.ws[io]) * c);
        } else s += Math.abs(L.weight[io]) * m;
      }
      if (model.kind === 'MLP') s += Math.abs(L.bias[o]);
      next = Math.max(next, s);
    }
    m = next;
    peak = Math.max(peak, m);  // an intermediate layer may overflow even if later ones shrink
  }
  return peak > 1e37 ? 'loaded-nonfinite (finite payload whose values overflow float)' : `loaded-nonfinite (finite payload, no overflow: bound ${m.toExponential(1)})`;
}

function runCase(c, tmpFile) {
  const { KAN, MLP, loadModel } = lib;
  maxAlloc = 0;
  const t = performance.now();
  let outcome, detail = '';
  try {
    let model;
    if (c.via === 'KAN.fromBytes') model = KAN.fromBytes(c.bytes, 'fuzz');
    else if (c.via === 'MLP.fromBytes') model = MLP.fromBytes(c.bytes, 'fuzz');
    else if (c.via === 'loadModel') { fs.writeFileSync(tmpFile, c.bytes); model = loadModel(tmpFile); }
    else if (c.via === 'wrong type') {
      // not a Uint8Array: the reader must say TypeError
      const forms = [c.bytes.buffer, new DataView(c.bytes.buffer), Array.from(c.bytes), Buffer.from(c.bytes).toString('latin1'),
        new Uint16Array(c.bytes.buffer, 0, c.bytes.byteLength >> 1), null, undefined, 42, {}];
      model = KAN.fromBytes(forms[c.bytes.length % forms.length], 'fuzz');
    } else if (c.via === 'offset view') {
      // the same bytes as a view at an odd offset of a larger buffer
      const big = new Uint8Array(c.bytes.length + 7);
      big.set(c.bytes, 3);
      const view = big.subarray(3, 3 + c.bytes.length);
      model = (Buffer.from(view).toString('latin1').includes('"MLP"') ? MLP : KAN).fromBytes(view, 'fuzz');
    }
    else model = (c.bytes.length > 20 && Buffer.from(c.bytes).toString('latin1').includes('"MLP"') ? MLP : KAN).fromBytes(c.bytes, 'fuzz');
    const x = finiteInputs(model);
    const y = model.forward(x);
    if (!y.every(Number.isFinite)) {
      outcome = classifyNonfinite(model, x);
      detail = `y=${Array.from(y.subarray(0, 4))}`;
    } else {
      // save -> load: same data bitwise, same forward bitwise
      const again = (model.kind === 'KAN' ? KAN : MLP).fromBytes(model.toBytes(), 'resaved');
      const a = new Uint32Array(model.data.buffer, model.data.byteOffset, model.data.length);
      const b = new Uint32Array(again.data.buffer, again.data.byteOffset, again.data.length);
      const y2 = again.forward(x);
      if (a.length !== b.length || a.some((v, q) => v !== b[q]) || y2.some((v, q) => !Object.is(v, y[q]))) {
        outcome = 'roundtrip';
        detail = 'toBytes() -> fromBytes() changed the data or the forward';
      } else outcome = 'loaded';
    }
  } catch (err) {
    const name = err?.constructor?.name ?? typeof err;
    if (err instanceof lib.ModelFileError) outcome = 'ModelFileError';
    else if (err instanceof TypeError) outcome = 'TypeError';
    else if (err instanceof RangeError) outcome = 'RangeError';
    else outcome = `other-error (${name})`;
    detail = String(err?.message ?? err).slice(0, 300);
  }
  const ms = performance.now() - t;
  const fileFloats = c.bytes.length / 4;
  if (maxAlloc > 4 * fileFloats + 65536) return { outcome: 'over-allocation', detail: `Float32Array(${maxAlloc}) for a ${c.bytes.length}-byte file (then: ${outcome} ${detail})`, ms };
  if (ms > 2000) return { outcome: 'slow', detail: `${ms.toFixed(0)} ms (then: ${outcome} ${detail})`, ms };
  return { outcome, detail, ms };
}

async function runChild() {
  installAllocationProbe();
  await loadLib();
  const tmpDir = fs.mkdtempSync(join(tmpdir(), 'kan-fuzz-file-'));
  const tmpFile = join(tmpDir, 'model.kanmodel');
  try {
    if (opt.replay >= 0) {
      const c = makeCase(opt.seed, opt.replay);
      console.log(`iteration ${opt.replay}: ${c.bytes.length} bytes via ${c.via}: ${c.desc}`);
      if (opt.out) { fs.writeFileSync(opt.out, c.bytes); console.log(`input written to ${opt.out}`); }
      const res = runCase(c, tmpFile);
      console.log(`outcome: ${res.outcome} (${res.ms.toFixed(1)} ms; largest Float32Array ${maxAlloc}) ${res.detail}`);
      process.exitCode = ALLOWED.has(res.outcome) ? 0 : 1;
      return;
    }
    const skip = new Set(opt.skip ? JSON.parse(fs.readFileSync(opt.skip, 'utf8')) : []);
    const fd = fs.openSync(opt.out, 'r+');
    const mark = (it) => { const s = String(it).padEnd(12); fs.writeSync(fd, s, 0); };
    const counts = {}, examples = {};
    const t0 = Date.now();
    let done = 0, it = opt.from;
    const flush = (finished) => process.stdout.write(`stats ${JSON.stringify({ counts, examples, done, finished })}\n`);
    for (; it < opt.iters && Date.now() - t0 < opt.seconds * 1000; it++) {
      mark(it);
      let c;
      try { c = makeCase(opt.seed, it); } catch (err) {
        console.error(`fuzz_model_file: internal error building iteration ${it}:`, err);
        process.exit(3);
      }
      if (skip.size && tokensOf(c.desc).some((t) => skip.has(t))) {
        counts['skipped (a mutation that alone crashed 3 times)'] = (counts['skipped (a mutation that alone crashed 3 times)'] ?? 0) + 1;
        done++;
        flush(false);
        continue;
      }
      const res = runCase(c, tmpFile);
      counts[res.outcome] = (counts[res.outcome] ?? 0) + 1;
      if (!ALLOWED.has(res.outcome) && !examples[res.outcome]) {
        examples[res.outcome] = `iteration ${it} (${c.bytes.length} bytes via ${c.via}: ${c.desc}): ${res.detail}`;
        if (opt.verbose) console.log(`finding ${res.outcome}: ${examples[res.outcome]}`);
      }
      done++;
      flush(false);  // every iteration: a crash in the next one loses nothing
    }
    flush(true);
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

// (last: the module's bindings above are initialised by now)
if (opt.child || opt.replay >= 0) await runChild();
else await runParent();
