// Text snapshot assertion: compares with a committed file; RECALL_UPDATE_SNAPSHOTS=1 rewrites it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function assertSnapshot(actual: string, file: string): void {
  if (process.env.RECALL_UPDATE_SNAPSHOTS === '1' || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) assert.fail(`snapshot ${file} is missing (run with RECALL_UPDATE_SNAPSHOTS=1 and commit it)`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  const expected = readFileSync(file, 'utf8');
  if (expected === actual) return;
  const a = actual.split('\n'), e = expected.split('\n');
  const diffs: string[] = [];
  for (let i = 0; i < Math.max(a.length, e.length) && diffs.length < 10; i++) {
    if (a[i] !== e[i]) diffs.push(`line ${i + 1}:\n  - ${e[i] ?? '(none)'}\n  + ${a[i] ?? '(none)'}`);
  }
  assert.fail(`snapshot ${file} differs (RECALL_UPDATE_SNAPSHOTS=1 to accept):\n${diffs.join('\n')}`);
}
