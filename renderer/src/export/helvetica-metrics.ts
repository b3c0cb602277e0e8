// Advance widths (1/1000 em) of the standard Helvetica and Helvetica-Bold fonts for printable
// ASCII (32..126), from Adobe's core-14 AFM files, so the PDF writer can place centred and
// right-aligned text exactly as a PDF viewer will draw it. Other WinAnsi characters used in
// charts are listed in EXTRA.

// prettier-ignore
const REGULAR = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
  556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
  1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
  667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
  333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
  556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

// prettier-ignore
const BOLD = [
  278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
  556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
  975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
  667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
  333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
  611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/** Non-ASCII characters the charts use, with their WinAnsiEncoding code and width. */
const EXTRA: Record<string, { code: number; width: number }> = {
  '±': { code: 0xb1, width: 584 },
  '×': { code: 0xd7, width: 584 },
  '–': { code: 0x96, width: 556 },
  '—': { code: 0x97, width: 1000 },
  '·': { code: 0xb7, width: 278 },
  '²': { code: 0xb2, width: 333 },
  '→': { code: 0x3f, width: 556 },
  'µ': { code: 0xb5, width: 556 },
};

/** The WinAnsi byte of a character ('?' for anything the standard fonts cannot show). */
export function winAnsiCode(ch: string): number {
  const c = ch.codePointAt(0) ?? 63;
  if (c >= 32 && c <= 126) return c;
  return EXTRA[ch]?.code ?? 63;
}

/** Width of `s` in the chart's units at `fontSize`. */
export function helveticaWidth(s: string, fontSize: number, bold = false): number {
  const table = bold ? BOLD : REGULAR;
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 63;
    w += c >= 32 && c <= 126 ? table[c - 32]! : (EXTRA[ch]?.width ?? 556);
  }
  return (w / 1000) * fontSize;
}
