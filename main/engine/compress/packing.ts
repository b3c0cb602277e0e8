// Packed forms of a quantized linear layer (docs/METHODS.md 1.5), from GroupQuantized (codes,
// per-group scales and zeros, g_idx; W is [rows = out features N, cols = in features K]):
//
// (a) ORT com.microsoft MatMulNBits (docs/ContribOperators.md#com.microsoft.MatMulNBits):
//     B uint8 [N, nBlocks, blockSize * bits / 8], each block's K values low bits first, padded with 0;
//     scales float32 [N * nBlocks]; zero_points uint8 [N * ceil(nBlocks * bits / 8)], low bits first.
//     3-bit codes travel in the 4-bit layout (ORT 1.30's MatMulNBits runs bits 2, 4 and 8 only;
//     5..7-bit codes in the 8-bit one); dequantization (q - zp) * scale is the same.
// (b) GPTQ checkpoint tensors as AutoGPTQ / GPTQModel / transformers read them:
//     qweight int32 [K * bits / 32, N], qzeros int32 [nGroups, N * bits / 32], scales float16
//     [nGroups, N], g_idx int32 [K]. Values are a little-endian bit stream along the packed axis:
//     value j at stream bit j * bits, so 32 / bits values per int32 for 2/4/8 bits and, for 3 bits,
//     32 values across 3 int32 with values 10 and 21 straddling words, exactly GPTQModel's 3-bit pack.
//     checkpoint_format 'gptq' (v1, the default) stores zero - 1 (AutoGPTQ's historical offset; the
//     loader adds 1 back), 'gptq_v2' stores zero as is. v1 cannot hold a zero point of 0.
import { RecallError } from '../errors.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../onnx/dtypes.ts';
import { type GroupQuantized, groupCount } from './quantizer.ts';

export interface MatMulNBitsWeights {
  K: number;
  N: number;
  /** Storage bits of the layout (2, 4 or 8): the MatMulNBits `bits` attribute. */
  bits: number;
  blockSize: number;
  /** [N, nBlocks, blockSize * bits / 8]. */
  b: Uint8Array;
  bDims: [number, number, number];
  /** [N * nBlocks]. */
  scales: Float32Array;
  /** [N * ceil(nBlocks * bits / 8)]. */
  zeroPoints: Uint8Array;
}

/** MatMulNBits storage bits for codes of `bits` bits. */
export const matMulNBitsStorage = (bits: number): number => (bits <= 2 ? 2 : bits <= 4 ? 4 : 8);

function exportError(msg: string, details: Record<string, unknown>): RecallError {
  return new RecallError('E_COMPRESS_EXPORT', msg, details);
}

/** Write v (< 2^bits) at bit position pos of a little-endian byte stream. bits in {2, 4, 8} never straddle. */
function putBits(out: Uint8Array, pos: number, bits: number, v: number): void {
  out[pos >> 3]! |= v << (pos & 7);
}

/**
 * Pack for MatMulNBits. blockSize: the group size when the layer has groups (they must be the
 * contiguous groups c / groupSize: no act-order without static groups); for whole-row scales, any
 * power of two >= 16 (default 128), the row's (scale, zero) repeated in every block.
 */
export function packMatMulNBits(q: GroupQuantized, blockSizeForRows = 128): MatMulNBitsWeights {
  const { rows: N, cols: K } = q;
  const bits = matMulNBitsStorage(q.bits);
  const blockSize = q.groupSize === -1 ? blockSizeForRows : q.groupSize;
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw exportError(`MatMulNBits needs a block size that is a power of two >= 16, got ${blockSize}`, { blockSize });
  }
  if (q.groupSize !== -1) {
    for (let c = 0; c < K; c++) {
      if (q.gIdx[c] !== Math.floor(c / q.groupSize)) {
        throw exportError(`MatMulNBits needs contiguous groups, but column ${c} is in group ${q.gIdx[c]} (act-order without static groups)`, { column: c });
      }
    }
  }
  const nBlocks = Math.ceil(K / blockSize), blob = (blockSize * bits) / 8, zpRow = Math.ceil((nBlocks * bits) / 8);
  const b = new Uint8Array(N * nBlocks * blob), scales = new Float32Array(N * nBlocks), zeroPoints = new Uint8Array(N * zpRow);
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < nBlocks; blk++) {
      const g = q.groupSize === -1 ? 0 : blk;
      scales[n * nBlocks + blk] = q.scales[g * N + n]!;
      putBits(zeroPoints, (n * zpRow) * 8 + blk * bits, bits, q.zeros[g * N + n]!);
    }
    const base = n * nBlocks * blob * 8;
    for (let k = 0; k < K; k++) {
      const blk = Math.floor(k / blockSize);
      putBits(b, base + blk * blob * 8 + (k % blockSize) * bits, bits, q.codes[n * K + k]!);
    }
  }
  return { K, N, bits, blockSize, b, bDims: [N, nBlocks, blob], scales, zeroPoints };
}

export type GptqCheckpointFormat = 'gptq' | 'gptq_v2';

export interface GptqCheckpointTensors {
  bits: number;
  groupSize: number;
  format: GptqCheckpointFormat;
  /** int32 [cols * bits / 32, rows]. */
  qweight: Int32Array;
  qweightDims: [number, number];
  /** int32 [nGroups, rows * bits / 32]. */
  qzeros: Int32Array;
  qzerosDims: [number, number];
  /** float16 bits [nGroups, rows]. */
  scales: Uint16Array;
  scalesDims: [number, number];
  /** int32 [cols]. */
  gIdx: Int32Array;
}

