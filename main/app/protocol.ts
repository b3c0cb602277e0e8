// The renderer loads from app://recall/ (a privileged standard scheme served from dist/renderer)
// rather than file://, so 'self' in the CSP means exactly our files and the IPC handler can tell
// our frames from anything else.

import { readFile } from 'node:fs/promises';
import { protocol } from 'electron';
import { contentSecurityPolicy, contentType, resolveStaticPath, securityHeaders } from '../bridge/static-files.ts';

export const APP_SCHEME = 'app';
export const APP_ORIGIN = 'app://recall';

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

export function serveRenderer(rendererDir: string): void {
  const headers = securityHeaders(contentSecurityPolicy());
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === 'recall' ? resolveStaticPath(rendererDir, url.pathname) : null;
    const body = file ? await readFile(file).catch(() => null) : null;
    if (!file || !body) return new Response('not found', { status: 404, headers: { 'Content-Type': 'text/plain' } });
    return new Response(body, { status: 200, headers: { ...headers, 'Content-Type': contentType(file) } });
  });
}

export function isAppUrl(url: string): boolean {
  return url === APP_ORIGIN || url.startsWith(`${APP_ORIGIN}/`);
}
