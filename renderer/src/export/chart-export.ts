// Exporting a chart: the chart function is called again at a publication size with the
// publication palette (white, black text, Helvetica), then written as SVG, PNG or PDF.

import { svgFile, type SvgNode } from '../charts/svg-model.ts';
import { PUBLICATION, PUBLICATION_SIZES, type ChartOptions, type PublicationSize } from '../charts/theme.ts';
import { downloadBytes, fileSlug } from './download.ts';
import { svgToPdf } from './pdf.ts';
import { rasterizeSvg } from './png.ts';

export type ChartFormat = 'svg' | 'png' | 'pdf';
export const PNG_DPIS = [150, 300, 600] as const;

export type ChartRenderer = (o: ChartOptions) => SvgNode;

export function publicationChart(render: ChartRenderer, size: PublicationSize): SvgNode {
  const { width, height, fontSize, unit } = PUBLICATION_SIZES[size];
  return render({ size: { width, height, fontSize, unit }, palette: PUBLICATION });
}

export async function exportChart(render: ChartRenderer, title: string, format: ChartFormat, size: PublicationSize, dpi = 300): Promise<void> {
  const node = publicationChart(render, size);
  const name = `${fileSlug(title)}-${size}`;
  if (format === 'svg') downloadBytes(`${name}.svg`, svgFile(node), 'image/svg+xml');
  else if (format === 'pdf') downloadBytes(`${name}.pdf`, svgToPdf(node, { title }) as Uint8Array<ArrayBuffer>, 'application/pdf');
  else {
    const { width, height } = PUBLICATION_SIZES[size];
    const png = await rasterizeSvg(svgFile(node), Math.round((width / 72) * dpi), Math.round((height / 72) * dpi), dpi);
    downloadBytes(`${name}-${dpi}dpi.png`, png as Uint8Array<ArrayBuffer>, 'image/png');
  }
}
