// Builds the addon with cmake-js (the build of record) into build/Release/kan_native.node.
// Used by `npm install` when no matching prebuild loads, and by `npm run build` (incremental when
// build/ is already configured).
// cmake-js uses node-api-headers (package.json "binary.napi_versions"), so nothing is downloaded.
// Extra arguments are passed to cmake-js (e.g. --CDKAN_SANITIZE=ON).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
let cli;
try {
  cli = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
} catch {
  console.error('kan-native: cmake-js is not installed, so the addon cannot be built from source.\n' +
    'Install the dev dependencies (npm install) or use a platform with a prebuild in prebuilds/.');
  process.exit(1);
}
// An already configured build/ (no extra arguments) is built incrementally; anything else is
// configured from scratch.
const extra = process.argv.slice(2);
const incremental = extra.length === 0 && existsSync(join(root, 'build', 'CMakeCache.txt'));
const args = [cli, incremental ? 'build' : 'rebuild', '--log-level', 'warn', ...extra];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
