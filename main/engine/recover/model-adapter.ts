// An adapter applied to a loaded base (LanguageModel.load's `adapter` option), unmerged:
//   LoRA    graph edit: a LoRA branch on each target module (METHODS.md 2: runs unmerged)
//   prompt  the soft prompt's KV, computed once at load (by a transient soft-prompt graph, so
//           the serving graph is the plain one), is the prefix of every sequence
//           (exact: a causal prompt's KV does not depend on the tokens after it)
//   prefix  the prefix key/values are the past of every sequence
//   IDP     every prompt's KV computed once; per sequence, the selector picks one prompt from
//           the input's attention at selLayer and the sequence runs after that prompt's KV only
// Sequences after a prompt or prefix take positions n.., as PEFT runs them.
import type { GraphOptions } from '../models/graph-options.ts';
import type { ModelAdapter } from '../models/language-model.ts';
import { buildModelGraph } from '../models/build-graph.ts';
import type { ModelFolder } from '../models/folder.ts';
import { ModelRunner, type Past } from '../models/runner.ts';
import { float32 } from '../runtime/tensors.ts';
import type { SessionOptions } from '../runtime/session.ts';
import type { Adapter } from './adapter.ts';
import { checkAdapterFits } from './adapter-fit.ts';
import { IdpSelector, pickPrompt } from './idp-selector.ts';
import { readAdapter } from './peft-format.ts';
import { rowsToPast } from './prefix-kv.ts';

/** IDP's choice for one scored sequence (recorded per example). */
export interface IdpChoice { tokens: number; prompt: number; scores: number[] }

export interface AdapterRuntime extends ModelAdapter {
  readonly adapter: Adapter;
  readonly dir: string;
  /** IDP: the prompt chosen for each sequence run so far, in order. */
  readonly choices: IdpChoice[];
}

/** Read an adapter folder and make it loadable onto a base. */
export function openAdapter(dir: string, o: SessionOptions = {}): AdapterRuntime {
  return adapterRuntime(readAdapter(dir), dir, o);
}

/** The KV of each soft prompt (rows of `embeds`, n each), from a transient soft-prompt graph of the base. */
export async function promptPasts(folder: ModelFolder, embeds: Float32Array, count: number, n: number, o: SessionOptions): Promise<Past[]> {
  const runner = await ModelRunner.create(buildModelGraph(folder.config, folder.weights, { softPrompt: true, pastKeyValues: true, logits: 'last' }), folder.config, o);
  try {
    const size = n * folder.config.wordEmbedProjDim, out: Past[] = [];
    for (let i = 0; i < count; i++) out.push(await runner.promptPast(embeds.subarray(i * size, (i + 1) * size), n));
    return out;
  } finally {
    await runner.release();
  }
}

export function adapterRuntime(adapter: Adapter, dir: string, o: SessionOptions = {}): AdapterRuntime {
  const choices: IdpChoice[] = [];
  let selector: IdpSelector | undefined;
  let pool: Past[] = [];
  return {
    adapter, dir, choices,
    async prepare(folder): Promise<GraphOptions> {
      checkAdapterFits(adapter, folder.config, dir);
      switch (adapter.method) {
        case 'lora': return { lora: { targets: adapter.targets, rank: adapter.rank, alpha: adapter.alpha, weights: adapter.weights } };
        case 'prompt':
          pool = await promptPasts(folder, adapter.embeddings, 1, adapter.numVirtualTokens, o);
          return {};
        case 'prefix': return {};
        case 'idp':
          pool = await promptPasts(folder, adapter.pool, adapter.numPrompts, adapter.numVirtualTokens, o);
          selector = await IdpSelector.create(folder.config, folder.weights, adapter.selLayer, o);
          return {};
      }
    },
    async attach(runner, config) {
      switch (adapter.method) {
        case 'lora': return;
        case 'prompt': {
          const past = pool[0]!;
          runner.setSequencePrefix(() => Promise.resolve(past));
          return;
        }
        case 'prefix': {
          const n = adapter.numVirtualTokens;
          const kv = rowsToPast(adapter.kv, { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, n });
          const dims = [1, config.numKvHeads, n, config.headDim];
          const L = config.numLayers;
          const past: Past = {
            keys: Array.from({ length: L }, (_, l) => float32(dims, kv.get(`past_key_values.${l}.key`)!)),
            values: Array.from({ length: L }, (_, l) => float32(dims, kv.get(`past_key_values.${l}.value`)!)),
            length: n,
          };
          runner.setSequencePrefix(() => Promise.resolve(past));
          return;
        }
        case 'idp': {
          runner.setSequencePrefix(async (ids) => {
            const [scores] = await selector!.scores([ids], pool);
            const prompt = pickPrompt(scores!);
            choices.push({ tokens: ids.length, prompt, scores: scores! });
            return pool[prompt]!;
          });
        }
      }
    },
    async release() { await selector?.release(); selector = undefined; },
  };
}
