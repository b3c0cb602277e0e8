// Where the queue lives: a Redis URL (redis:// or rediss:// for TLS) turned into ioredis options
// for BullMQ, the queue names, and the channel cancel requests travel on. The password may come
// from the URL, from RECALL_REDIS_PASSWORD, or from a file (so it stays out of `ps` output);
// TLS may name a CA file for a private certificate authority.

import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import { RecallError } from '../errors.ts';

export interface RedisTarget {
  url: string;
  /** A file holding the password (first line); wins over the URL and RECALL_REDIS_PASSWORD. */
  passwordFile?: string;
  /** PEM file of the CA that signed the server's certificate (rediss:// only). */
  caFile?: string;
  /** Queue name prefix (default 'recall'); two prefixes on one Redis never see each other's jobs. */
  prefix?: string;
}

export const STEP_QUEUE = 'recall-steps';
export const RELEASE_QUEUE = 'recall-release';
export const cancelChannel = (prefix: string) => `${prefix}:recall:cancel`;
export const cancelKey = (prefix: string, jobId: string) => `${prefix}:recall:cancelled:${jobId}`;

export function redisOptions(t: RedisTarget): RedisOptions {
  let u: URL;
  try {
    u = new URL(t.url);
  } catch {
    throw new RecallError('E_INVALID_ARGUMENT', `redis: '${t.url}' is not a URL (expected redis://[:password@]host:port[/db] or rediss://...)`, { field: 'redis' });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RecallError('E_INVALID_ARGUMENT', `redis: unsupported scheme '${u.protocol}' (redis: or rediss:)`, { field: 'redis' });
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) throw new RecallError('E_INVALID_ARGUMENT', `redis: database '${db}' is not a number`, { field: 'redis' });
  const password = t.passwordFile ? readFileSync(t.passwordFile, 'utf8').split('\n')[0]! : decodeURIComponent(u.password) || process.env.RECALL_REDIS_PASSWORD || undefined;
  const tls = u.protocol === 'rediss:' ? { servername: u.hostname, ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}) } : undefined;
  return {
    host: u.hostname || '127.0.0.1', port: Number(u.port || 6379), ...(db ? { db: Number(db) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}), ...(password ? { password } : {}), ...(tls ? { tls } : {}),
    // BullMQ's blocking connections need this; commands wait for a reconnect instead of failing.
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(250 * attempt, 2000),
  };
}

/** The same options as BullMQ's connection type (its RedisOptions mirrors ioredis' loosely). */
export const bullConnection = (t: RedisTarget): ConnectionOptions => redisOptions(t) as ConnectionOptions;

/** The URL without its password, for messages. */
export function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
