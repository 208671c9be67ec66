// Builds the addon with cmake-js (the build of record) into build/Release/kan_native.node.
// Used by `npm install` when no matching prebuild loads, and by `npm run build`.
// cmake-js uses node-api-headers (package.json "binary.napi_versions"), so nothing is downloaded.
// Extra arguments are passed to cmake-js (e.g. --CDKAN_SANITIZE=ON).
import { spawnSync } from 'node:child_process';
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
const args = [cli, 'rebuild', '--log-level', 'warn', ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
