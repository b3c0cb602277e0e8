// Exporters: tables as CSV / LaTeX (booktabs) / Markdown, charts as PDF (rendered back with
// poppler's pdftoppm and checked pixel by pixel), and the PNG DPI chunk.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import { layerSimilarityChart } from '../../renderer/src/charts/layer-similarity.ts';
import { el, svgRoot, text } from '../../renderer/src/charts/svg-model.ts';
import { PUBLICATION, PUBLICATION_SIZES } from '../../renderer/src/charts/theme.ts';
import { helveticaWidth } from '../../renderer/src/export/helvetica-metrics.ts';
import { pageSize, pathToPdf, svgToPdf } from '../../renderer/src/export/pdf.ts';
import { crc32, isPng, pngDpi, pngSize, setPngDpi } from '../../renderer/src/export/png.ts';
import { latexEscape, tableToCsv, tableToLatex, tableToMarkdown } from '../../renderer/src/export/table-export.ts';
import { accuracyTable, averageCell, significanceMark } from '../../renderer/src/tables/accuracy-table.ts';
import { assertSnapshot } from '../helpers/snapshot.ts';
import { fixedLayerSimilarity } from '../fixtures/renderer/chart-data.ts';
import { fixedAccuracy } from '../fixtures/renderer/table-data.ts';

const dir = join(import.meta.dirname, '../fixtures/renderer');
const table = accuracyTable(fixedAccuracy);

test('accuracy table: percent, stderr, marks against the reference, average with combined stderr', () => {
  assert.deepEqual(table.columns.map((c) => c.label), ['Method', 'ARC-e', 'PIQA', 'Average']);
  const gptq3 = table.rows[2]!;
  assert.equal(gptq3.cells[0]!.text, 'GPTQ 3-bit');
  assert.equal(gptq3.cells[1]!.value!.toFixed(6), '55.000000');
  assert.equal(gptq3.cells[1]!.mark, '**');
  assert.equal(gptq3.cells[1]!.tone, 'down');
  assert.equal(significanceMark(0.03), '*');
  assert.equal(significanceMark(0.2), '');
  const avg = averageCell([{ acc: 0.5, stderr: 0.03 }, { acc: 0.7, stderr: 0.04 }]);
  assert.ok(Math.abs(avg.acc! - 0.6) < 1e-12 && Math.abs(avg.stderr! - 0.025) < 1e-12);
  assert.equal(averageCell([{ acc: 0.5 }, { acc: null }]).acc, null, 'no average over a missing task');
});

test('table exports: CSV, LaTeX booktabs and Markdown snapshots', () => {
  const csv = tableToCsv(table);
  assert.equal(csv.split('\r\n')[0], 'Method,ARC-e,ARC-e stderr,ARC-e significance,PIQA,PIQA stderr,PIQA significance,Average,Average stderr');
  assert.match(csv, /^"LoRA, r=8",/m, 'a comma in a label is quoted');
  const tex = tableToLatex(table);
  assert.match(tex, /\\toprule[\s\S]*\\midrule[\s\S]*\\bottomrule/);
  assert.equal((tex.match(/\\midrule/g) ?? []).length, 3, 'header rule plus one between each of the three groups');
  assert.match(tex, /55\.0 \{\\scriptsize\$\\pm\$1\.6\}\$\^\{\\ast\\ast\}\$/);
  assert.equal(latexEscape('50% of a_b & {c} ± 1'), '50\\% of a\\_b \\& \\{c\\} $\\pm$ 1');
  const md = tableToMarkdown(table);
  assert.match(md, /55\.0 ± 1\.6\\\*\\\* \|/, 'marks are escaped, not bold');
  assert.match(md, /^\| Method \| ARC-e \| PIQA \| Average \|\n\| :--- \| ---: \| ---: \| ---: \|$/m);
  assertSnapshot(csv, join(dir, 'accuracy.csv'));
  assertSnapshot(tex, join(dir, 'accuracy.tex'));
  assertSnapshot(md, join(dir, 'accuracy.md'));
});

