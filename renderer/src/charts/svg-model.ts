// Charts are pure functions from data to an SVG model: a small tree of elements whose
// attributes are already numbers and strings. Svelte renders the model's string (the chart
// owns no DOM); the exporters turn the same tree into a standalone SVG file, a PDF page
// (export/pdf.ts) or a PNG (via the browser's canvas). Numbers are rounded when serialized,
// so snapshots stay readable and stable.

export type AttrValue = string | number | undefined | null;

export interface SvgNode {
  tag: 'svg' | 'g' | 'rect' | 'line' | 'path' | 'circle' | 'text' | 'title';
  attrs: Record<string, AttrValue>;
  children?: SvgNode[];
  /** Text content (text and title elements). */
  text?: string;
}

export function el(tag: SvgNode['tag'], attrs: Record<string, AttrValue> = {}, children?: SvgNode[]): SvgNode {
  return children ? { tag, attrs, children } : { tag, attrs };
}

export function text(attrs: Record<string, AttrValue>, content: string): SvgNode {
  return { tag: 'text', attrs, text: content };
}

/** Rounds to `digits` decimals and drops trailing zeros ("-0" becomes "0"). */
export function fmtNum(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return '0';
  const s = Number(n.toFixed(digits)).toString();
  return s === '-0' ? '0' : s;
}

/** Rounds every number inside a path or transform string. */
export function roundNumbers(s: string, digits = 2): string {
  return s.replace(/-?\d*\.?\d+(?:e[-+]?\d+)?/gi, (m) => fmtNum(Number(m), digits));
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function attrString(attrs: Record<string, AttrValue>): string {
  let out = '';
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    const value = typeof v === 'number' ? fmtNum(v) : k === 'd' || k === 'transform' || k === 'viewBox' ? roundNumbers(v) : v;
    out += ` ${k}="${escapeXml(value)}"`;
  }
  return out;
}

/** Serializes the model; `pretty` puts one element per line (snapshots), else compact (DOM, files). */
export function renderSvg(node: SvgNode, pretty = false): string {
  const lines: string[] = [];
  const walk = (n: SvgNode, depth: number) => {
    const pad = pretty ? '  '.repeat(depth) : '';
    const open = `${pad}<${n.tag}${attrString(n.attrs)}`;
    if (n.text !== undefined) lines.push(`${open}>${escapeXml(n.text)}</${n.tag}>`);
    else if (!n.children?.length) lines.push(`${open}/>`);
    else {
      lines.push(`${open}>`);
      for (const c of n.children) walk(c, depth + 1);
      lines.push(`${pad}</${n.tag}>`);
    }
  };
  walk(node, 0);
  return lines.join(pretty ? '\n' : '') + (pretty ? '\n' : '');
}

/** A standalone SVG file: XML declaration and the namespace. */
export function svgFile(node: SvgNode): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${renderSvg(node, true)}`;
}

/** The root <svg> of a chart: width x height user units, in px on screen or pt for publication. */
export function svgRoot(width: number, height: number, fontSize: number, background: string | null, children: SvgNode[], label: string, unit = ''): SvgNode {
  return el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      width: unit ? `${fmtNum(width)}${unit}` : width,
      height: unit ? `${fmtNum(height)}${unit}` : height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': label,
      'font-family': FONT_FAMILY,
      'font-size': fontSize,
    },
    [el('title', {}, undefined), ...(background ? [el('rect', { x: 0, y: 0, width, height, fill: background })] : []), ...children].map((c) =>
      c.tag === 'title' ? { tag: 'title', attrs: {}, text: label } : c,
    ),
  );
}

/** One family everywhere: Helvetica in the PDF (a standard font), its metric twins on screen. */
export const FONT_FAMILY = 'Helvetica, Arial, "Liberation Sans", sans-serif';
