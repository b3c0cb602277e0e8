// Lint rules, chiefly the layering of ../docs/ARCHITECTURE.md, enforced rather than hoped for:
// - the engine imports neither electron nor ipc/app/bridge/cli/renderer code;
// - the renderer imports only main/contract from main;
// - only main/engine/runtime/ imports onnxruntime-node; only main/engine/store/ imports better-sqlite3.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

const ORT = { name: 'onnxruntime-node', message: 'Only main/engine/runtime/ may import onnxruntime-node.' };
const SQLITE = { name: 'better-sqlite3', message: 'Only main/engine/store/ may import better-sqlite3.' };
const ELECTRON = { name: 'electron', message: 'The engine is a plain Node library: no electron.' };
const ENGINE_OUTWARD = {
  group: ['**/ipc', '**/ipc/**', '**/app', '**/app/**', '**/bridge', '**/bridge/**', '**/cli', '**/cli/**', '**/renderer/**'],
  message: 'The engine must not import its adapters (ipc, app, bridge, cli) or the renderer.',
};
const RENDERER_MAIN = {
  group: ['**/main/**', '!**/main/contract', '!**/main/contract/**'],
  message: 'The renderer imports only main/contract from main.',
};

const restrict = (paths, patterns = []) => ['error', { paths, patterns }];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'dist-electron/', 'release/', '.tmp/', 'test-results/', 'native-models/**/*.py', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-restricted-imports': restrict([ORT, SQLITE]),
    },
  },
  { files: ['**/*.svelte', '**/*.svelte.ts'], languageOptions: { parserOptions: { parser: tseslint.parser } } },
  { files: ['main/engine/**'], rules: { 'no-restricted-imports': restrict([ORT, SQLITE, ELECTRON], [ENGINE_OUTWARD]) } },
  { files: ['main/engine/runtime/**'], rules: { 'no-restricted-imports': restrict([SQLITE, ELECTRON], [ENGINE_OUTWARD]) } },
  { files: ['main/engine/store/**'], rules: { 'no-restricted-imports': restrict([ORT, ELECTRON], [ENGINE_OUTWARD]) } },
  {
    files: ['renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'no-restricted-imports': restrict([ORT, SQLITE, ELECTRON], [RENDERER_MAIN]) },
  },
);
