#!/bin/sh
# prebuildify has no cmake-js backend: it calls this in place of node-gyp (with node-gyp's
# arguments, which do not apply) and then collects build/Release/*.node.
cd "$(dirname "$0")/.." && exec node scripts/build-native.mjs
