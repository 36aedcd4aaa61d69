// Shared numeric helpers for the selection/relabel methods: shape checks, register-blocked matrix
// products on flat row-major typed arrays, row-wise softmax and small sorting utilities.
// Plain loops over typed arrays: V8 keeps the accumulators in registers, which is what makes the
// 2x4 blocking below several times faster than one dot product at a time.

/** A row-major float32 array with its shape; structurally a runtime `Tensor<'float32'>`. */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export type NumericArray = Float32Array | Float64Array;

/** Bad input to a method: says which argument, what it was and what was expected. */
export class MethodInputError extends Error {
  override name = 'MethodInputError';
}

/** Checks a 2-D float tensor and returns its [rows, cols]. */
export function matrixShape(t: FloatTensor, name: string): [number, number] {
  if (t.shape.length !== 2) throw new MethodInputError(`${name} must be 2-D [N, D], got shape [${t.shape.join(', ')}]`);
  const [rows, cols] = t.shape;
  if (t.data.length !== rows * cols) {
    throw new MethodInputError(`${name} has ${t.data.length} values but shape [${rows}, ${cols}] needs ${rows * cols}`);
  }
  return [rows, cols];
}

/** Checks that labels are integers in [0, K). */
export function checkLabels(labels: Int32Array, numClasses: number, name: string): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new MethodInputError(`number of classes must be a positive integer, got ${numClasses}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0 || y >= numClasses) {
      throw new MethodInputError(`${name}[${i}] = ${y} is outside [0, ${numClasses})`);
    }
  }
}

/** Checks that a flat probability array has N*K entries. */
export function checkProbs(probs: NumericArray, n: number, numClasses: number, name: string): void {
  if (probs.length !== n * numClasses) {
    throw new MethodInputError(`${name} has ${probs.length} values, expected N*K = ${n}*${numClasses} = ${n * numClasses}`);
  }
}

export function checkMask(mask: Uint8Array, n: number, name: string): void {
  if (mask.length !== n) throw new MethodInputError(`${name} has length ${mask.length}, expected ${n}`);
}

export function checkFraction(value: number, name: string): void {
  if (!(value >= 0 && value <= 1)) throw new MethodInputError(`${name} must be in [0, 1], got ${value}`);
}

/**
 * out[i*n + j] = sum_p A[aOff + i*k + p] * B[bOff + j*k + p] for i < m, j < n: the product A·Bᵀ of two
 * row-major matrices that share their inner dimension k (dot products of rows).
 */
export function gemmNT(
  a: NumericArray, aOff: number, m: number,
  b: NumericArray, bOff: number, n: number,
  k: number, out: NumericArray,
): void {
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const a0 = aOff + i * k;
    const a1 = a0 + k;
    const c0 = i * n;
    const c1 = c0 + n;
    let j = 0;
    for (; j + 3 < n; j += 4) {
      const b0 = bOff + j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = a[a0 + p], x1 = a[a1 + p];
        const y0 = b[b0 + p], y1 = b[b1 + p], y2 = b[b2 + p], y3 = b[b3 + p];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
      }
      out[c0 + j] = s00; out[c0 + j + 1] = s01; out[c0 + j + 2] = s02; out[c0 + j + 3] = s03;
      out[c1 + j] = s10; out[c1 + j + 1] = s11; out[c1 + j + 2] = s12; out[c1 + j + 3] = s13;
    }
    for (; j < n; j++) {
      const b0 = bOff + j * k;
      let s0 = 0, s1 = 0;
      for (let p = 0; p < k; p++) {
        const y = b[b0 + p];
        s0 += a[a0 + p] * y;
        s1 += a[a1 + p] * y;
      }
      out[c0 + j] = s0;
      out[c1 + j] = s1;
    }
  }
  for (; i < m; i++) {
    const a0 = aOff + i * k;
    for (let j = 0; j < n; j++) {
      const b0 = bOff + j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[a0 + p] * b[b0 + p];
      out[i * n + j] = s;
    }
  }
}

/**
 * g[c*d + q] += sum_i r[i*c' + c] * x[xOff + i*d + q] for i < m: accumulates Rᵀ·X where R is [m, numCols]
 * and X a row block [m, d]. Used for the logistic-regression gradient over one block of rows.
 */
export function gemmTNAccumulate(
  r: Float64Array, m: number, numCols: number,
  x: NumericArray, xOff: number, d: number,
  g: Float64Array,
): void {
  let c = 0;
  for (; c + 1 < numCols; c += 2) {
    const g0 = c * d;
    const g1 = g0 + d;
    let q = 0;
    for (; q + 3 < d; q += 4) {
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let i = 0; i < m; i++) {
        const r0 = r[i * numCols + c], r1 = r[i * numCols + c + 1];
        const xo = xOff + i * d + q;
        const x0 = x[xo], x1 = x[xo + 1], x2 = x[xo + 2], x3 = x[xo + 3];
        s00 += r0 * x0; s01 += r0 * x1; s02 += r0 * x2; s03 += r0 * x3;
        s10 += r1 * x0; s11 += r1 * x1; s12 += r1 * x2; s13 += r1 * x3;
      }
      g[g0 + q] += s00; g[g0 + q + 1] += s01; g[g0 + q + 2] += s02; g[g0 + q + 3] += s03;
      g[g1 + q] += s10; g[g1 + q + 1] += s11; g[g1 + q + 2] += s12; g[g1 + q + 3] += s13;
    }
    for (; q < d; q++) {
      let s0 = 0, s1 = 0;
      for (let i = 0; i < m; i++) {
        const xv = x[xOff + i * d + q];
        s0 += r[i * numCols + c] * xv;
        s1 += r[i * numCols + c + 1] * xv;
      }
      g[g0 + q] += s0;
      g[g1 + q] += s1;
    }
  }
  for (; c < numCols; c++) {
    for (let q = 0; q < d; q++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += r[i * numCols + c] * x[xOff + i * d + q];
      g[c * d + q] += s;
    }
  }
}

/** Softmax of row `i` of a [*, k] logit array, written into `out` at the same place; returns log-sum-exp. */
export function softmaxRow(logits: Float64Array, i: number, k: number, out: NumericArray): number {
  const off = i * k;
  let max = -Infinity;
  for (let c = 0; c < k; c++) if (logits[off + c] > max) max = logits[off + c];
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(logits[off + c] - max);
  for (let c = 0; c < k; c++) out[off + c] = Math.exp(logits[off + c] - max) / sum;
  return max + Math.log(sum);
}

/** Index of the largest entry of row `i` (first one on ties). */
export function argmaxRow(values: NumericArray, i: number, k: number): number {
  const off = i * k;
  let best = 0;
  let bestValue = values[off];
  for (let c = 1; c < k; c++) {
    if (values[off + c] > bestValue) {
      bestValue = values[off + c];
      best = c;
    }
  }
  return best;
}

/** Row-wise argmax of an [N, K] array. */
export function argmaxRows(values: NumericArray, numClasses: number): Int32Array {
  const n = values.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = argmaxRow(values, i, numClasses);
  return out;
}

/** Returns a copy of `rows` [N, D] with every row scaled to unit L2 norm (zero rows stay zero). */
export function l2NormalizeRows(data: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    let s = 0;
    for (let q = 0; q < d; q++) s += data[off + q] * data[off + q];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let q = 0; q < d; q++) out[off + q] = data[off + q] * inv;
  }
  return out;
}

/** Indices of the samples of each class, in increasing order. */
export function indicesByClass(labels: Int32Array, numClasses: number): Int32Array[] {
  const counts = classCounts(labels, numClasses);
  const out = counts.map((c) => new Int32Array(c));
  const fill = new Int32Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    out[y][fill[y]++] = i;
  }
  return out;
}

export function classCounts(labels: Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/**
 * Indices 0..n-1 ordered by `score` descending; ties keep the lower index first so the order is
 * fully determined by the data.
 */
export function orderByScoreDescending(score: (i: number) => number, n: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((p, q) => {
    const d = score(q) - score(p);
    return d !== 0 ? d : p - q;
  });
  return idx;
}

export function countTrue(mask: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < mask.length; i++) c += mask[i] ? 1 : 0;
  return c;
}

// ---------------------------------------------------------------- WebAssembly SIMD row dot products
// kNN over 50 000 CLIP features is 1.3·10¹² multiply-adds; scalar JS does ~2·10⁹/s. This kernel does
// the same dot products four lanes at a time in float32 (wasm SIMD, which V8 has enabled since Node
// 16). The module is a few hundred bytes, encoded below from its instructions, so no toolchain is needed.
// Results are deterministic (wasm arithmetic is IEEE and never fused) but, summed in float32, they
// differ from the float64 `gemmNT` in the last bits; use this where ranking similarities is the goal.

/** Byte-level encoder of the one kernel function: tile(a, m, b, n, k, out) with byte offsets. */
function encodeDotKernel(): Uint8Array {
  const uleb = (v: number): number[] => {
    const out: number[] = [];
    do {
      let byte = v & 0x7f;
      v >>>= 7;
      if (v !== 0) byte |= 0x80;
      out.push(byte);
    } while (v !== 0);
    return out;
  };
  const sleb = (v: number): number[] => {
    const out: number[] = [];
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
        out.push(byte);
        return out;
      }
      out.push(byte | 0x80);
    }
  };
  // Locals: params 0..5 = a, m, b, n, k, out (i32); then i32 scratch; then v128 accumulators.
  const [A, M, B, N, , OUT] = [0, 1, 2, 3, 4, 5];
  const [I, J, P, A0, A1, B0, B1, B2, B3, ROW, O] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
  const S = [17, 18, 19, 20, 21, 22, 23, 24]; // s00 s01 s02 s03 s10 s11 s12 s13
  const [X0, X1, Y] = [25, 26, 27];
  const get = (l: number) => [0x20, ...uleb(l)];
  const set = (l: number) => [0x21, ...uleb(l)];
  const i32 = (v: number) => [0x41, ...sleb(v)];
  const add = [0x6a], mul = [0x6c], ltu = [0x49];
  const simd = (op: number) => [0xfd, ...uleb(op)];
  const load = (addr: number[]) => [...addr, ...simd(0), 4, 0]; // v128.load align=16 offset=0
  const f32x4Add = simd(228), f32x4Mul = simd(230);
  const zero = [...simd(12), ...new Array(16).fill(0)];
  const hsum = (l: number) => [
    ...get(l), ...simd(31), 0, ...get(l), ...simd(31), 1, 0x92, ...get(l), ...simd(31), 2, 0x92, ...get(l), ...simd(31), 3, 0x92,
  ];
  const store = (byteOffset: number, l: number) => [...get(O), ...i32(byteOffset), ...add, ...hsum(l), 0x38, 2, 0]; // f32.store
  const acc = (s: number, x: number) => [...get(s), ...get(x), ...get(Y), ...f32x4Mul, ...f32x4Add, ...set(s)];
  const loop = (body: number[], cond: number[]) => [0x03, 0x40, ...body, ...cond, 0x0d, 0, 0x0b];

  const innerBody = [
    ...load([...get(A0), ...get(P), ...add]), ...set(X0),
    ...load([...get(A1), ...get(P), ...add]), ...set(X1),
    ...[B0, B1, B2, B3].flatMap((b, c) => [...load([...get(b), ...get(P), ...add]), ...set(Y), ...acc(S[c], X0), ...acc(S[4 + c], X1)]),
    ...get(P), ...i32(16), ...add, ...set(P),
  ];
  const jBody = [
    ...get(B), ...get(J), ...get(ROW), ...mul, ...add, ...set(B0),
    ...get(B0), ...get(ROW), ...add, ...set(B1),
    ...get(B1), ...get(ROW), ...add, ...set(B2),
    ...get(B2), ...get(ROW), ...add, ...set(B3),
    ...S.flatMap((s) => [...zero, ...set(s)]),
    ...i32(0), ...set(P),
    ...loop(innerBody, [...get(P), ...get(ROW), ...ltu]),
    // out + 4·(i·n + j) and the next row
    ...get(OUT), ...get(I), ...get(N), ...mul, ...get(J), ...add, ...i32(4), ...mul, ...add, ...set(O),
    ...store(0, S[0]), ...store(4, S[1]), ...store(8, S[2]), ...store(12, S[3]),
    ...get(O), ...get(N), ...i32(4), ...mul, ...add, ...set(O),
    ...store(0, S[4]), ...store(4, S[5]), ...store(8, S[6]), ...store(12, S[7]),
    ...get(J), ...i32(4), ...add, ...set(J),
  ];
  const iBody = [
    ...get(A), ...get(I), ...get(ROW), ...mul, ...add, ...set(A0),
    ...get(A0), ...get(ROW), ...add, ...set(A1),
    ...i32(0), ...set(J),
    ...loop(jBody, [...get(J), ...get(N), ...ltu]),
    ...get(I), ...i32(2), ...add, ...set(I),
  ];
  const body = [
    ...get(4), ...i32(4), ...mul, ...set(ROW),
    ...i32(0), ...set(I),
    ...loop(iBody, [...get(I), ...get(M), ...ltu]),
    0x0b,
  ];
  const locals = [2, ...uleb(11), 0x7f, ...uleb(11), 0x7b]; // 11 i32 scratch, 11 v128
  const func = [...locals, ...body];
  const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
  const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 6, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('tile'), 0x00, 0]),
    ...section(10, [1, ...uleb(func.length), ...func]),
  ]);
}

// The few WebAssembly JS-API members used here (the project's TypeScript lib has no wasm types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
/**
 * The SIMD kernel: out[i·n + j] = Σ_p A[i·k + p]·B[j·k + p] in float32, with a, b, out byte offsets
 * into the memory, m even, n and k multiples of 4.
 */
export type TileFn = (a: number, m: number, b: number, n: number, k: number, out: number) => void;

const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
let dotModule: object | null | undefined;

function wasmDotModule(): object | null {
  if (dotModule === undefined) {
    try {
      if (!wasmApi) throw new Error('no WebAssembly');
      dotModule = new wasmApi.Module(encodeDotKernel());
    } catch {
      dotModule = null; // no wasm SIMD: callers fall back to gemmNT
    }
  }
  return dotModule;
}

const PAGE = 65536;

/** Whether the wasm SIMD dot-product kernel can run here (else callers use the float64 gemmNT). */
export function hasSimdKernel(): boolean {
  return wasmDotModule() !== null;
}

/**
 * `bytes` of zeroed wasm memory with the SIMD kernel bound to it, or null where wasm SIMD is missing
 * (or `bytes` is over 2 GiB).
 */
export function simdKernelMemory(bytes: number): { buffer: ArrayBuffer; tile: TileFn } | null {
  const module = wasmDotModule();
  if (!module || !wasmApi || bytes > 2 ** 31) return null;
  const memory = new wasmApi.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE)) });
  const instance = new wasmApi.Instance(module, { env: { memory } });
  return { buffer: memory.buffer, tile: instance.exports.tile as TileFn };
}

/**
 * Dot products between the rows of a float32 matrix R [rows, d] and of a matrix C [cols, d] (C may be
 * R itself), a tile at a time. Both are copied once into wasm memory, rows padded to a multiple of 4
 * floats plus a few zero rows, so a tile of any shape runs the 2×4-blocked kernel without bounds checks.
 */
export class RowDotEngine {
  private readonly memory: WasmMemory | null;
  private readonly tileFn: TileFn | null;
  private readonly stride: number;
  private readonly rowBase = 0;
  private readonly colBase: number;
  private readonly outBase: number;
  private readonly outCapacity: number;
  private readonly colData: Float32Array;

  constructor(
    private readonly rowData: Float32Array,
    readonly rows: number,
    colData: Float32Array | null,
    readonly cols: number,
    readonly dim: number,
    private readonly maxTileRows: number,
    private readonly maxTileCols: number,
  ) {
    this.colData = colData ?? rowData;
    this.stride = Math.ceil(dim / 4) * 4;
    const module = wasmDotModule();
    // 1 extra zero row covers an odd tile height, 3 a tile width that is not a multiple of 4.
    const rowBytes = (rows + 1) * this.stride * 4;
    const colBytes = colData ? (cols + 3) * this.stride * 4 : 3 * this.stride * 4;
    this.outCapacity = (maxTileRows + 1) * (maxTileCols + 3);
    const bytes = rowBytes + colBytes + this.outCapacity * 4;
    this.colBase = colData ? rowBytes : 0;
    this.outBase = rowBytes + colBytes;
    if (!module || !wasmApi || bytes > 2 ** 31) {
      this.memory = null;
      this.tileFn = null;
      return;
    }
    this.memory = new wasmApi.Memory({ initial: Math.ceil(bytes / PAGE) });
    const instance = new wasmApi.Instance(module, { env: { memory: this.memory } });
    this.tileFn = instance.exports.tile as TileFn;
    const heap = new Float32Array(this.memory.buffer);
    for (let i = 0; i < rows; i++) heap.set(rowData.subarray(i * dim, (i + 1) * dim), i * this.stride);
    if (colData) {
      const base = this.colBase / 4;
      for (let j = 0; j < cols; j++) heap.set(colData.subarray(j * dim, (j + 1) * dim), base + j * this.stride);
    }
  }

  /** Whether the SIMD kernel is in use (false: the scalar float64 fallback). */
  get simd(): boolean {
    return this.tileFn !== null;
  }

  /**
   * Writes the dot products of rows [rowStart, rowStart+m) of R with rows [colStart, colStart+n) of C
   * into out[r * n + c]; m ≤ maxTileRows, n ≤ maxTileCols.
   */
  tile(rowStart: number, m: number, colStart: number, n: number, out: Float32Array | Float64Array): void {
    if (m > this.maxTileRows || n > this.maxTileCols) {
      throw new MethodInputError(`a ${m}×${n} tile exceeds the engine's capacity (${this.maxTileRows}×${this.maxTileCols})`);
    }
    if (rowStart < 0 || rowStart + m > this.rows || colStart < 0 || colStart + n > this.cols) {
      throw new MethodInputError(`tile rows [${rowStart}, ${rowStart + m}) × cols [${colStart}, ${colStart + n}) is outside ${this.rows}×${this.cols}`);
    }
    if (!this.tileFn || !this.memory) {
      gemmNT(this.rowData, rowStart * this.dim, m, this.colData, colStart * this.dim, n, this.dim, out);
      return;
    }
    const m2 = m + (m & 1);
    const n4 = Math.ceil(n / 4) * 4;
    const rowBytes = this.stride * 4;
    this.tileFn(this.rowBase + rowStart * rowBytes, m2, this.colBase + colStart * rowBytes, n4, this.stride, this.outBase);
    const result = new Float32Array(this.memory.buffer, this.outBase, m2 * n4);
    for (let r = 0; r < m; r++) {
      const src = r * n4;
      const dst = r * n;
      for (let c = 0; c < n; c++) out[dst + c] = result[src + c];
    }
  }
}
