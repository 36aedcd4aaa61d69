// What the readers in src/data hand back: labelled image or feature splits plus class names.
import type { Tensor } from '../runtime/tensor.js';

/** Images as uint8 NHWC [N, H, W, C] with one int32 label per image. */
export interface ImageSplit {
  images: Tensor<'uint8'>;
  labels: Int32Array;
}

/** Features as float32 [N, D] with one int32 label per row. */
export interface FeatureSplit {
  features: Tensor<'float32'>;
  labels: Int32Array;
}

/**
 * A data set as stored. `test` is absent for sources that ship a single split (the node then
 * carves one out with `holdout`).
 */
export interface Dataset<S> {
  train: S;
  test?: S;
  classes: string[];
}

export type ImageDataset = Dataset<ImageSplit>;
export type FeatureDataset = Dataset<FeatureSplit>;
