// SVG snapshots of every chart from fixed data (rounded numbers; RECALL_UPDATE_SNAPSHOTS=1
// rewrites them), plus structural checks that would fail on a blank or broken chart.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { attentionHeatmapChart } from '../../renderer/src/charts/attention-heatmap.ts';
import { compressionLogChart } from '../../renderer/src/charts/compression-log.ts';
import { layerSimilarityChart } from '../../renderer/src/charts/layer-similarity.ts';
import { renderSvg, svgFile, type SvgNode } from '../../renderer/src/charts/svg-model.ts';
import { LIGHT, PUBLICATION, PUBLICATION_SIZES, SCREEN } from '../../renderer/src/charts/theme.ts';
import { trainingCurveChart } from '../../renderer/src/charts/training-curve.ts';
import { assertSnapshot } from '../helpers/snapshot.ts';
import { fixedAttention, fixedCompressionLog, fixedLayerSimilarity, fixedTraining } from '../fixtures/renderer/chart-data.ts';

const dir = join(import.meta.dirname, '../fixtures/renderer');
const screen = { size: SCREEN(480, 300), palette: LIGHT };
const paper = { size: PUBLICATION_SIZES.column, palette: PUBLICATION };

function count(node: SvgNode, tag: string, cls?: string): number {
  const self = node.tag === tag && (!cls || node.attrs.class === cls) ? 1 : 0;
  return self + (node.children ?? []).reduce((s, c) => s + count(c, tag, cls), 0);
}

function texts(node: SvgNode): string[] {
  return [...(node.tag === 'text' ? [node.text ?? ''] : []), ...(node.children ?? []).flatMap(texts)];
}

test('layer similarity: one line and one band per model, a dot per layer', () => {
  const node = layerSimilarityChart(fixedLayerSimilarity, screen);
  assert.equal(count(node, 'g', 'series'), 3);
  assert.equal(count(node, 'path'), 6);
  assert.equal(count(node, 'circle'), 3 * 6);
  assert.ok(texts(node).includes('GPTQ 3-bit'));
  assertSnapshot(renderSvg(node, true), join(dir, 'layer-similarity.svg'));
});

test('attention heatmap: two panels of n x n cells and a colour bar', () => {
  const node = attentionHeatmapChart(fixedAttention, screen);
  const n = fixedAttention.tokens.length;
  assert.equal(count(node, 'g', 'panel'), 2);
  assert.equal(count(node, 'rect'), 2 * n * n + 2 + 20);
  assertSnapshot(renderSvg(node, true), join(dir, 'attention-heatmap.svg'));
});

test('compression log: a bar per compressed module, skipped ones left out; dots when asked', () => {
  const node = compressionLogChart(fixedCompressionLog, screen);
  const compressed = fixedCompressionLog.entries.filter((e) => !e.skipped).length;
  assert.equal(count(node, 'g', 'marks marks-bars'), 1);
  assert.equal(count(node, 'rect') - 4 /* legend squares */, compressed);
  assertSnapshot(renderSvg(node, true), join(dir, 'compression-log.svg'));
  const dots = compressionLogChart({ ...fixedCompressionLog, mark: 'dots' }, screen);
  assert.equal(count(dots, 'circle'), compressed);
});

test('training curve: the train line and one point per evaluation', () => {
  const node = trainingCurveChart(fixedTraining, paper);
  assert.equal(count(node, 'path', 'train'), 1);
  assert.equal(count(node, 'circle'), fixedTraining.eval.length + 1 /* legend */);
  assert.match(renderSvg(node), /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="252pt" height="180pt" viewBox="0 0 252 180"/);
  assertSnapshot(renderSvg(node, true), join(dir, 'training-curve.svg'));
});

test('svg files are well-formed: declaration, escaped text, balanced tags', () => {
  const file = svgFile(layerSimilarityChart({ ...fixedLayerSimilarity, title: 'A & B <test>' }, paper));
  assert.ok(file.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg '));
  assert.match(file, /A &amp; B &lt;test&gt;/);
  const opened = (file.match(/<(?!\/|\?)[a-z]+[^>]*[^/]>/g) ?? []).length;
  const closed = (file.match(/<\/[a-z]+>/g) ?? []).length;
  assert.equal(opened, closed);
  assert.doesNotMatch(file, /NaN|undefined|style=/);
});
