// CoOp prompt layouts: where the learned context vectors sit among each class's fixed tokens.
//   end     [SOT] X1 … Xn  name … [.] [EOT]
//   middle  [SOT] X1 … X⌊n/2⌋  name …  X⌊n/2⌋+1 … Xn [.] [EOT]
//   front   [SOT] name … X1 … Xn [.] [EOT]
// (the `.` is the suffix tokens, CoOp's "{context} {name}."). Rows are padded with 0 after the EOT
// token, which the text model's causal mask makes irrelevant.

export type ClassTokenPosition = 'end' | 'middle' | 'front';

export interface PromptTokens {
  /** Token ids of each class name, without start/end tokens. */
  classTokens: readonly (readonly number[])[];
  /** Fixed tokens after the name and context (CoOp: the tokens of "."). */
  suffix: readonly number[];
  sot: number;
  eot: number;
}

export interface PromptLayout {
  numClasses: number;
  nCtx: number;
  /** Positions per prompt row (the longest prompt, EOT included). */
  length: number;
  /** [K, length] token ids; context slots hold 0. */
  ids: Int32Array;
  /** [K, length]: the context index s ∈ [0, nCtx) at each position, −1 for fixed tokens. */
  slot: Int32Array;
  /** [K] position of each row's EOT token. */
  eot: Int32Array;
}

export class PromptLayoutError extends Error {
  override name = 'PromptLayoutError';
}

export function promptLayout(tokens: PromptTokens, nCtx: number, position: ClassTokenPosition, contextLength: number): PromptLayout {
  if (!Number.isInteger(nCtx) || nCtx < 0) throw new PromptLayoutError(`n_ctx must be an integer ≥ 0, got ${nCtx}`);
  const k = tokens.classTokens.length;
  if (k < 2) throw new PromptLayoutError(`need at least 2 classes, got ${k}`);
  const rows = tokens.classTokens.map((name, c) => {
    if (name.length === 0) throw new PromptLayoutError(`class ${c} has an empty name`);
    const ctx = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => -(from + i) - 1);
    const half = Math.floor(nCtx / 2);
    const body =
      position === 'end' ? [...ctx(0, nCtx), ...name]
        : position === 'front' ? [...name, ...ctx(0, nCtx)]
          : [...ctx(0, half), ...name, ...ctx(half, nCtx)];
    return [tokens.sot, ...body, ...tokens.suffix, tokens.eot];
  });
  const length = Math.max(...rows.map((r) => r.length));
  if (length > contextLength) {
    const longest = rows.findIndex((r) => r.length === length);
    throw new PromptLayoutError(`the prompt of class ${longest} needs ${length} tokens, more than the model's context length ${contextLength} (fewer n_ctx or a shorter name)`);
  }
  const ids = new Int32Array(k * length);
  const slot = new Int32Array(k * length).fill(-1);
  const eot = new Int32Array(k);
  rows.forEach((r, c) => {
    r.forEach((v, t) => {
      if (v < 0) slot[c * length + t] = -v - 1;
      else ids[c * length + t] = v;
    });
    eot[c] = r.length - 1;
  });
  return { numClasses: k, nCtx, length, ids, slot, eot };
}
