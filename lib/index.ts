// kan-native: Kolmogorov–Arnold Networks for Node.js.
export { KAN, KANLayer, type KANOptions, type KANConfig, type BaseFunction, floatsOfKAN } from './kan.js';
export { MLP, DenseLayer, type MLPOptions, type MLPConfig, type Activation } from './mlp.js';
export { ModelBusyError, type Model, type ParamGroup, type BackwardOptions } from './model.js';
export {
  train, Adam, SGD, mseLoss, crossEntropyLoss, evaluateMSE, evaluateAccuracy,
  type TrainOptions, type TrainResult, type StepInfo, type Dataset, type Optimizer, type LossName, type OptimizerName,
} from './train.js';
export { LBFGS, type LBFGSOptions, type Closure } from './lbfgs.js';
export { updateGrid, updateGridAsync, extendGrid, type GridUpdateOptions } from './grid.js';
export { toOnnx, exportOnnx, verifyOnnx, type OnnxOptions, type VerifyResult } from './onnx/export.js';
export { ModelFileError, MAGIC, FORMAT_VERSION } from './io.js';
export { simd, simdAvailable, setSimd, getNumThreads, setNumThreads, peakGflops, readBandwidth, tileGflops, TILES, type Tile, type SimdPath } from './native.js';
export { Rng } from './rng.js';

import { kanReader } from './kan.js';
import { mlpReader } from './mlp.js';
import { loadModelFile, readModel } from './io.js';
import type { Model } from './model.js';

/** Loads a KAN or an MLP from a file written by save(), whichever it holds. */
export function loadModel(path: string): Model {
  return readModel<Model>(loadModelFile(path), path, { KAN: kanReader, MLP: mlpReader });
}
