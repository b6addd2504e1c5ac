/**
 * What identifies a feature space and how images reach it, without tfjs: the application layer builds reference
 * statistics' cache keys from these before any engine process starts.
 */

/**
 * How images reach a feature space, recorded with cached statistics: generated samples in [−1, 1] are
 * mapped to [0, 1] and quantised to 8 bits as if saved to PNG (pytorch-fid reads image files);
 * dataset images are 8-bit already.
 */
export const FEATURE_PROTOCOL = 'images uint8/255 (samples (x+1)/2 quantised to 8 bits); grey→RGB; v1';

/** The engine's feature space ids (FeatureSpace['id']) by the store's short names. */
export const FEATURE_SPACE_IDS = { inception: 'inception-v3-fid', pixel: 'pixel-8x8' } as const;

/** The feature spaces' labels, shown with every result (FeatureSpace['label']). */
export const INCEPTION_SPACE_LABEL = 'Inception-v3 pool3 (pytorch-fid)';
export const PIXEL_SPACE_LABEL = 'pixel space 8×8×3 (not Inception: not comparable with published FID/KID)';
