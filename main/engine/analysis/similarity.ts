// Per-layer similarity between a model M and the base model M0 on the same inputs
// (METHODS.md section 4). Pure numerics: typed arrays and shapes in, numbers out.
//
// Both models' outputs come as batched tensors whose query/key axes may start with
// positions that are not input tokens (soft-prompt positions; prefix "past" positions on the
// key axis) and end with padding. A block view names where one example's input tokens lie, so
// the similarities compare exactly the input x input block and nothing else:
//
//   attentions [batch, heads, rows, cols]      rows = prompt + seq, cols = past + prompt + seq
//                 input block = rows [rowOffset, rowOffset + length) x cols [colOffset, colOffset + length)
//   hidden     [batch, seq', hidden]            input tokens = [rowOffset, rowOffset + length)
//
// All sums are accumulated in float64.

export interface AttentionBlock {
  /** attentions.{l} of one batch: [batch, heads, rows, cols], softmax probabilities. */
  data: Float32Array;
  dims: readonly [number, number, number, number];
  /** Which example of the batch. */
  example: number;
  /** First query row of the input tokens (the soft-prompt length). */
  rowOffset: number;
  /** First key column of the input tokens (prefix length + soft-prompt length). */
  colOffset: number;
  /** Number of input tokens (padding excluded). */
  length: number;
}

export interface HiddenBlock {
  /** hidden_states.{l} of one batch: [batch, seq, hidden]. */
  data: Float32Array;
  dims: readonly [number, number, number];
  example: number;
  rowOffset: number;
  length: number;
}

function checkBlock(rows: number, cols: number, b: { example: number; rowOffset: number; length: number }, batch: number, colOffset: number, what: string): void {
  if (b.example < 0 || b.example >= batch) throw new RangeError(`${what}: example ${b.example} outside batch ${batch}`);
  if (b.length < 1 || b.rowOffset < 0 || b.rowOffset + b.length > rows || colOffset < 0 || colOffset + b.length > cols) {
    throw new RangeError(`${what}: block rows [${b.rowOffset}, ${b.rowOffset + b.length}) cols [${colOffset}, ${colOffset + b.length}) outside [${rows}, ${cols}]`);
  }
}

/** cos(a, b) = a.b / (|a| |b|); NaN when either vector is zero. */
function cosineFromSums(dot: number, aa: number, bb: number): number {
  return aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : NaN;
}

/**
 * Per head h: cos(vec(A_h^M[input, input]), vec(A_h^M0[input, input])). Returns [heads].
 * The two blocks must have the same number of heads and input tokens.
 */
export function attentionCosinePerHead(m: AttentionBlock, base: AttentionBlock): Float64Array {
  const [mb, heads, mRows, mCols] = m.dims;
  const [bb, baseHeads, bRows, bCols] = base.dims;
  if (heads !== baseHeads) throw new RangeError(`attention heads differ: ${heads} vs base ${baseHeads}`);
  if (m.length !== base.length) throw new RangeError(`input lengths differ: ${m.length} vs base ${base.length}`);
  checkBlock(mRows, mCols, m, mb, m.colOffset, 'attention block');
  checkBlock(bRows, bCols, base, bb, base.colOffset, 'base attention block');
  const out = new Float64Array(heads);
  const n = m.length;
  for (let h = 0; h < heads; h++) {
    const mHead = (m.example * heads + h) * mRows * mCols;
    const bHead = (base.example * heads + h) * bRows * bCols;
    let dot = 0, aa = 0, b2 = 0;
    for (let i = 0; i < n; i++) {
      const mRow = mHead + (m.rowOffset + i) * mCols + m.colOffset;
      const bRow = bHead + (base.rowOffset + i) * bCols + base.colOffset;
      for (let j = 0; j < n; j++) {
        const x = m.data[mRow + j]!, y = base.data[bRow + j]!;
        dot += x * y; aa += x * x; b2 += y * y;
      }
    }
    out[h] = cosineFromSums(dot, aa, b2);
  }
  return out;
}

