// A chart's SVG model as a one-page vector PDF (PDF 1.4): rects, lines, paths (M L H V C Z),
// circles (four Béziers), text in the standard Helvetica fonts (no embedding; every viewer has
// them, and widths from helvetica-metrics.ts keep anchors exact), fill/stroke opacity through
// ExtGState. The page is the chart's size: 1 unit = 1 pt for publication sizes ('pt'), px
// scaled by 0.75 otherwise. Output is the file's bytes.

import type { AttrValue, SvgNode } from '../charts/svg-model.ts';
import { helveticaWidth, winAnsiCode } from './helvetica-metrics.ts';

type Matrix = [number, number, number, number, number, number];

interface Inherited {
  fontSize: number;
  fill: string;
  bold: boolean;
  anchor: string;
}

const num = (n: number) => {
  const s = Number(n.toFixed(3)).toString();
  return s === '-0' ? '0' : s;
};

export function parseColor(c: AttrValue): [number, number, number] | null {
  if (c === undefined || c === null || c === 'none' || c === 'transparent') return null;
  const s = String(c).trim().toLowerCase();
  if (s === 'white') return [1, 1, 1];
  if (s === 'black') return [0, 0, 0];
  let m = /^#([0-9a-f]{6})$/.exec(s);
  if (m) return [0, 2, 4].map((i) => parseInt(m![1]!.slice(i, i + 2), 16) / 255) as [number, number, number];
  m = /^#([0-9a-f]{3})$/.exec(s);
  if (m) return [0, 1, 2].map((i) => parseInt(m![1]![i]!.repeat(2), 16) / 255) as [number, number, number];
  m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/.exec(s);
  if (m) return [Number(m[1]) / 255, Number(m[2]) / 255, Number(m[3]) / 255];
  return [0, 0, 0];
}

/** Parses translate(), rotate() and scale() lists into one matrix. */
export function parseTransform(t: AttrValue): Matrix {
  let out: Matrix = [1, 0, 0, 1, 0, 0];
  if (typeof t !== 'string') return out;
  for (const [, op, args] of t.matchAll(/(\w+)\s*\(([^)]*)\)/g)) {
    const a = args!.split(/[\s,]+/).filter(Boolean).map(Number);
    let m: Matrix = [1, 0, 0, 1, 0, 0];
    if (op === 'translate') m = [1, 0, 0, 1, a[0] ?? 0, a[1] ?? 0];
    else if (op === 'scale') m = [a[0] ?? 1, 0, 0, a[1] ?? a[0] ?? 1, 0, 0];
    else if (op === 'rotate') {
      const r = ((a[0] ?? 0) * Math.PI) / 180;
      m = [Math.cos(r), Math.sin(r), -Math.sin(r), Math.cos(r), 0, 0];
    }
    out = multiply(out, m);
  }
  return out;
}

/** a then b, as SVG composes `transform="a b"`: the point is mapped by b first. */
function multiply(a: Matrix, b: Matrix): Matrix {
  return [
    a[0] * b[0] + a[2] * b[1],
    a[1] * b[0] + a[3] * b[1],
    a[0] * b[2] + a[2] * b[3],
    a[1] * b[2] + a[3] * b[3],
    a[0] * b[4] + a[2] * b[5] + a[4],
    a[1] * b[4] + a[3] * b[5] + a[5],
  ];
}

/** SVG path data (absolute and relative M L H V C Z) to PDF path operators. */
export function pathToPdf(d: string): string {
  const tokens = d.match(/[MLHVCZmlhvcz]|-?\d*\.?\d+(?:e[-+]?\d+)?/g) ?? [];
  const out: string[] = [];
  let i = 0, cmd = '', x = 0, y = 0, sx = 0, sy = 0;
  const next = () => Number(tokens[i++]);
  while (i < tokens.length) {
    if (/[a-z]/i.test(tokens[i]!)) cmd = tokens[i++]!;
    const rel = cmd === cmd.toLowerCase();
    const ox = rel ? x : 0, oy = rel ? y : 0;
    switch (cmd.toUpperCase()) {
      case 'M':
        x = ox + next(); y = oy + next(); sx = x; sy = y;
        out.push(`${num(x)} ${num(y)} m`);
        cmd = rel ? 'l' : 'L';
        break;
      case 'L':
        x = ox + next(); y = oy + next();
        out.push(`${num(x)} ${num(y)} l`);
        break;
      case 'H':
        x = ox + next();
        out.push(`${num(x)} ${num(y)} l`);
        break;
      case 'V':
        y = oy + next();
        out.push(`${num(x)} ${num(y)} l`);
        break;
      case 'C': {
        const c = [ox + next(), oy + next(), ox + next(), oy + next(), ox + next(), oy + next()];
        x = c[4]!; y = c[5]!;
        out.push(`${c.map(num).join(' ')} c`);
        break;
      }
      case 'Z':
        out.push('h');
        x = sx; y = sy;
        break;
      default:
        i++; // unknown token: skip it
    }
  }
  return out.join(' ');
}

