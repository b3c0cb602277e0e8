// config.json parsing: transformers' defaults per model_type, rope_scaling, and the errors.
// Expected defaults are those of transformers 4.4x configuration_{llama,mistral,qwen2,opt}.py.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isRecallError, type RecallErrorCode } from '../../main/engine/errors.ts';
import { parseDecoderConfig, readDecoderConfig } from '../../main/engine/models/config.ts';

const LLAMA = { model_type: 'llama', vocab_size: 32000, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4 };
const OPT = { model_type: 'opt', vocab_size: 50272, hidden_size: 64, ffn_dim: 256, num_hidden_layers: 2, num_attention_heads: 4 };

function fails(fn: () => unknown, code: RecallErrorCode, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isRecallError(e, code), `expected ${code}, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

describe('LLaMA family defaults', () => {
  test('llama: kv heads = heads, head_dim = hidden/heads, theta 1e4, untied, no biases, bos 1 eos 2', () => {
    const c = parseDecoderConfig(LLAMA);
    assert.equal(c.family, 'llama');
    assert.deepEqual([c.numKvHeads, c.headDim, c.ropeTheta, c.normEps, c.maxPositions], [4, 16, 10000, 1e-6, 2048]);
    assert.deepEqual([c.tieWordEmbeddings, c.attentionBias, c.outputBias, c.mlpBias], [false, false, false, false]);
    assert.deepEqual([c.bosTokenId, c.eosTokenIds, c.padTokenId, c.activation, c.ropeScaling], [1, [2], null, 'silu', null]);
  });

  test('llama: attention_bias covers q/k/v and o; mlp_bias; explicit head_dim', () => {
    const c = parseDecoderConfig({ ...LLAMA, attention_bias: true, mlp_bias: true, head_dim: 32 });
    assert.deepEqual([c.attentionBias, c.outputBias, c.mlpBias, c.headDim], [true, true, true, 32]);
  });

  test('mistral: kv heads default 8, sliding window 4096', () => {
    const c = parseDecoderConfig({ ...LLAMA, model_type: 'mistral', num_attention_heads: 32, hidden_size: 4096 });
    assert.deepEqual([c.numKvHeads, c.slidingWindow, c.maxPositions], [8, 4096, 131072]);
    assert.equal(parseDecoderConfig({ ...LLAMA, model_type: 'mistral', num_key_value_heads: 2, sliding_window: null }).slidingWindow, null);
  });

  test('qwen2: q/k/v bias but no o_proj bias; sliding window only when use_sliding_window', () => {
    const c = parseDecoderConfig({ ...LLAMA, model_type: 'qwen2', num_key_value_heads: 2, tie_word_embeddings: true, bos_token_id: 151643, eos_token_id: 151645 });
    assert.deepEqual([c.attentionBias, c.outputBias, c.mlpBias, c.tieWordEmbeddings, c.slidingWindow], [true, false, false, true, null]);
    assert.deepEqual([c.bosTokenId, c.eosTokenIds], [151643, [151645]]);
  });

  test('rope_scaling llama3 and linear; rope_type or type', () => {
    const c = parseDecoderConfig({ ...LLAMA, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    assert.equal(c.ropeTheta, 500000);
    assert.deepEqual(c.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    assert.deepEqual(parseDecoderConfig({ ...LLAMA, rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling, { type: 'linear', factor: 2 });
    assert.equal(parseDecoderConfig({ ...LLAMA, rope_scaling: null }).ropeScaling, null);
  });

  test('unsupported rope types name config.json and the field', () => {
    fails(() => parseDecoderConfig({ ...LLAMA, rope_scaling: { type: 'yarn', factor: 4 } }, '/m/config.json'), 'E_CONFIG_ROPE_SCALING', '/m/config.json', "'rope_scaling'", 'yarn');
    fails(() => parseDecoderConfig({ ...LLAMA, rope_scaling: { rope_type: 'dynamic', factor: 2 } }), 'E_CONFIG_ROPE_SCALING', 'dynamic');
    fails(() => parseDecoderConfig({ ...LLAMA, rope_scaling: { rope_type: 'llama3', factor: 8 } }), 'E_CONFIG_FIELD', "missing field 'low_freq_factor'");
  });

  test('eos_token_id may be a list (LLaMA 3)', () => {
    assert.deepEqual(parseDecoderConfig({ ...LLAMA, eos_token_id: [128001, 128009] }).eosTokenIds, [128001, 128009]);
  });
});

describe('OPT defaults', () => {
  test('pre-LN, relu, biases, LayerNorm eps 1e-5, tied, word_embed_proj_dim = hidden, bos/eos 2 pad 1', () => {
    const c = parseDecoderConfig(OPT);
    assert.equal(c.family, 'opt');
    assert.deepEqual([c.doLayerNormBefore, c.activation, c.normEps, c.tieWordEmbeddings, c.wordEmbedProjDim], [true, 'relu', 1e-5, true, 64]);
    assert.deepEqual([c.attentionBias, c.outputBias, c.mlpBias, c.numKvHeads, c.intermediateSize, c.maxPositions], [true, true, true, 4, 256, 2048]);
    assert.deepEqual([c.bosTokenId, c.eosTokenIds, c.padTokenId], [2, [2], 1]);
  });

  test('enable_bias false and opt-350m style fields', () => {
    const c = parseDecoderConfig({ ...OPT, enable_bias: false, do_layer_norm_before: false, word_embed_proj_dim: 32 });
    assert.deepEqual([c.attentionBias, c.mlpBias, c.doLayerNormBefore, c.wordEmbedProjDim], [false, false, false, 32]);
    fails(() => parseDecoderConfig({ ...OPT, _remove_final_layer_norm: true }), 'E_CONFIG_FIELD', '_remove_final_layer_norm');
  });
});

describe('config errors', () => {
  test('unknown model_type lists the supported ones', () => {
    fails(() => parseDecoderConfig({ ...LLAMA, model_type: 'gpt2' }, '/m/config.json'), 'E_CONFIG_MODEL_TYPE', '/m/config.json', "'gpt2'", 'llama, mistral, qwen2, opt');
  });

  test('missing and mistyped fields name the file and the field', () => {
    const { hidden_size: _drop, ...noHidden } = LLAMA;
    fails(() => parseDecoderConfig(noHidden, '/m/config.json'), 'E_CONFIG_FIELD', "/m/config.json: missing field 'hidden_size'");
    const { ffn_dim: _ffn, ...noFfn } = OPT;
    fails(() => parseDecoderConfig(noFfn), 'E_CONFIG_FIELD', "missing field 'ffn_dim'");
    fails(() => parseDecoderConfig({ ...LLAMA, num_hidden_layers: '2' }), 'E_CONFIG_FIELD', "'num_hidden_layers'", 'positive integer');
    fails(() => parseDecoderConfig({ ...LLAMA, num_key_value_heads: 3 }), 'E_CONFIG_FIELD', 'not a multiple');
    fails(() => parseDecoderConfig({ ...LLAMA, hidden_size: 66 }), 'E_CONFIG_FIELD', 'not divisible');
  });

  test('readDecoderConfig: generation_config.json overrides bos/eos; bad JSON and missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recall-config-'));
    try {
      const file = join(dir, 'config.json');
      fails(() => readDecoderConfig(dir), 'E_NOT_FOUND', file);
      writeFileSync(file, JSON.stringify({ ...LLAMA, eos_token_id: 2 }));
      writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: [2, 32007] }));
      assert.deepEqual(readDecoderConfig(dir).eosTokenIds, [2, 32007]);
      writeFileSync(file, '{"model_type": "llama",');
      fails(() => readDecoderConfig(dir), 'E_CONFIG_JSON', file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