test('pdf: path data, page size and Helvetica widths', () => {
  assert.equal(pathToPdf('M1,2L3,4H5V6Z'), '1 2 m 3 4 l 5 4 l 5 6 l h');
  assert.equal(pathToPdf('M1 1c1 0 2 1 2 2l1 1'), '1 1 m 2 1 3 2 3 3 c 4 4 l');
  assert.deepEqual(pageSize(svgRoot(400, 200, 12, null, [], 'x')), { width: 300, height: 150, scale: 0.75 });
  assert.ok(Math.abs(helveticaWidth('Hi', 10) - 9.44) < 1e-9);
  assert.ok(helveticaWidth('Hi', 10, true) > helveticaWidth('Hi', 10));
});

test('pdf: a chart renders with pdftoppm at its publication size, with its colours', (t) => {
  const which = spawnSync('pdftoppm', ['-v'], { encoding: 'utf8' });
  assert.ok(!which.error, 'pdftoppm is missing: apt-get install poppler-utils (CI installs it)');
  const tmp = mkdtempSync(join(tmpdir(), 'recall-pdf-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const node = layerSimilarityChart({ ...fixedLayerSimilarity, title: 'Similarity (±std) – 3 models' }, { size: PUBLICATION_SIZES.column, palette: PUBLICATION });
  const pdf = svgToPdf(node);
  assert.equal(new TextDecoder().decode(pdf.subarray(0, 8)), '%PDF-1.4');
  writeFileSync(join(tmp, 'chart.pdf'), pdf);
  const r = spawnSync('pdftoppm', ['-r', '72', '-singlefile', join(tmp, 'chart.pdf'), join(tmp, 'page')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'poppler reports no syntax errors');
  const { width, height, pixels } = readPpm(readFileSync(join(tmp, 'page.ppm')));
  assert.deepEqual([width, height], [252, 180], '3.5 in x 2.5 in at 72 dpi');
  let blue = 0, dark = 0, white = 0;
  for (let i = 0; i < pixels.length; i += 3) {
    const [r8, g8, b8] = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
    if (r8 > 245 && g8 > 245 && b8 > 245) white++;
    if (r8 < 60 && g8 < 60 && b8 < 60) dark++;
    if (b8 > 150 && r8 < 60 && g8 > 80 && g8 < 150) blue++; // #0072B2, the first series
  }
  assert.ok(white > pixels.length / 3 / 2, 'mostly white background');
  assert.ok(blue > 50, `the first series is drawn in its colour (${blue} px)`);
  assert.ok(dark > 50, `text is drawn (${dark} px)`);
  const pdfText = spawnSync('pdftotext', [join(tmp, 'chart.pdf'), '-'], { encoding: 'utf8' });
  if (!pdfText.error) assert.match(pdfText.stdout, /Similarity \(±std\) – 3 models/);
});

test('pdf: opacity and rotated text use ExtGState and a text matrix', () => {
  const node = svgRoot(100, 100, 10, '#fff', [el('rect', { x: 0, y: 0, width: 10, height: 10, fill: '#f00', 'fill-opacity': 0.5 }), text({ x: 0, y: 0, transform: 'translate(10,50) rotate(-90)' }, 'y (a)')], 'x', 'pt');
  const s = new TextDecoder('latin1').decode(svgToPdf(node));
  assert.match(s, /\/GS0 gs/);
  assert.match(s, /\/ca 0\.5 \/CA 1/);
  assert.match(s, /q 0 -1 1 0 10 50 cm/);
  assert.match(s, /\(y \\\(a\\\)\) Tj/);
  const xref = Number(/startxref\n(\d+)/.exec(s)![1]);
  assert.equal(s.slice(xref, xref + 4), 'xref', 'startxref points at the xref table');
});

test('png: pHYs chunk carries the DPI and a valid CRC', () => {
  const png = tinyPng(3, 2);
  assert.ok(isPng(png));
  assert.deepEqual(pngSize(png), { width: 3, height: 2 });
  assert.equal(pngDpi(png), null);
  const out = setPngDpi(png, 300);
  assert.equal(pngDpi(out), 300);
  assert.equal(pngDpi(setPngDpi(out, 600)), 600, 'replaces, not duplicates');
  assert.equal(out.length, png.length + 21);
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

function readPpm(buf: Buffer): { width: number; height: number; pixels: Buffer } {
  const header = buf.subarray(0, 50).toString('latin1');
  const m = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(header)!;
  return { width: Number(m[1]), height: Number(m[2]), pixels: buf.subarray(m[0].length) };
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function tinyPng(w: number, h: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, w);
  v.setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = new Uint8Array(h * (1 + 3 * w));
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
