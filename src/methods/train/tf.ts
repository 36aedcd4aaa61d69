// The tfjs namespace the training code calls (the native packages re-export the same API), as a
// type only: modules that take a `tf` need not load the backend picker (backend.ts) to name it.
import type * as tfjs from '@tensorflow/tfjs';

export type Tf = typeof tfjs;
