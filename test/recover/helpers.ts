// Shared pieces of the recovery tests: the fixture corpus, temp folders, and a token batch
// scored both by a trainer and by a LanguageModel with the saved adapter.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LanguageModel } from '../../main/engine/models/language-model.ts';
import type { TokenBatch } from '../../main/engine/tune/data.ts';

export const CORPUS = fileURLToPath(new URL('../fixtures/train/tiny-corpus.txt', import.meta.url));

export const tempDir = (label: string): string => mkdtempSync(join(tmpdir(), `recall-recover-${label}-`));

/**
 * The mean next-token loss of a batch's rows as a LanguageModel (adapter applied through its KV
 * prefix or LoRA graph edit) scores them: the inputs token by token, then the last label after
 * all of them. Both calls see exactly the row's inputs, so IDP picks its prompt from the same
 * tokens as the trainer's evaluation.
 */
export async function languageModelLoss(lm: LanguageModel, batch: TokenBatch): Promise<number> {
  let sum = 0, count = 0;
  for (let b = 0; b < batch.batchSize; b++) {
    const T = batch.seqLen;
    const inputs = Array.from(batch.inputs.subarray(b * T, b * T + T));
    const { logprobs } = await lm.runner.tokenLogprobs(inputs);
    const [last] = await lm.runner.scoreContinuations([{ context: inputs, continuation: [batch.labels[b * T + T - 1]!] }]);
    for (const lp of [...logprobs, last!.logprob]) { sum -= lp; count++; }
  }
  return sum / count;
}
