// Plain TypeScript references for the trivial ops (elementwise with numpy broadcasting,
// comparisons): written from the ONNX spec text, independent of the builder and of ORT.
// Non-trivial ops take their references from PyTorch via scripts/oracles/onnx_ops.py.

/** numpy/ONNX multidirectional broadcast of two shapes (Broadcasting.md). */
export function broadcastDims(a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`[${a}] and [${b}] do not broadcast`);
    return x === 1 ? y : x;
  });
}

/** Flat index into a tensor of `dims` for the output coordinate `coord` (broadcast dims read index 0). */
function sourceIndex(coord: number[], dims: number[]): number {
  let idx = 0;
  const off = coord.length - dims.length;
  for (let k = 0; k < dims.length; k++) idx = idx * dims[k]! + (dims[k] === 1 ? 0 : coord[off + k]!);
  return idx;
}

export interface Ref { dims: number[]; data: number[] }

/** out[i] = fn(a[i'], b[i'']) over the broadcast shape, any number of operands. */
export function mapBroadcast(operands: { dims: number[]; data: ArrayLike<number | bigint> }[], fn: (...v: number[]) => number): Ref {
  const dims = operands.map((o) => o.dims).reduce(broadcastDims);
  const n = dims.reduce((p, d) => p * d, 1);
  const data: number[] = [];
  const coord = dims.map(() => 0);
  for (let i = 0; i < n; i++) {
    let r = i;
    for (let k = dims.length - 1; k >= 0; k--) { coord[k] = r % dims[k]!; r = Math.floor(r / dims[k]!); }
    data.push(fn(...operands.map((o) => Number(o.data[sourceIndex(coord, o.dims)]))));
  }
  return { dims, data };
}
