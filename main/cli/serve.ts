// `recall serve`: the engine behind the loopback bridge (browser mode): the built renderer and
// the API's WebSocket, on 127.0.0.1 with a random token. A non-loopback --host is refused unless
// --allow-remote says so (whoever holds the token drives the engine).
import { startBridge } from '../bridge/server.ts';
import { isLoopbackHost } from '../bridge/loopback.ts';
import { createApi } from '../engine/api.ts';
import { UsageError, optionalInt, parseFlags } from './args.ts';
import type { Output } from './output.ts';
import { fromPackageRoot } from '../engine/package-root.ts';

export async function serveCommand(argv: string[], out: Output): Promise<number> {
  const p = parseFlags(argv, {
    port: { type: 'string' }, host: { type: 'string' }, home: { type: 'string' }, 'allow-remote': { type: 'boolean' }, 'static-dir': { type: 'string' },
  }, 'serve');
  const host = (p.flags.host as string | undefined) ?? '127.0.0.1';
  const allowRemote = Boolean(p.flags['allow-remote']);
  if (!allowRemote && !isLoopbackHost(host)) throw new UsageError(`serve: refusing to listen on non-loopback host '${host}' (anyone who can reach it and has the token drives the engine); add --allow-remote to do it anyway`);
  const port = optionalInt(p, 'port', 'serve', 0) ?? 0;
  const api = createApi(typeof p.flags.home === 'string' ? { home: p.flags.home } : {});
  const staticDir = (p.flags['static-dir'] as string | undefined) ?? fromPackageRoot('dist', 'renderer');
  const bridge = await startBridge({ api, staticDir, port, host, allowRemote }).catch(async (e: unknown) => { await api.close(); throw e; });
  out.line(`Recall is serving on ${bridge.url}`);
  out.line('Press Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await bridge.close();
  await api.close();
  return 0;
}
