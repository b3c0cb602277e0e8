// Hash routing (#/runs, #/run/<id>, #/compare?runs=a,b): works from file://, app:// and the
// bridge alike, and the back button moves between views.

export type ViewId = 'models' | 'new' | 'jobs' | 'runs' | 'run' | 'compare' | 'layers' | 'settings';

export interface Route {
  view: ViewId;
  /** Path segment after the view (a run id). */
  id: string | null;
  query: Record<string, string>;
}

export const NAV: { view: ViewId; label: string; key: string }[] = [
  { view: 'models', label: 'Models', key: '1' },
  { view: 'new', label: 'New experiment', key: '2' },
  { view: 'jobs', label: 'Jobs', key: '3' },
  { view: 'runs', label: 'Runs', key: '4' },
  { view: 'compare', label: 'Compare', key: '5' },
  { view: 'layers', label: 'Layers', key: '6' },
  { view: 'settings', label: 'Settings', key: '7' },
];

const VIEWS = new Set<ViewId>(['models', 'new', 'jobs', 'runs', 'run', 'compare', 'layers', 'settings']);

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', q = ''] = raw.split('?');
  const [view, id] = path.split('/');
  return { view: VIEWS.has(view as ViewId) ? (view as ViewId) : 'models', id: id ? decodeURIComponent(id) : null, query: parseQuery(q) };
}

function parseQuery(q: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of q.split('&').filter(Boolean)) {
    const [k = '', v = ''] = part.split('=');
    out[decodeURIComponent(k)] = decodeURIComponent(v.replace(/\+/g, ' '));
  }
  return out;
}

export function href(view: ViewId, id?: string | null, query?: Record<string, string>): string {
  const entries = Object.entries(query ?? {});
  const q = entries.length ? `?${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}` : '';
  return `#/${view}${id ? `/${encodeURIComponent(id)}` : ''}${q}`;
}

export const router = $state<{ route: Route }>({ route: parseHash(typeof location === 'undefined' ? '' : location.hash) });

export function startRouter(): () => void {
  const update = () => (router.route = parseHash(location.hash));
  window.addEventListener('hashchange', update);
  return () => window.removeEventListener('hashchange', update);
}

export function navigate(view: ViewId, id?: string | null, query?: Record<string, string>): void {
  location.hash = href(view, id, query);
}
