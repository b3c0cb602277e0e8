// Oracle tests: Recall's RTN / GPTQ / SparseGPT / magnitude pruning against the PyTorch reference
// (scripts/oracles/compress_ref.py, float64) on two fixture layers. Per case: the layer output
// error tr((W-Q) H (W-Q)^T) within 1% of the reference's; integer codes and pruning masks compared
// element by element (a mismatch is allowed only as a near-tie: codes one step apart, at most
// 0.5% of entries); exact sparsity; the n:m pattern in every group.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantizeGptq, quantizeRtn } from '../../main/engine/compress/gptq.ts';
import { pruneMagnitude } from '../../main/engine/compress/magnitude.ts';
import { pruneSparseGpt } from '../../main/engine/compress/sparsegpt.ts';
import { type FixtureCase, type FixtureLayer, countMismatches, loadLayer, manifest, outputError, readU8 } from './fixture.ts';

interface Outcome { weight: Float32Array; codes?: Uint8Array; mask?: Uint8Array; loss: number; sparsity?: number }

function runCase(c: FixtureCase, l: FixtureLayer): Outcome {
  const q = { bits: c.bits ?? 4, groupSize: c.groupSize ?? -1, sym: c.sym ?? false, mse: c.mse ?? false };
  switch (c.method) {
    case 'rtn': { const r = quantizeRtn(l.w, l.rows, l.cols, q); return { weight: r.weight, codes: r.codes, loss: 0 }; }
    case 'gptq': {
      const r = quantizeGptq(l.w, l.rows, l.cols, l.h, { ...q, actOrder: c.actOrder ?? false, staticGroups: c.staticGroups ?? false });
      return { weight: r.weight, codes: r.codes, loss: r.loss };
    }
    case 'sparsegpt': {
      const r = pruneSparseGpt(l.w, l.rows, l.cols, l.h, { sparsity: c.sparsity, n: c.n, m: c.m, quant: c.quant });
      return { weight: r.weight, mask: r.mask, loss: r.loss, sparsity: r.sparsity, ...(r.quant ? { codes: r.quant.codes } : {}) };
    }
    case 'magnitude': { const r = pruneMagnitude(l.w, l.rows, l.cols, { sparsity: c.sparsity, n: c.n, m: c.m }); return { weight: r.weight, mask: r.mask, loss: 0, sparsity: r.sparsity }; }
  }
}

function checkNm(mask: Uint8Array, n: number, m: number, label: string): void {
  for (let base = 0; base < mask.length; base += m) {
    let k = 0;
    for (let t = 0; t < m; t++) k += mask[base + t]!;
    assert.equal(k, n, `${label}: group at flat index ${base} has ${k} pruned, expected ${n}`);
  }
}

function expectedPruned(c: FixtureCase, rows: number, cols: number): number {
  if (c.n !== undefined) return (rows * cols * c.n) / c.m!;
  if (c.method === 'magnitude') return Math.floor(rows * cols * c.sparsity!);
  let k = 0; // SparseGPT: floor(numel * s) per rows x 128 block
  for (let i1 = 0; i1 < cols; i1 += 128) k += Math.floor(rows * (Math.min(cols, i1 + 128) - i1) * c.sparsity!);
  return k;
}

const report: string[] = [];
for (const key of Object.keys(manifest.layers)) {
  const layer = loadLayer(key);
  for (const c of manifest.cases) {
    const id = `${key}.${c.name}`;
    test(`oracle ${id} [${layer.rows}x${layer.cols}]`, () => {
      const ref = manifest.results[id]!;
      const got = runCase(c, layer);
      const err = outputError(layer.w, got.weight, layer.h, layer.rows, layer.cols);
      const ratio = err / ref.error;
      let codeMis = 0, maskMis = 0;
      if (got.codes) {
        const want = readU8(`${id}.codes.u8.gz`);
        codeMis = countMismatches(got.codes, want);
        for (let i = 0; i < want.length; i++) {
          if (got.codes[i] !== want[i]) assert.equal(Math.abs(got.codes[i]! - want[i]!), 1, `${id}: code [${i}] ${got.codes[i]} vs reference ${want[i]} is not a near-tie`);
        }
        assert.ok(codeMis <= 0.005 * want.length, `${id}: ${codeMis} of ${want.length} codes differ from the reference`);
      }
      if (got.mask) {
        const want = readU8(`${id}.mask.u8.gz`);
        maskMis = countMismatches(got.mask, want);
        const pruned = got.mask.reduce((s, v) => s + v, 0);
        assert.equal(pruned, expectedPruned(c, layer.rows, layer.cols), `${id}: pruned count`);
        assert.equal(pruned, want.reduce((s, v) => s + v, 0), `${id}: pruned count vs reference`);
        assert.equal(got.sparsity, pruned / want.length);
        if (c.n !== undefined) checkNm(got.mask, c.n, c.m!, id);
        for (let i = 0; i < want.length; i++) if (got.mask[i]) assert.equal(got.weight[i], 0, `${id}: pruned weight [${i}] is ${got.weight[i]}`);
        assert.ok(maskMis <= 0.005 * want.length, `${id}: ${maskMis} of ${want.length} mask entries differ`);
      }
      assert.ok(Math.abs(ratio - 1) <= 0.01, `${id}: output error ${err} vs reference ${ref.error} (ratio ${ratio})`);
      if (c.method === 'gptq' || c.method === 'sparsegpt') assert.ok(Math.abs(got.loss / ref.loss - 1) <= 0.01, `${id}: loss ${got.loss} vs ${ref.loss}`);
      report.push(`${id.padEnd(28)} error ratio ${ratio.toFixed(9)}  code mismatches ${codeMis}  mask mismatches ${maskMis}`);
    });
  }
}

test('oracle summary', () => {
  console.log(report.join('\n'));
});

test('GPTQ output error is lower than RTN on the same layer and settings', () => {
  for (const key of Object.keys(manifest.layers)) {
    const l = loadLayer(key);
    for (const cfg of [{ bits: 4 }, { bits: 3 }, { bits: 4, groupSize: 32 }]) {
      const rtn = outputError(l.w, quantizeRtn(l.w, l.rows, l.cols, cfg).weight, l.h, l.rows, l.cols);
      const gptq = outputError(l.w, quantizeGptq(l.w, l.rows, l.cols, l.h, cfg).weight, l.h, l.rows, l.cols);
      assert.ok(gptq < 0.9 * rtn, `${key} ${JSON.stringify(cfg)}: GPTQ error ${gptq} not below RTN ${rtn}`);
    }
  }
});
