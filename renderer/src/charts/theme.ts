// Chart colours and sizes. A chart takes concrete colours (no CSS variables) so the same SVG
// works inline, as a file and in a PDF; the app passes the palette of the current theme, the
// exporters always the publication one (light, white background).

export interface ChartPalette {
  background: string | null;
  text: string;
  muted: string;
  grid: string;
  axis: string;
  /** Categorical series colours (Okabe–Ito, safe for colour-blind readers). */
  series: readonly string[];
  /** Sequential ramp for heatmaps, low to high. */
  ramp: readonly [string, string, string];
}

const OKABE_ITO = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

export const LIGHT: ChartPalette = {
  background: null,
  text: '#161a20',
  muted: '#5a6472',
  grid: '#e6e8ec',
  axis: '#8a93a0',
  series: OKABE_ITO,
  ramp: ['#f7fbff', '#6baed6', '#08306b'],
};

export const DARK: ChartPalette = {
  background: null,
  text: '#e5e8ed',
  muted: '#9ba4b1',
  grid: '#262c36',
  axis: '#6e7785',
  series: ['#56B4E9', '#F28E5B', '#3CC49A', '#E69AC8', '#F0B94A', '#9ecae1', '#e5e8ed', '#F0E442'],
  ramp: ['#0e1a2b', '#2f6fa8', '#c6e2ff'],
};

export const PUBLICATION: ChartPalette = { ...LIGHT, background: '#ffffff', text: '#000000', muted: '#333333', grid: '#e5e5e5', axis: '#555555' };

export interface ChartSize {
  width: number;
  height: number;
  /** Base font size in the chart's units. */
  fontSize: number;
  /** 'pt' for publication files (1 unit = 1 pt), '' for screen pixels. */
  unit: '' | 'pt';
}

export const SCREEN = (width: number, height: number): ChartSize => ({ width, height, fontSize: 13, unit: '' });

/** Publication sizes (points): a single column and a full text width of a two-column paper. */
export const PUBLICATION_SIZES = {
  column: { label: 'Single column (3.5 in)', width: 252, height: 180, fontSize: 8, unit: 'pt' },
  wide: { label: 'Full width (7 in)', width: 504, height: 216, fontSize: 8, unit: 'pt' },
  slide: { label: 'Slide (10 in)', width: 720, height: 405, fontSize: 12, unit: 'pt' },
} as const satisfies Record<string, ChartSize & { label: string }>;

export type PublicationSize = keyof typeof PUBLICATION_SIZES;

export interface ChartOptions {
  size: ChartSize;
  palette: ChartPalette;
}

export function seriesColor(palette: ChartPalette, i: number): string {
  return palette.series[i % palette.series.length]!;
}
