// CLIPCleaner sample selection (methods.md). From each probability source p (CLIP zero-shot, and a
// class-balanced logistic regression on the features), two criteria:
//   gmm:         loss score log p(ỹ_i | i), min-max normalised within each given class; per class a
//                2-component 1-D GMM; keep posterior(higher-mean component) ≥ θ_gmm (0.5)
//   consistency: p(ỹ_i | i) / max_k p(k | i) ≥ θ_cons (0.8)
// The selection is the intersection of all subsets. A class left empty is refilled with its best
// samples by the first source's loss score (the reference sorts ascending, which picks the worst;
// methods.md reads that as a slip). Every sub-score and sub-mask is returned for ablations.
import { perClassGmm, type Gmm1dOptions } from './gmm.js';
import {
  MethodInputError, checkLabels, checkProbs, classCounts, indicesByClass, orderByScoreDescending,
  type FloatTensor,
} from './linalg.js';
import { logisticProbabilities, type LogRegOptions, type OutOfFoldResult } from './logreg.js';
import { zeroShotProbs, type ZeroShotOptions } from './zeroshot.js';

export interface ProbabilitySource {
  /** Short name used to label the scores ("zeroshot", "logreg"). */
  name: string;
  /** p(k | i), [N, K] row-major. */
  probs: Float32Array;
}

export type ClipCleanerCriterion = 'gmm' | 'consistency';

export interface ClipCleanerOptions {
  /** θ_gmm. Default 0.5. */
  gmmThreshold?: number;
  /** θ_cons. Default 0.8. */
  consistencyThreshold?: number;
  /** Which criteria enter the intersection (for ablations). Default both. */
  criteria?: readonly ClipCleanerCriterion[];
  gmm?: Gmm1dOptions;
}

export interface SourceSelection {
  name: string;
  /** log p(ỹ_i | i), min-max normalised within each given class. */
  lossScore: Float64Array;
  /** Posterior of the higher-mean component of the class GMM. */
  gmmPosterior: Float64Array;
  gmmMask: Uint8Array;
  /** p(ỹ_i | i) / max_k p(k | i). */
  consistency: Float64Array;
  consistencyMask: Uint8Array;
}

export interface ClipCleanerResult {
  /** Final selection (intersection, then refill of empty classes). */
  mask: Uint8Array;
  /** The intersection before refilling. */
  intersection: Uint8Array;
  /** Samples added by the refill. */
  refilled: Uint8Array;
  /** Classes that were empty after the intersection (and had samples). */
  refilledClasses: number[];
  sources: SourceSelection[];
}

/** Smallest probability taken in a log, so a zero probability gives a finite score (as the maintained reference does). */
export const LOG_FLOOR = 1e-12;

export function clipCleanerSelect(
  sources: readonly ProbabilitySource[], noisyLabels: Int32Array, numClasses: number, opts: ClipCleanerOptions = {},
): ClipCleanerResult {
  const n = noisyLabels.length;
  checkLabels(noisyLabels, numClasses, 'noisy labels');
  if (sources.length === 0) throw new MethodInputError('clipcleaner needs at least one probability source');
  const gmmThreshold = opts.gmmThreshold ?? 0.5;
  const consThreshold = opts.consistencyThreshold ?? 0.8;
  const criteria = opts.criteria ?? ['gmm', 'consistency'];
  if (criteria.length === 0) throw new MethodInputError('clipcleaner criteria must name at least one of gmm, consistency');
  for (const c of criteria) {
    if (c !== 'gmm' && c !== 'consistency') throw new MethodInputError(`unknown clipcleaner criterion '${String(c)}' (expected gmm or consistency)`);
  }

  const selections = sources.map((src) => {
    checkProbs(src.probs, n, numClasses, `probabilities of source '${src.name}'`);
    return scoreSource(src, noisyLabels, numClasses, gmmThreshold, consThreshold, opts.gmm);
  });

  const useGmm = criteria.includes('gmm');
  const useConsistency = criteria.includes('consistency');
  const intersection = new Uint8Array(n).fill(1);
  for (const sel of selections) {
    for (let i = 0; i < n; i++) {
      if ((useGmm && !sel.gmmMask[i]) || (useConsistency && !sel.consistencyMask[i])) intersection[i] = 0;
    }
  }
  const { mask, refilled, refilledClasses } = refillEmptyClasses(intersection, selections[0].lossScore, noisyLabels, numClasses);
  return { mask, intersection, refilled, refilledClasses, sources: selections };
}

