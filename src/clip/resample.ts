// Pillow's resampling (`Image.resize(size, resample)` without `box` or `reducing_gap`) for 8-bit
// interleaved images, bit for bit: what Hugging Face's CLIPImageProcessor and OpenAI's CLIP
// transform call (PIL bicubic). Written after Pillow's src/libImaging/Resample.c:
//
// - Separable: a horizontal pass (only over the rows the vertical pass reads), its result clipped
//   to 8 bits, then a vertical pass. A pass is skipped when that dimension keeps its size.
// - Per output pixel, a window of input pixels and its weights, computed once per dimension in
//   float64: the filter's support is widened by the down-scale factor (antialiasing; never narrowed
//   when up-scaling), the window is clamped to the image (the border is not extended, the weights
//   are renormalised instead), weights are normalised to sum 1, then turned into fixed point with
//   PRECISION_BITS = 32 - 8 - 2 fractional bits, rounding half away from zero.
// - An accumulator starting at 1 << (PRECISION_BITS - 1) (round half up), shifted right
//   (arithmetic) and clipped to 0..255.
// The float64 arithmetic follows the C expression order, so the coefficients are the same numbers.

export type PillowFilter = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

interface Filter {
  support: number;
  weight(x: number): number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

const FILTERS: Record<Exclude<PillowFilter, 'nearest'>, Filter> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      const ax = x < 0 ? -x : x;
      return ax < 1 ? 1 - ax : 0;
    },
  },
  hamming: {
    support: 1,
    weight: (x) => {
      const ax = x < 0 ? -x : x;
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const px = ax * Math.PI;
      // Pillow writes 0.54f and 0.46f: float32 constants promoted to double.
      return (Math.sin(px) / px) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(px));
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const ax = x < 0 ? -x : x;
      if (ax < 1) return ((a + 2.0) * ax - (a + 3.0)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Fixed-point weights for one dimension: output pixel i reads `count[i]` inputs from `start[i]`. */
export interface ResampleCoefficients {
  inSize: number;
  outSize: number;
  /** Weights per output pixel (the row length of `weights`). */
  ksize: number;
  start: Int32Array;
  count: Int32Array;
  /** [outSize × ksize] weights scaled by 2^22. */
  weights: Int32Array;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the whole input range. */
export function resampleCoefficients(inSize: number, outSize: number, filter: Exclude<PillowFilter, 'nearest'>): ResampleCoefficients {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new RangeError(`resample sizes must be positive integers, got ${inSize} -> ${outSize}`);
  }
  const f = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = f.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = 0 + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = f.weight((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { inSize, outSize, ksize, start, count, weights };
}

/** An interleaved 8-bit image (HWC). */
export interface Pixels {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over input rows [rowStart, rowStart + rows). */
function horizontal(src: Pixels, c: ResampleCoefficients, rowStart: number, rows: number): Uint8Array {
  const { data, width, channels } = src;
  const outW = c.outSize;
  const { ksize, start, count, weights } = c;
  const out = new Uint8Array(rows * outW * channels);
  const inRow = width * channels;
  const outRow = outW * channels;
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + rowStart) * inRow;
    const outBase = y * outRow;
    for (let xx = 0; xx < outW; xx++) {
      const kBase = xx * ksize;
      const n = count[xx];
      let p = rowBase + start[xx] * channels;
      const o = outBase + xx * channels;
      if (channels === 3) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0; x < n; x++, p += 3) {
          const w = weights[kBase + x];
          s0 += data[p] * w;
          s1 += data[p + 1] * w;
          s2 += data[p + 2] * w;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      } else {
        for (let ch = 0; ch < channels; ch++) {
          let s = HALF;
          for (let x = 0; x < n; x++) s += data[p + x * channels + ch] * weights[kBase + x];
          out[o + ch] = clip8(s);
        }
      }
    }
  }
  return out;
}

/** Vertical pass; `rowOffset` is the first input row present in `src`. */
function vertical(src: Pixels, c: ResampleCoefficients, rowOffset: number): Uint8Array {
  const { data, width, channels } = src;
  const { ksize, start, count, weights, outSize } = c;
  const row = width * channels;
  const out = new Uint8Array(outSize * row);
  for (let yy = 0; yy < outSize; yy++) {
    const kBase = yy * ksize;
    const n = count[yy];
    const first = (start[yy] - rowOffset) * row;
    const outBase = yy * row;
    for (let i = 0; i < row; i++) {
      let s = HALF;
      let p = first + i;
      for (let y = 0; y < n; y++, p += row) s += data[p] * weights[kBase + y];
      out[outBase + i] = clip8(s);
    }
  }
  return out;
}

/** Pillow's NEAREST: the input pixel under each output pixel's centre. */
function nearest(src: Pixels, height: number, width: number): Uint8Array {
  const { data, channels } = src;
  const out = new Uint8Array(height * width * channels);
  const xs = new Int32Array(width);
  // Pillow's affine nearest: xin = (int)((xx + 0.5) * scale) with scale = in/out in double.
  for (let x = 0; x < width; x++) xs[x] = Math.min(src.width - 1, Math.trunc((x + 0.5) * (src.width / width)));
  for (let y = 0; y < height; y++) {
    const sy = Math.min(src.height - 1, Math.trunc((y + 0.5) * (src.height / height)));
    for (let x = 0; x < width; x++) {
      const p = (sy * src.width + xs[x]) * channels;
      const o = (y * width + x) * channels;
      for (let ch = 0; ch < channels; ch++) out[o + ch] = data[p + ch];
    }
  }
  return out;
}

/** Caches coefficient tables by (in, out, filter): a data set's images mostly share sizes. */
export class Resampler {
  private readonly cache = new Map<string, ResampleCoefficients>();

  constructor(
    readonly filter: PillowFilter = 'bicubic',
    private readonly maxEntries = 64,
  ) {}

  private coefficients(inSize: number, outSize: number): ResampleCoefficients {
    const key = `${inSize}>${outSize}`;
    let c = this.cache.get(key);
    if (!c) {
      if (this.cache.size >= this.maxEntries) this.cache.clear();
      c = resampleCoefficients(inSize, outSize, this.filter as Exclude<PillowFilter, 'nearest'>);
      this.cache.set(key, c);
    }
    return c;
  }

  /** `Image.resize((width, height), filter)` of Pillow; returns the input itself when the size is unchanged. */
  resize(src: Pixels, height: number, width: number): Pixels {
    if (src.data.length !== src.height * src.width * src.channels) {
      throw new RangeError(`image data has ${src.data.length} bytes, expected ${src.height}x${src.width}x${src.channels}`);
    }
    if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
      throw new RangeError(`resize target must be positive integers, got ${width}x${height}`);
    }
    if (height === src.height && width === src.width) return src;
    if (this.filter === 'nearest') return { data: nearest(src, height, width), height, width, channels: src.channels };
    const needH = width !== src.width;
    const needV = height !== src.height;
    const cv = needV ? this.coefficients(src.height, height) : undefined;
    let current = src;
    let rowOffset = 0;
    if (needH) {
      const ch = this.coefficients(src.width, width);
      // Only the rows the vertical pass reads.
      const first = cv ? cv.start[0] : 0;
      const last = cv ? cv.start[height - 1] + cv.count[height - 1] : src.height;
      current = { data: horizontal(src, ch, first, last - first), height: last - first, width, channels: src.channels };
      rowOffset = first;
    }
    if (cv) return { data: vertical(current, cv, rowOffset), height, width, channels: src.channels };
    return current;
  }
}

/** One-off Pillow resize (coefficients not cached). */
export function pillowResize(src: Pixels, height: number, width: number, filter: PillowFilter = 'bicubic'): Pixels {
  return new Resampler(filter).resize(src, height, width);
}
