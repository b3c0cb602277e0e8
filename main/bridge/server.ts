// The loopback bridge: one HTTP server that serves the built renderer and upgrades /ws to a
// WebSocket speaking main/contract/wire.ts. Browser mode and the browser e2e tests use it; the
// Electron app does not (it uses IPC). Every request needs the random token: `?token=` on the
// page URL (which then sets a per-port HttpOnly cookie for the page's assets) and on the socket.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { stat, readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { BRIDGE_SOCKET_PATH, ApiError } from '../contract/index.ts';
import type { Api } from '../engine/api.ts';
import { formatHostPort, hostHeaderName, isLoopbackHost } from './loopback.ts';
import { broadcastEvents, serveSocket } from './socket.ts';
import { contentSecurityPolicy, contentType, resolveStaticPath, securityHeaders } from './static-files.ts';
import { createToken, readCookie, tokenMatches } from './token.ts';

export interface BridgeOptions {
  api: Api;
  /** Folder of the built renderer (dist/renderer). */
  staticDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. A non-loopback host is refused unless allowRemote. */
  host?: string;
  allowRemote?: boolean;
  /** Default: a fresh random token. */
  token?: string;
}

export interface Bridge {
  /** The page URL, token included. */
  url: string;
  origin: string;
  host: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const { api, staticDir, port = 0, host = '127.0.0.1', allowRemote = false } = options;
  if (!allowRemote && !isLoopbackHost(host)) {
    throw new ApiError('E_BAD_ARGUMENT', `host: refusing to listen on non-loopback host '${host}' (pass allowRemote: true to allow it)`);
  }
  const token = options.token ?? createToken();
  const clients = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let actualPort = port;
  const cookieName = () => `recall_token_${actualPort}`;
  const csp = () => contentSecurityPolicy([`ws://${formatHostPort(host, actualPort)}`]);

  const hostAllowed = (req: IncomingMessage): boolean => {
    if (allowRemote) return true;
    const name = hostHeaderName(req.headers.host);
    return name !== null && isLoopbackHost(name);
  };
  const authorised = (req: IncomingMessage, url: URL): boolean =>
    tokenMatches(token, url.searchParams.get('token')) || tokenMatches(token, readCookie(req.headers.cookie, cookieName()));

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      if (!res.headersSent) plain(res, 500, `internal error: ${String(err)}`);
      else res.destroy();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bridge');
    if (!hostAllowed(req)) return plain(res, 403, 'Recall: requests must be addressed to a loopback host.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Recall: method not allowed.');
    if (!authorised(req, url)) return plain(res, 401, 'Recall: missing or wrong token. Open the URL that `npm start` printed.');
    const file = resolveStaticPath(staticDir, url.pathname);
    if (!file) return plain(res, 404, 'Recall: not found.');
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) {
      if (url.pathname === '/' || url.pathname === '/index.html') {
        return plain(res, 503, `Recall: the renderer is not built (no ${file}). Run \`npm run build:renderer\`.`);
      }
      return plain(res, 404, 'Recall: not found.');
    }
    const body = await readFile(file);
    const headers: Record<string, string> = {
      ...securityHeaders(csp()),
      'Content-Type': contentType(file),
      'Content-Length': String(body.length),
      'Cache-Control': file.endsWith('.html') ? 'no-store' : 'no-cache',
    };
    if (url.searchParams.has('token')) {
      headers['Set-Cookie'] = `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://bridge');
    const origin = req.headers.origin;
    const sameOrigin = origin === undefined || origin === `http://${req.headers.host}`;
    if (url.pathname !== BRIDGE_SOCKET_PATH || !hostAllowed(req) || !sameOrigin || !tokenMatches(token, url.searchParams.get('token'))) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      serveSocket(api, ws);
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address();
  actualPort = typeof address === 'object' && address ? address.port : port;
  const stopEvents = broadcastEvents(api, clients);
  const origin = `http://${formatHostPort(host, actualPort)}`;

  return {
    url: `${origin}/?token=${token}`,
    origin,
    host,
    port: actualPort,
    token,
    async close() {
      stopEvents();
      for (const ws of clients) ws.close(1001, 'bridge closing');
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
  res.end(text);
}
