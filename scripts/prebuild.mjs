// `npm run prebuild`: writes prebuilds/<platform>-<arch>/ with prebuildify (through cmake-js, see
// prebuild-cmake.sh). npm also runs a script named "prebuild" as the pre-hook of `npm run build`;
// there it does nothing (detected from the npm process's arguments on Linux), so that
// `npm run build` compiles once and leaves build/ in place.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function ancestorsArgv() {
  const out = [];
  let pid = process.ppid;
  for (let depth = 0; depth < 4 && pid > 1; depth++) {
    try {
      // npm sets process.title ('npm run build'), which rewrites cmdline with spaces, not NULs
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]+/));
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch { break; }
  }
  return out;
}

const asHookOfBuild = ancestorsArgv().some((argv) => {
  const q = argv.findIndex((a) => a === 'run' || a === 'run-script' || a === 'rum' || a === 'urn');
  return q >= 0 && argv[q + 1] === 'build';
});
if (asHookOfBuild) process.exit(0);

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const bin = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
const r = spawnSync(process.execPath, [bin, '--napi', '--strip', '--node-gyp', join(root, 'scripts', 'prebuild-cmake.sh')],
  { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
