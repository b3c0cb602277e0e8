// The contract's invariants that types alone cannot hold.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { EXECUTION_PROVIDERS as CONTRACT_PROVIDERS, ERROR_CODES, EVENT_NAMES, METHOD_NAMES, fail, failFromError, ApiError } from '../../main/contract/index.ts';
import { RecallError } from '../../main/engine/errors.ts';
import { EXECUTION_PROVIDERS as ENGINE_PROVIDERS } from '../../main/engine/runtime/providers.ts';

test('contract: its provider list equals the engine runtime\'s', () => {
  assert.deepEqual([...CONTRACT_PROVIDERS], [...ENGINE_PROVIDERS]);
});

test('contract: methods are named domain.verb and events domain.noun', () => {
  for (const name of [...METHOD_NAMES, ...EVENT_NAMES]) assert.match(name, /^[a-z]+\.[a-z][A-Za-z]*$/, name);
});

test('contract: error codes are unique and E_-prefixed', () => {
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  for (const code of ERROR_CODES) assert.match(code, /^E_[A-Z_]+$/);
});

test('contract: thrown errors become envelopes; uncoded errors are E_INTERNAL', () => {
  assert.deepEqual(failFromError(new ApiError('E_NOT_FOUND', "model 'x' not found", { id: 'x' })), fail('E_NOT_FOUND', "model 'x' not found", { id: 'x' }));
  const internal = failFromError(new TypeError('boom'));
  assert.equal(!internal.ok && internal.error.code, 'E_INTERNAL');
  assert.equal(!internal.ok && internal.error.message, 'internal error: boom');
});

test('contract: the files the renderer and preload import values from stay free of zod', () => {
  for (const file of ['errors.ts', 'execution.ts', 'host.ts']) {
    const text = readFileSync(new URL(`../../main/contract/${file}`, import.meta.url), 'utf8');
    const valueImports = text.split('\n').filter((l) => /^import\s/.test(l) && !/^import type\s/.test(l));
    assert.deepEqual(valueImports, [], `${file} must import types only`);
  }
});

test('contract: the engine\'s coded errors keep their code and details across the boundary', () => {
  const engineError = new RecallError('E_SAFETENSORS_HEADER', 'model.safetensors: header is not JSON', { file: 'model.safetensors' });
  assert.deepEqual(failFromError(engineError), fail('E_SAFETENSORS_HEADER', 'model.safetensors: header is not JSON', { file: 'model.safetensors' }));
  const nodeError = Object.assign(new Error('no such file'), { code: 'ENOENT' });
  assert.equal(!failFromError(nodeError).ok && (failFromError(nodeError) as { error: { code: string } }).error.code, 'E_INTERNAL');
});
