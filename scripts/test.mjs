// `npm test`: typecheck, lint, then every test file under test/ through node's test runner
// (with tsx), which prints the closing summary. Extra args are passed to node --test,
// e.g. `npm test -- --test-name-pattern=softmax`; RECALL_TEST_FILES=a,b limits the files.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args, label) => {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  console.log(`# ${label}: ${r.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r.status ?? 1;
};

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') return [];
    if (statSync(p).isDirectory()) return findTests(p);
    return /\.test\.ts$/.test(name) ? [relative(root, p)] : [];
  });
}

const only = process.env.RECALL_TEST_FILES?.split(',').filter(Boolean);
const skipStatic = process.env.RECALL_TEST_FAST === '1';
let failed = 0;
if (!skipStatic) {
  failed += run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit'], 'typecheck') ? 1 : 0;
  failed += run(process.execPath, ['node_modules/svelte-check/bin/svelte-check', '--tsconfig', 'renderer/tsconfig.json', '--fail-on-warnings', '--output', 'human'], 'typecheck renderer') ? 1 : 0;
  failed += run(process.execPath, ['node_modules/eslint/bin/eslint.js', '.'], 'lint') ? 1 : 0;
}
const files = (only ?? findTests(join(root, 'test'))).sort();
const status = run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...process.argv.slice(2), ...files], `tests (${files.length} files)`);
process.exit(failed || status ? 1 : 0);