function circlePath(cx: number, cy: number, r: number): string {
  const k = 0.5522847498 * r;
  return [
    `${num(cx + r)} ${num(cy)} m`,
    `${num(cx + r)} ${num(cy + k)} ${num(cx + k)} ${num(cy + r)} ${num(cx)} ${num(cy + r)} c`,
    `${num(cx - k)} ${num(cy + r)} ${num(cx - r)} ${num(cy + k)} ${num(cx - r)} ${num(cy)} c`,
    `${num(cx - r)} ${num(cy - k)} ${num(cx - k)} ${num(cy - r)} ${num(cx)} ${num(cy - r)} c`,
    `${num(cx + k)} ${num(cy - r)} ${num(cx + r)} ${num(cy - k)} ${num(cx + r)} ${num(cy)} c h`,
  ].join(' ');
}

function pdfString(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = winAnsiCode(ch);
    const c = String.fromCharCode(code);
    out += c === '(' || c === ')' || c === '\\' ? `\\${c}` : code > 126 ? `\\${code.toString(8).padStart(3, '0')}` : c;
  }
  return `(${out})`;
}

const n = (v: AttrValue, fallback = 0): number => (v === undefined || v === null || v === '' ? fallback : Number.parseFloat(String(v)));

/** The page content and the opacities it needs (as ExtGState names). */
function contentStream(root: SvgNode, pageHeight: number, scale: number): { ops: string; alphas: Map<string, string> } {
  const ops: string[] = [`${num(scale)} 0 0 ${num(-scale)} 0 ${num(pageHeight)} cm`, '1 J 1 j'];
  const alphas = new Map<string, string>();
  const alphaState = (fa: number, sa: number): string | null => {
    if (fa >= 1 && sa >= 1) return null;
    const key = `${num(fa)} ${num(sa)}`;
    if (!alphas.has(key)) alphas.set(key, `GS${alphas.size}`);
    return alphas.get(key)!;
  };
  const paint = (node: SvgNode, geometry: string) => {
    const a = node.attrs;
    const fill = parseColor(a.fill ?? (node.tag === 'line' ? 'none' : '#000'));
    const stroke = parseColor(a.stroke);
    if (!fill && !stroke) return;
    const opacity = n(a.opacity, 1);
    const gs = alphaState(n(a['fill-opacity'], 1) * opacity, n(a['stroke-opacity'], 1) * opacity);
    ops.push('q');
    if (gs) ops.push(`/${gs} gs`);
    if (fill) ops.push(`${fill.map(num).join(' ')} rg`);
    if (stroke) ops.push(`${stroke.map(num).join(' ')} RG ${num(n(a['stroke-width'], 1))} w`);
    ops.push(geometry, fill && stroke ? 'B' : fill ? 'f' : 'S', 'Q');
  };
  const walk = (node: SvgNode, inh: Inherited) => {
    const a = node.attrs;
    const here: Inherited = {
      fontSize: n(a['font-size'], inh.fontSize),
      fill: a.fill !== undefined && a.fill !== null ? String(a.fill) : inh.fill,
      bold: a['font-weight'] !== undefined ? a['font-weight'] === 'bold' || n(a['font-weight'], 400) >= 600 : inh.bold,
      anchor: a['text-anchor'] !== undefined ? String(a['text-anchor']) : inh.anchor,
    };
    const transformed = a.transform !== undefined && node.tag !== 'svg';
    if (transformed) ops.push(`q ${parseTransform(a.transform).map(num).join(' ')} cm`);
    switch (node.tag) {
      case 'rect':
        paint({ ...node, attrs: { fill: here.fill, ...a } }, `${num(n(a.x))} ${num(n(a.y))} ${num(n(a.width))} ${num(n(a.height))} re`);
        break;
      case 'line':
        paint(node, `${num(n(a.x1))} ${num(n(a.y1))} m ${num(n(a.x2))} ${num(n(a.y2))} l`);
        break;
      case 'path':
        paint({ ...node, attrs: { fill: here.fill, ...a } }, pathToPdf(String(a.d ?? '')));
        break;
      case 'circle':
        paint({ ...node, attrs: { fill: here.fill, ...a } }, circlePath(n(a.cx), n(a.cy), n(a.r)));
        break;
      case 'text': {
        const s = node.text ?? '';
        const color = parseColor(here.fill) ?? [0, 0, 0];
        const w = helveticaWidth(s, here.fontSize, here.bold);
        const x = n(a.x) - (here.anchor === 'middle' ? w / 2 : here.anchor === 'end' ? w : 0);
        ops.push(`q ${color.map(num).join(' ')} rg BT /${here.bold ? 'F2' : 'F1'} ${num(here.fontSize)} Tf 1 0 0 -1 ${num(x)} ${num(n(a.y))} Tm ${pdfString(s)} Tj ET Q`);
        break;
      }
      case 'title':
        break;
      default:
        for (const c of node.children ?? []) walk(c, here);
    }
    if (transformed) ops.push('Q');
  };
  walk(root, { fontSize: 12, fill: '#000000', bold: false, anchor: 'start' });
  return { ops: ops.join('\n'), alphas };
}