/** Pack count values get(j) (< 2^bits) as a little-endian bit stream into words out[w * stride + offset]. */
function packStream(get: (j: number) => number, count: number, bits: number, out: Uint32Array, stride: number, offset: number): void {
  for (let j = 0; j < count; j++) {
    const pos = j * bits, w = pos >>> 5, sh = pos & 31, v = get(j);
    out[w * stride + offset]! |= v << sh;
    if (sh + bits > 32) out[(w + 1) * stride + offset]! |= v >>> (32 - sh);
  }
}

function unpackStream(words: Uint32Array, count: number, bits: number, stride: number, offset: number, put: (j: number, v: number) => void): void {
  const mask = (1 << bits) - 1;
  for (let j = 0; j < count; j++) {
    const pos = j * bits, w = pos >>> 5, sh = pos & 31;
    let v = words[w * stride + offset]! >>> sh;
    if (sh + bits > 32) v |= words[(w + 1) * stride + offset]! << (32 - sh);
    put(j, v & mask);
  }
}

function checkPackable(q: GroupQuantized): void {
  if (q.bits !== 2 && q.bits !== 3 && q.bits !== 4 && q.bits !== 8) {
    throw exportError(`the GPTQ checkpoint layout holds 2, 3, 4 or 8 bits, not ${q.bits}`, { bits: q.bits });
  }
  if ((q.cols * q.bits) % 32 !== 0 || (q.rows * q.bits) % 32 !== 0) {
    throw exportError(`the GPTQ checkpoint layout packs ${q.bits}-bit values into int32: rows (${q.rows}) and cols (${q.cols}) times bits must be multiples of 32`, { rows: q.rows, cols: q.cols, bits: q.bits });
  }
}

/** GPTQ checkpoint tensors of a quantized layer (layout in the header). */
export function packGptqCheckpoint(q: GroupQuantized, format: GptqCheckpointFormat = 'gptq'): GptqCheckpointTensors {
  checkPackable(q);
  const { rows, cols, bits } = q;
  const nG = groupCount(cols, q.groupSize), maxq = 2 ** bits - 1;
  const offset = format === 'gptq' ? 1 : 0;
  if (offset) {
    const i = q.zeros.indexOf(0);
    if (i >= 0) {
      throw exportError(`checkpoint_format 'gptq' stores zero - 1 and cannot hold the zero point 0 of group ${Math.floor(i / rows)}, row ${i % rows}; use 'gptq_v2'`, { group: Math.floor(i / rows), row: i % rows });
    }
  }
  const kw = (cols * bits) / 32, nw = (rows * bits) / 32;
  const qweight = new Uint32Array(kw * rows), qzeros = new Uint32Array(nG * nw);
  for (let r = 0; r < rows; r++) packStream((c) => q.codes[r * cols + c]!, cols, bits, qweight, rows, r);
  for (let g = 0; g < nG; g++) packStream((r) => (q.zeros[g * rows + r]! - offset) & maxq, rows, bits, qzeros.subarray(g * nw), 1, 0);
  return {
    bits, groupSize: q.groupSize, format,
    qweight: new Int32Array(qweight.buffer), qweightDims: [kw, rows],
    qzeros: new Int32Array(qzeros.buffer), qzerosDims: [nG, nw],
    scales: Uint16Array.from(q.scales, float32ToFloat16Bits), scalesDims: [nG, rows],
    gIdx: Int32Array.from(q.gIdx),
  };
}

/** Inverse of packGptqCheckpoint: codes [rows, cols], zeros [nGroups, rows], scales (float16 values as float32), g_idx. */
export function unpackGptqCheckpoint(t: GptqCheckpointTensors): Pick<GroupQuantized, 'rows' | 'cols' | 'bits' | 'groupSize' | 'codes' | 'zeros' | 'scales' | 'gIdx'> {
  const [kw, rows] = t.qweightDims, [nG, nw] = t.qzerosDims;
  const cols = (kw * 32) / t.bits, offset = t.format === 'gptq' ? 1 : 0;
  const codes = new Uint8Array(rows * cols), zeros = new Uint8Array(nG * rows);
  const qw = new Uint32Array(t.qweight.buffer, t.qweight.byteOffset, t.qweight.length);
  const qz = new Uint32Array(t.qzeros.buffer, t.qzeros.byteOffset, t.qzeros.length);
  for (let r = 0; r < rows; r++) unpackStream(qw, cols, t.bits, rows, r, (c, v) => { codes[r * cols + c] = v; });
  for (let g = 0; g < nG; g++) unpackStream(qz.subarray(g * nw), rows, t.bits, 1, 0, (r, v) => { zeros[g * rows + r] = v + offset; });
  return { rows, cols, bits: t.bits, groupSize: t.groupSize, codes, zeros, scales: Float32Array.from(t.scales, float16BitsToFloat32), gIdx: Int32Array.from(t.gIdx) };
}

/** The `quantization_config` of config.json for a model exported with these settings. */
export function gptqQuantizationConfig(o: { bits: number; groupSize: number; sym: boolean; actOrder: boolean; staticGroups?: boolean; percDamp?: number; trueSequential?: boolean; format?: GptqCheckpointFormat }): Record<string, unknown> {
  return {
    quant_method: 'gptq', bits: o.bits, group_size: o.groupSize, desc_act: o.actOrder, sym: o.sym,
    static_groups: o.staticGroups ?? false, damp_percent: o.percDamp ?? 0.01, true_sequential: o.trueSequential ?? true,
    checkpoint_format: o.format ?? 'gptq',
  };
}
