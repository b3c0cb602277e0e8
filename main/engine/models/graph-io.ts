// Graph inputs (token ids, optional soft prompt, positions, attention mask) and outputs
// (logits, log-probabilities, final hidden state) common to both model families.

import type { DecoderConfig } from './types.ts';
import { type LayerContext, storedWeight } from './graph-layers.ts';

export interface EmbeddedInputs {
  /** [batch, prompt+seq, embedDim] token (and soft-prompt) embeddings. */
  h: string;
  positionIds: string;
  attentionMask: string;
  /** int64 scalar: prompt+seq, the number of new positions. */
  newLen: string;
  /** The embedding matrix [vocab, embedDim] (the tied lm_head). */
  embedInit: string;
}

export function embedInputs(ctx: LayerContext, config: DecoderConfig, embedName: string): EmbeddedInputs {
  const { b, options } = ctx;
  const ids = b.input('input_ids', 'int64', ['batch', 'seq']);
  const [vocab, dim] = ctx.weights.info(embedName).shape as [number, number];
  if (vocab !== config.vocabSize) throw new Error(`${embedName}: ${vocab} rows but config vocab_size is ${config.vocabSize}`);
  const embedInit = storedWeight(ctx, embedName, [vocab, dim]);
  let h = b.op1('Gather', [embedInit, ids], { axis: 0 }, { name: '/model/embed_tokens/Gather' });
  if (options.softPrompt) {
    const prompt = b.input('prompt_embeds', 'float32', ['batch', 'prompt', dim]);
    h = b.op1('Concat', [prompt, h], { axis: 1 }, { name: '/model/prompt/Concat' });
  }
  const positionIds = b.input('position_ids', 'int64', ['batch', options.softPrompt ? 'prompt+seq' : 'seq']);
  const attentionMask = b.input('attention_mask', 'int64', ['batch', 'total']);
  // The number of new positions, read from position_ids (not from the embeddings) so a
  // decoder layer cut out of the graph does not depend on input_ids.
  const len = b.op1('Shape', [positionIds], { start: 1, end: 2 }, { name: '/model/NewLen' });
  const newLen = b.op1('Squeeze', [len, b.int64s([0])], {}, { name: '/model/NewLenScalar' });
  return { h, positionIds, attentionMask, newLen, embedInit };
}

/** Project the final hidden state through lm_head ([vocab, dim]) and declare the outputs. */
export function finishGraph(ctx: LayerContext, _config: DecoderConfig, final: string, lmHead: string): void {
  const { b, options } = ctx;
  if (options.exposeHiddenStates) b.output(final, 'final_hidden');
  let x = final;
  if (options.logits === 'last') {
    x = b.op1('Slice', [final, b.int64s([-1]), b.int64s([2 ** 62]), b.int64s([1])], {}, { name: '/lm_head/LastPosition' });
  }
  const logits = options.externalWeights ? lmHeadGemm(ctx, x, lmHead) : b.op1('MatMul', [x, b.op1('Transpose', [lmHead], { perm: [1, 0] }, { name: '/lm_head/Transpose' })], {}, { name: '/lm_head/MatMul' });
  b.output(logits, 'logits');
  if (options.logprobs) b.output(b.op1('LogSoftmax', [logits], { axis: -1 }, { name: '/lm_head/LogSoftmax' }), 'logprobs');
  if (options.loss) {
    if (options.logits === 'last') throw new Error('the loss needs logits for all positions');
    b.output(nextTokenLoss(ctx, logits), 'loss');
  }
}

/**
 * logits = x @ W^T without a Transpose node: ORT would fold Transpose(W) into a second,
 * in-memory copy of the (memory-mapped) embedding, the model's largest tensor. Gemm reads
 * W [vocab, dim] in place through transB; it takes 2-D operands, hence the reshapes.
 *   x [batch, seq, dim] ─Reshape─► [batch*seq, dim] ─Gemm(W, transB)─► [batch*seq, vocab] ─Reshape─► [batch, seq, vocab]
 */
function lmHeadGemm(ctx: LayerContext, x: string, lmHead: string): string {
  const { b } = ctx;
  return b.scope('lm_head', () => {
    const [vocab, dim] = b.info(lmHead).shape as [number, number];
    const rows = b.op1('Reshape', [x, b.int64s([-1, dim])], {}, { name: 'Flatten' });
    const y = b.op1('Gemm', [rows, lmHead], { transB: 1 }, { name: 'Gemm' });
    const lead = b.op1('Shape', [x], { start: 0, end: 2 }, { name: 'LeadShape' });
    const shape = b.op1('Concat', [lead, b.int64s([vocab])], { axis: 0 }, { name: 'OutShape' });
    return b.op1('Reshape', [y, shape], {}, { name: 'Unflatten' });
  });
}

/**
 *   logp = LogSoftmax(logits); valid = labels != -100
 *   loss = -sum(valid * logp[labels]) / max(1, sum(valid))
 * Written with GatherElements so its gradient is a scatter into the logits' shape.
 */
function nextTokenLoss(ctx: LayerContext, logits: string): string {
  const { b } = ctx;
  const labels = b.input('labels', 'int64', ['batch', ctx.options.softPrompt ? 'prompt+seq' : 'seq']);
  return b.scope('loss', () => {
    const logp = b.op1('LogSoftmax', [logits], { axis: -1 }, { name: 'LogSoftmax' });
    const valid = b.op1('Not', [b.op1('Equal', [labels, b.scalar(-100, 'int64')], {}, { name: 'Ignored' })], {}, { name: 'Valid' });
    const safe = b.op1('Where', [valid, labels, b.scalar(0, 'int64')], {}, { name: 'SafeLabels' });
    const idx = b.op1('Unsqueeze', [safe, b.int64s([-1])], {}, { name: 'LabelIndex' });
    const picked = b.op1('GatherElements', [logp, idx], { axis: -1 }, { name: 'Pick' });
    const lp = b.op1('Squeeze', [picked, b.int64s([-1])], {}, { name: 'PickSqueeze' });
    const weight = b.op1('Cast', [valid], { to: 1 }, { name: 'Weight' });
    const total = b.op1('ReduceSum', [b.op1('Mul', [lp, weight], {}, { name: 'Masked' })], { keepdims: 0 }, { name: 'Sum' });
    const count = b.op1('Max', [b.op1('ReduceSum', [weight], { keepdims: 0 }, { name: 'Count' }), b.scalar(1)], {}, { name: 'CountAtLeast1' });
    return b.op1('Neg', [b.op1('Div', [total, count], {}, { name: 'Mean' })], {}, { name: 'Neg' });
  });
}