function scoreSource(
  src: ProbabilitySource, labels: Int32Array, numClasses: number, gmmThreshold: number, consThreshold: number,
  gmmOpts: Gmm1dOptions | undefined,
): SourceSelection {
  const n = labels.length;
  const logp = new Float64Array(n);
  const consistency = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const off = i * numClasses;
    const py = src.probs[off + labels[i]];
    let max = 0;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, src.probs[off + c]);
    logp[i] = Math.log(Math.max(py, LOG_FLOOR));
    consistency[i] = max > 0 ? py / max : 0;
  }
  const gmm = perClassGmm(logp, labels, numClasses, gmmOpts);
  const gmmMask = new Uint8Array(n);
  const consistencyMask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    gmmMask[i] = gmm.posteriorHigh[i] >= gmmThreshold ? 1 : 0;
    consistencyMask[i] = consistency[i] >= consThreshold ? 1 : 0;
  }
  return { name: src.name, lossScore: gmm.normalized, gmmPosterior: gmm.posteriorHigh, gmmMask, consistency, consistencyMask };
}

/**
 * Gives every class that has samples but no selected sample its `count` best samples by `score`,
 * count = min(class size, max(⌈N/K²⌉, smallest non-zero selected class count)) as in the reference.
 */
export function refillEmptyClasses(
  selection: Uint8Array, score: Float64Array, labels: Int32Array, numClasses: number,
): { mask: Uint8Array; refilled: Uint8Array; refilledClasses: number[] } {
  const n = labels.length;
  const mask = Uint8Array.from(selection);
  const refilled = new Uint8Array(n);
  const selectedPerClass = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < n; i++) if (selection[i]) selectedPerClass[labels[i]]++;
  const sizes = classCounts(labels, numClasses);
  const nonZero = selectedPerClass.filter((c) => c > 0);
  const floor = Math.ceil(n / (numClasses * numClasses));
  const want = Math.max(floor, nonZero.length > 0 ? Math.min(...nonZero) : 0);
  const refilledClasses: number[] = [];
  const members = indicesByClass(labels, numClasses);
  for (let c = 0; c < numClasses; c++) {
    if (sizes[c] === 0 || selectedPerClass[c] > 0) continue;
    refilledClasses.push(c);
    const idx = members[c];
    const order = orderByScoreDescending((r) => score[idx[r]], idx.length);
    const take = Math.min(sizes[c], want);
    for (let r = 0; r < take; r++) {
      mask[idx[order[r]]] = 1;
      refilled[idx[order[r]]] = 1;
    }
  }
  return { mask, refilled, refilledClasses };
}

export interface ClipCleanerPipelineOptions extends ClipCleanerOptions {
  zeroShot?: ZeroShotOptions;
  /** Logistic regression settings; class weights default to 'balanced' as in the reference. */
  logreg?: LogRegOptions;
  /** 1 (reference): predict the training samples themselves; ≥ 2: out-of-fold. */
  oofFolds?: number;
  /** Seeds the folds. */
  seed?: number;
  /** Which sources to use, in order (the first drives the refill). Default ['zeroshot', 'logreg']. */
  sources?: ReadonlyArray<'zeroshot' | 'logreg'>;
}

export interface ClipCleanerPipelineResult extends ClipCleanerResult {
  /** Logistic-regression fits (one, or one per fold), when that source was used. */
  logregFits: OutOfFoldResult['fits'];
}

/** Full CLIPCleaner selection from features, prompt embeddings and noisy labels. */
export function clipCleaner(
  features: FloatTensor, textFeatures: FloatTensor | undefined, noisyLabels: Int32Array, numClasses: number,
  opts: ClipCleanerPipelineOptions = {},
): ClipCleanerPipelineResult {
  const names = opts.sources ?? ['zeroshot', 'logreg'];
  const sources: ProbabilitySource[] = [];
  let logregFits: OutOfFoldResult['fits'] = [];
  for (const name of names) {
    if (name === 'zeroshot') {
      if (!textFeatures) throw new MethodInputError('clipcleaner with the zeroshot source needs text features [K, P, D]');
      if (textFeatures.shape[0] !== numClasses) {
        throw new MethodInputError(`text features have ${textFeatures.shape[0]} classes, expected ${numClasses}`);
      }
      sources.push({ name, probs: zeroShotProbs(features, textFeatures, opts.zeroShot) });
    } else if (name === 'logreg') {
      const lr = logisticProbabilities(features, noisyLabels, numClasses, {
        classWeight: 'balanced', ...opts.logreg, folds: opts.oofFolds ?? 1, seed: opts.seed ?? 0,
      });
      logregFits = lr.fits;
      sources.push({ name, probs: lr.probs });
    } else {
      throw new MethodInputError(`unknown clipcleaner source '${String(name)}' (expected zeroshot or logreg)`);
    }
  }
  return { ...clipCleanerSelect(sources, noisyLabels, numClasses, opts), logregFits };
}