/** Page size in points: 'NNpt' as is, plain numbers (px) at 0.75 pt per px, 'NNin' at 72. */
export function pageSize(root: SvgNode): { width: number; height: number; scale: number } {
  const [, , vw = 0, vh = 0] = String(root.attrs.viewBox ?? `0 0 ${root.attrs.width} ${root.attrs.height}`).split(/[\s,]+/).map(Number);
  const toPt = (v: AttrValue, fallback: number) => {
    const s = String(v ?? fallback);
    const x = Number.parseFloat(s);
    return s.endsWith('pt') ? x : s.endsWith('in') ? x * 72 : s.endsWith('mm') ? (x * 72) / 25.4 : x * 0.75;
  };
  const width = toPt(root.attrs.width, vw), height = toPt(root.attrs.height, vh);
  return { width, height, scale: vw ? width / vw : 1 };
}

export function svgToPdf(root: SvgNode, meta: { title?: string } = {}): Uint8Array {
  const { width, height, scale } = pageSize(root);
  const { ops, alphas } = contentStream(root, height, scale);
  const objects: string[] = [];
  const gsStart = 8;
  const gsRefs = [...alphas.entries()].map(([, name], i) => `/${name} ${gsStart + i} 0 R`).join(' ');
  objects.push('<< /Type /Catalog /Pages 2 0 R >>');
  objects.push('<< /Type /Pages /Kids [3 0 R] /Count 1 >>');
  objects.push(
    `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${num(width)} ${num(height)}] /Contents 4 0 R ` +
      `/Resources << /Font << /F1 5 0 R /F2 6 0 R >> /ExtGState << ${gsRefs} >> >> >>`,
  );
  objects.push(`<< /Length ${ops.length} >>\nstream\n${ops}\nendstream`);
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>');
  objects.push(`<< /Producer (Recall) /Title ${pdfString(meta.title ?? String(root.attrs['aria-label'] ?? 'Recall chart'))} >>`);
  for (const [key] of alphas) {
    const [fa, sa] = key.split(' ');
    objects.push(`<< /Type /ExtGState /ca ${fa} /CA ${sa} >>`);
  }
  let body = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) body += `${String(off).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 7 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  // Every character is a byte (WinAnsi codes are escaped as octal in strings; the header's
  // binary-marker bytes are below 256).
  const bytes = new Uint8Array(body.length);
  for (let i = 0; i < body.length; i++) bytes[i] = body.charCodeAt(i) & 0xff;
  return bytes;
}
