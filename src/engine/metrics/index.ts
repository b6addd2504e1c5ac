/** The evaluation metrics' public API (FID, KID, IS, precision/recall; feature spaces; the .pth reader). */
export { frechetDistance, traceSqrtProduct, type FrechetResult, type Gaussian, type SqrtMethod } from './frechet';
export { kernelInceptionDistance, mmd2Unbiased, type KidOptions, type KidResult } from './kid';
export { inceptionScore, InceptionScoreAccumulator, type InceptionScoreResult } from './inceptionScore';
export { precisionRecall, type PrecisionRecallResult } from './precisionRecall';
export { FeatureReservoir, GaussianAccumulator } from './stats';
export { cpuKernels, type MetricKernels, type PolyKernel } from './kernels';
export { tfKernels, TfMomentAccumulator } from './tfKernels';
export { featureMatrix, type FeatureMatrix } from './features';
export {
  compareSummaries,
  decodeSummary,
  encodeSummary,
  FeatureCollector,
  type CollectorOptions,
  type FeatureSummary,
  type MetricName,
  type MetricResults,
  type SpaceInfo,
} from './collector';
export { FEATURE_PROTOCOL, inceptionSpace, pixelSpace, samplesToUnit, type FeatureSpace } from './featureSpace';
export {
  FID_WEIGHTS_FILE,
  FID_WEIGHTS_SHA256_PREFIX,
  FID_WEIGHTS_URL,
  foldStateDict,
  INCEPTION_WEIGHTS_ENV,
  INCEPTION_WEIGHTS_HELP,
  loadInceptionWeights,
  type InceptionWeights,
  type LoadWeightsOptions,
} from './inception/weights';
export { InceptionV3Fid, INCEPTION_SIZE } from './inception/model';
export { FID_INCEPTION, inceptionPlan, type InceptionConfig } from './inception/architecture';
export { readStateDict, type TorchDtype, type TorchTensor } from './pth/torchFile';
