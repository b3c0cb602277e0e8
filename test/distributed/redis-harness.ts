// A real Redis for the distributed tests: redis-server on a free loopback port, AOF on, its
// files in a temporary folder, stopped (and the folder removed) after the test. Restartable on
// the same port and folder, as a host restart would. A missing redis-server fails the test with
// how to install it; nothing is skipped.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function redisServerPath(): string {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (existsSync(p)) return p;
  try {
    return execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('redis-server is not installed: the distributed tests need it (apt-get install redis-server; CI installs it in .ci/run)');
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** Graceful stop (SIGTERM: Redis flushes its AOF), then a start on the same port and folder. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function waitForPing(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  const { Redis } = await import('ioredis');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}): ${log()}`);
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s: ${log()}`);
    } finally {
      c.disconnect();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRedis(t: { after: (fn: () => Promise<void>) => void }): Promise<TestRedis> {
  const bin = redisServerPath();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'recall-redis-'));
  let proc: ChildProcess;
  let out = '';
  const launch = async () => {
    proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-4000); });
    proc.stderr!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-4000); });
    await waitForPing(port, proc, () => out);
  };
  const halt = () => new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
  await launch();
  const r: TestRedis = {
    url: `redis://127.0.0.1:${port}`, port, dir,
    async restart(downMs = 1000) {
      await halt();
      await new Promise((res) => setTimeout(res, downMs));
      await launch();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  t.after(() => r.stop());
  return r;
}
