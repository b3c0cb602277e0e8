// Deterministic "k smallest" selection: the k entries with the smallest key, ties broken by lower
// index (a stable sort's order), in linear expected time (quickselect on a copy), for pruning
// masks whose size must be exact (docs/METHODS.md 1.4: floor(numel * s) entries per block).

/** k-th smallest value (0-based) of a copy of keys; keys must hold no NaN. */
export function kthSmallest(keys: Float64Array, k: number): number {
  const a = Float64Array.from(keys);
  let lo = 0, hi = a.length - 1;
  // Deterministic pivot sequence (median of three) so runs are reproducible.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const x = a[lo]!, y = a[mid]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) { const t = a[i]!; a[i] = a[j]!; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/**
 * Mark (mask[offset + idx(i)] = 1) the k entries of keys with the smallest key, ties by lower i.
 * idx maps a key's index to its place in the mask. Returns the number marked (= k).
 */
export function markSmallest(keys: Float64Array, k: number, mark: (i: number) => void): number {
  if (k <= 0) return 0;
  if (k >= keys.length) { for (let i = 0; i < keys.length; i++) mark(i); return keys.length; }
  const t = kthSmallest(keys, k - 1);
  let below = 0;
  for (let i = 0; i < keys.length; i++) if (keys[i]! < t) below++;
  let ties = k - below;
  for (let i = 0; i < keys.length; i++) {
    const v = keys[i]!;
    if (v < t) mark(i);
    else if (v === t && ties > 0) { mark(i); ties--; }
  }
  return k;
}
