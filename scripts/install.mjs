// `npm install` hook: use the addon if one loads (build/ first, then prebuilds/<platform>-<arch>/,
// via node-gyp-build), otherwise compile it from source with cmake-js (scripts/build-native.mjs).
// Set KAN_BUILD_FROM_SOURCE=1 to always compile.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

if (!process.env.KAN_BUILD_FROM_SOURCE) {
  // Load in a child so a binary that crashes on load cannot take this process down.
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(require.resolve('node-gyp-build'))})(${JSON.stringify(root)}).simd()`],
    { stdio: 'ignore' });
  if (probe.status === 0) process.exit(0);
}
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