/** Per input token t: cos(h_t^M, h_t^M0) over the hidden axis, then the mean over tokens. */
export function activationCosine(m: HiddenBlock, base: HiddenBlock): number {
  const [mb, mSeq, hidden] = m.dims;
  const [bb, bSeq, baseHidden] = base.dims;
  if (hidden !== baseHidden) throw new RangeError(`hidden sizes differ: ${hidden} vs base ${baseHidden}`);
  if (m.length !== base.length) throw new RangeError(`input lengths differ: ${m.length} vs base ${base.length}`);
  checkBlock(mSeq, mSeq, m, mb, m.rowOffset, 'hidden block');
  checkBlock(bSeq, bSeq, base, bb, base.rowOffset, 'base hidden block');
  let sum = 0;
  for (let t = 0; t < m.length; t++) {
    const mi = (m.example * mSeq + m.rowOffset + t) * hidden;
    const bi = (base.example * bSeq + base.rowOffset + t) * hidden;
    let dot = 0, aa = 0, b2 = 0;
    for (let k = 0; k < hidden; k++) {
      const x = m.data[mi + k]!, y = base.data[bi + k]!;
      dot += x * y; aa += x * x; b2 += y * y;
    }
    sum += cosineFromSums(dot, aa, b2);
  }
  return sum / m.length;
}

/** The input-token rows of one example as a fresh [length, hidden] matrix. */
export function inputRows(block: HiddenBlock): Float64Array {
  const [batch, seq, hidden] = block.dims;
  checkBlock(seq, seq, block, batch, block.rowOffset, 'hidden block');
  const out = new Float64Array(block.length * hidden);
  for (let t = 0; t < block.length; t++) {
    const src = (block.example * seq + block.rowOffset + t) * hidden;
    for (let k = 0; k < hidden; k++) out[t * hidden + k] = block.data[src + k]!;
  }
  return out;
}

/** Centered Gram matrix H X X^T H of X [n, d] (H = I - 11^T / n): [n, n]. */
function centeredGram(x: Float64Array, n: number, d: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[i * d + k]! * x[j * d + k]!;
      g[i * n + j] = s; g[j * n + i] = s;
    }
  }
  const rowMean = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += g[i * n + j]!;
    rowMean[i] = s / n; total += s;
  }
  const mean = total / (n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g[i * n + j] = g[i * n + j]! - rowMean[i]! - rowMean[j]! + mean;
  return g;
}

/**
 * Linear CKA (Kornblith et al. 2019, eq. for the linear kernel) between representations
 * X [n, dx] and Y [n, dy] of the same n tokens:
 *   CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)),  K = X X^T, L = Y Y^T,
 *   HSIC(K, L) = tr(H K H L) / (n - 1)^2  (the (n - 1)^2 cancels),
 * which equals ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with column-centered Xc, Yc.
 * Computed in the n x n Gram space (n = tokens of one example, small). NaN when n < 2 or a
 * representation is constant over the tokens.
 */
export function linearCka(x: Float64Array | Float32Array, y: Float64Array | Float32Array, n: number, dx: number, dy: number): number {
  if (x.length !== n * dx || y.length !== n * dy) throw new RangeError(`CKA: X has ${x.length} values for [${n}, ${dx}], Y ${y.length} for [${n}, ${dy}]`);
  if (n < 2) return NaN;
  const k = centeredGram(Float64Array.from(x), n, dx);
  const l = centeredGram(Float64Array.from(y), n, dy);
  let kl = 0, kk = 0, ll = 0;
  for (let i = 0; i < n * n; i++) {
    kl += k[i]! * l[i]!; kk += k[i]! * k[i]!; ll += l[i]! * l[i]!;
  }
  return kk > 0 && ll > 0 ? kl / Math.sqrt(kk * ll) : NaN;
}

/** Spread of one quantity over examples; NaN values (undefined similarities) are left out. */
export interface Spread {
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator; 0 for one value). */
  std: number;
  min: number;
  /** Quartiles with linear interpolation between order statistics (NumPy's default). */
  q1: number;
  median: number;
  q3: number;
  max: number;
  /** How many finite values went in. */
  count: number;
}

function quantileSorted(s: Float64Array, q: number): number {
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function spread(values: ArrayLike<number>): Spread {
  const v = Float64Array.from(Array.from(values).filter((x) => Number.isFinite(x)));
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, q1: NaN, median: NaN, q3: NaN, max: NaN, count: 0 };
  let sum = 0;
  for (const x of v) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of v) ss += (x - mean) * (x - mean);
  v.sort();
  return {
    mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, min: v[0]!, q1: quantileSorted(v, 0.25),
    median: quantileSorted(v, 0.5), q3: quantileSorted(v, 0.75), max: v[n - 1]!, count: n,
  };
}
