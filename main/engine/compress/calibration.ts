// Calibration data (METHODS 1.1): N sequences of T tokens drawn with a seeded RNG from a
// corpus, either a text file (tokenized as training text is) or a JSON Lines file of
// token-id arrays. The corpus hash is recorded with the run.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { RecallError } from '../errors.ts';
import type { Tokenizer } from '../models/tokenizer.ts';
import { tokenizeCorpus } from '../tune/train-model.ts';
import { mulberry32 } from '../random.ts';

export interface CalibrationOptions {
  file: string;
  nsamples: number;
  seqlen: number;
  seed: number;
}

export interface Calibration {
  /** nsamples x seqlen token ids, row-major. */
  tokens: Int32Array;
  nsamples: number;
  seqlen: number;
  /** sha256 of the corpus file's bytes. */
  fingerprint: string;
  file: string;
  seed: number;
}


function readTokenLines(file: string, text: string): Int32Array {
  const out: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let ids: unknown;
    try { ids = JSON.parse(line); } catch { ids = undefined; }
    if (!Array.isArray(ids) || !ids.every((t) => Number.isInteger(t) && t >= 0)) {
      throw new RecallError('E_INVALID_ARGUMENT', `${file}:${i + 1}: expected a JSON array of token ids`, { file, line: i + 1 });
    }
    for (const t of ids as number[]) out.push(t);
  });
  return Int32Array.from(out);
}

/**
 * Draw calibration windows like GPTQ's get_wikitext2/get_c4 loaders: a random start per
 * sample in the tokenized corpus, seqlen tokens from there.
 */
export function loadCalibration(o: CalibrationOptions, tokenizer: Tokenizer, vocabSize: number): Calibration {
  if (!existsSync(o.file)) throw new RecallError('E_NOT_FOUND', `${o.file}: calibration file not found`, { file: o.file });
  if (!Number.isInteger(o.nsamples) || o.nsamples < 1) throw new RecallError('E_INVALID_ARGUMENT', `--nsamples must be a positive integer (got ${o.nsamples})`, { field: 'nsamples' });
  if (!Number.isInteger(o.seqlen) || o.seqlen < 2) throw new RecallError('E_INVALID_ARGUMENT', `--seqlen must be an integer >= 2 (got ${o.seqlen})`, { field: 'seqlen' });
  const bytes = readFileSync(o.file);
  const text = bytes.toString('utf8');
  const stream = o.file.endsWith('.jsonl') ? readTokenLines(o.file, text) : tokenizeCorpus(tokenizer, text);
  const bad = stream.find((t) => t >= vocabSize);
  if (bad !== undefined) throw new RecallError('E_INVALID_ARGUMENT', `${o.file}: token id ${bad} is outside the model's vocabulary (${vocabSize})`, { file: o.file });
  if (stream.length < o.seqlen) {
    throw new RecallError('E_INVALID_ARGUMENT', `${o.file}: ${stream.length} tokens is shorter than one calibration sequence of ${o.seqlen}`, { file: o.file, tokens: stream.length });
  }
  const rand = mulberry32(o.seed);
  const tokens = new Int32Array(o.nsamples * o.seqlen);
  for (let s = 0; s < o.nsamples; s++) {
    const start = Math.floor(rand() * (stream.length - o.seqlen + 1));
    tokens.set(stream.subarray(start, start + o.seqlen), s * o.seqlen);
  }
  return { tokens, nsamples: o.nsamples, seqlen: o.seqlen, fingerprint: createHash('sha256').update(bytes).digest('hex'), file: o.file, seed: o.seed };
}
