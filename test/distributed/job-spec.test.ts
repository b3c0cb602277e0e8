// What a worker accepts: job specs parsed by zod (unknown fields, other kinds and malformed
// configs refused), artifact keys that stay inside their namespace, Redis URLs with a password
// and TLS.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SharedDirStore } from '../../main/engine/distributed/artifact-store.ts';
import { redisOptions } from '../../main/engine/distributed/connection.ts';
import { releaseJobSchema, STEP_FORMAT, stepJobSchema } from '../../main/engine/distributed/job-spec.ts';

const sha = 'a'.repeat(64);
const evalRun = {
  id: 3, kind: 'eval', name: 'eval dense', fingerprint: 'f'.repeat(64), seed: 1234, parents: [],
  config: { tasks: ['demo_mc'], limit: 10, shots: 0, maxGenTokens: null, data: { demo_mc: sha }, paths: { dataDirs: [] } },
};
const job = {
  format: STEP_FORMAT, ns: 'ns-0123456789abcdef', experimentId: 8, runId: 3, lineage: [evalRun],
  model: { fingerprint: 'm'.repeat(64), name: 'demo', architecture: 'llama', sourcePath: '/models/demo', info: {} },
};

test('a step job parses; extra fields, other kinds, bad configs and a foreign lineage are refused', () => {
  assert.equal(stepJobSchema.safeParse(job).success, true);
  const refused = (j: unknown, why: string) => assert.equal(stepJobSchema.safeParse(j).success, false, why);
  refused({ ...job, script: 'process.exit(1)' }, 'unknown top-level field');
  refused({ ...job, lineage: [{ ...evalRun, kind: 'shell' }] }, 'unknown kind');
  refused({ ...job, lineage: [{ ...evalRun, config: { ...evalRun.config, hook: 'x' } }] }, 'unknown config field');
  refused({ ...job, lineage: [{ ...evalRun, config: { ...evalRun.config, limit: -1 } }] }, 'negative limit');
  refused({ ...job, runId: 4 }, 'lineage[0] is not the run');
  refused({ ...job, ns: '../etc' }, 'namespace with a path');
  refused({ ...job, ep: 'rocm-custom' }, 'unknown execution provider');
  assert.equal(releaseJobSchema.safeParse({ format: 'recall-release/1', ns: job.ns, runId: 1, policy: { attempts: 3, backoffMs: 10 }, dependents: [{ step: job, dependents: [] }] }).success, true);
});

test('shared storage refuses keys that leave the namespace and hashes that do not match', async () => {
  const root = mkdtempSync(join(tmpdir(), 'recall-shared-'));
  try {
    const s = new SharedDirStore(root);
    const put = await s.putBytes('ns-test', 'results/a.json', Buffer.from('{}'));
    assert.deepEqual(await s.getBytes('ns-test', put.key, put.sha256), Buffer.from('{}'));
    await assert.rejects(s.getBytes('ns-test', put.key, sha), /does not match its sha256/);
    await assert.rejects(s.putBytes('ns-test', '../escape', Buffer.from('x')), /leaves the namespace/);
    await assert.rejects(s.putBytes('ns-test', '/etc/passwd', Buffer.from('x')), /leaves the namespace/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Redis URLs: password from the URL or a file, TLS with a CA for rediss://, bad schemes refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recall-redis-url-'));
  try {
    assert.equal(redisOptions({ url: 'redis://:s3cret@10.0.0.5:6380/2' }).password, 's3cret');
    assert.deepEqual([redisOptions({ url: 'redis://10.0.0.5:6380/2' }).port, redisOptions({ url: 'redis://10.0.0.5:6380/2' }).db], [6380, 2]);
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    writeFileSync(join(dir, 'ca.pem'), 'PEM');
    const o = redisOptions({ url: 'rediss://user:url-pw@redis.example:6379', passwordFile: join(dir, 'pw'), caFile: join(dir, 'ca.pem') });
    assert.equal(o.password, 'from-file');
    assert.equal(o.username, 'user');
    assert.equal((o.tls as { servername: string }).servername, 'redis.example');
    assert.equal(String((o.tls as { ca: Buffer }).ca), 'PEM');
    assert.throws(() => redisOptions({ url: 'http://x' }), /unsupported scheme/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
