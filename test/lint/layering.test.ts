// Proves the layering lint rules fire: each case lints a snippet as if it lived at a path
// in the tree and expects (or not) a no-restricted-imports error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function restrictedImports(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const cases: [string, string, string, boolean][] = [
  ['engine importing electron', "import { app } from 'electron';\nexport const a = app;\n", 'main/engine/onnx/x.ts', true],
  ['engine importing ipc', "import { x } from '../../ipc/handlers.ts';\nexport const a = x;\n", 'main/engine/models/x.ts', true],
  ['engine importing the renderer', "import { x } from '../../../renderer/src/x.ts';\nexport const a = x;\n", 'main/engine/eval/x.ts', true],
  ['onnxruntime-node outside runtime/', "import * as ort from 'onnxruntime-node';\nexport const a = ort;\n", 'main/engine/models/x.ts', true],
  ['onnxruntime-node inside runtime/', "import * as ort from 'onnxruntime-node';\nexport const a = ort;\n", 'main/engine/runtime/x.ts', false],
  ['better-sqlite3 outside store/', "import Database from 'better-sqlite3';\nexport const a = Database;\n", 'main/engine/jobs/x.ts', true],
  ['better-sqlite3 in the CLI', "import Database from 'better-sqlite3';\nexport const a = Database;\n", 'main/cli/x.ts', true],
  ['better-sqlite3 inside store/', "import Database from 'better-sqlite3';\nexport const a = Database;\n", 'main/engine/store/x.ts', false],
  ['renderer importing the engine', "import { x } from '../../main/engine/api.ts';\nexport const a = x;\n", 'renderer/src/x.ts', true],
  ['renderer importing the contract', "import type { x } from '../../main/contract/index.ts';\nexport type A = x;\n", 'renderer/src/x.ts', false],
  ['engine importing the contract', "import type { x } from '../contract/index.ts';\nexport type A = x;\n", 'main/engine/x.ts', false],
];

for (const [label, code, path, shouldFail] of cases) {
  test(`layering: ${label} ${shouldFail ? 'is rejected' : 'is allowed'}`, async () => {
    const errors = await restrictedImports(code, path);
    if (shouldFail) assert.ok(errors.length > 0, `expected a layering error for ${path}`);
    else assert.deepEqual(errors, []);
  });
}

test('layering: a violation in a .svelte file of the renderer is rejected', async () => {
  const code = "<script lang=\"ts\">\n  import { createApi } from '../../main/engine/api.ts';\n  const api = createApi;\n</script>\n<p>{api}</p>\n";
  const errors = await restrictedImports(code, 'renderer/src/App.svelte');
  assert.ok(errors.length > 0, 'expected a layering error in a Svelte component');
});
