// Marks the package's bin scripts (package.json "bin") executable after tsc has written them: tsc
// creates new files with the default mode (0644), and `npx kan` in a fresh clone of this package
// runs dist/lib/cli.js directly, which needs the x bit (npm sets it only on the bins of packages it
// installs as dependencies). Run by the prepare, build and build:ts scripts.
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
for (const rel of bins) {
  const p = join(root, rel);
  chmodSync(p, statSync(p).mode | 0o111);
}
