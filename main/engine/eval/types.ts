// Shapes shared by the evaluation modules: a task definition (lm-evaluation-harness's task
// config reduced to what scoring needs), a document prepared for scoring, the reports a data
// file reader gives back, and one scored sample.

/**
 * How a task is scored (the harness's output_type):
 * - multiple_choice: one log-likelihood per choice; acc / acc_norm from the argmax;
 * - greedy_any: choices scored the same way; exact_match = some gold choice is greedy (WebQS);
 * - loglikelihood: one (context, target) pair; acc = greedy, perplexity (LAMBADA);
 * - generate_until: greedy generation until a stop string; exact match against aliases.
 */
export type TaskKind = 'multiple_choice' | 'greedy_any' | 'loglikelihood' | 'generate_until';

/** A line (or record) of a data file that could not be used. Counted and reported, never dropped silently. */
export interface DataIssue {
  file: string;
  /** 1-based line in a JSON Lines or label file; for a JSON array file, the 1-based record number. */
  line: number;
  message: string;
}

/** One record read from a data file, before it is turned into an EvalDoc. */
export interface RawRecord {
  /** 0-based position of the record in its file (the harness's doc_id). */
  index: number;
  /** Where the record came from, for messages: 1-based line (or record number). */
  line: number;
  value: Record<string, unknown>;
}

/**
 * A document ready for scoring: doc_to_text, doc_to_choice and doc_to_target resolved.
 * `contexts` has one query, or (WinoGrande, the harness's "multiple input" form) one context
 * per option with a single continuation in `choices[0]`.
 */
export interface EvalDoc {
  index: number;
  doc: Record<string, unknown>;
  contexts: string[];
  /** Choice texts (MC), accepted answers (WebQS, TriviaQA), or the one target (LAMBADA, WinoGrande). */
  choices: string[];
  /** Indices of gold choices (or of the gold context for WinoGrande); all aliases for TriviaQA/WebQS. */
  gold: number[];
}

export interface TaskDef {
  name: string;
  /** The harness task version (metadata.version). */
  version: number;
  /** Split scored, as the harness names it. */
  split: 'test' | 'validation';
  /** HF dataset the harness reads, for the configs block. */
  datasetPath: string;
  kind: TaskKind;
  /** Data files relative to the data folder (first = the records). */
  files: string[];
  /** Metric names as the harness reports them. */
  metrics: string[];
  /** The harness's filter name for the metric keys ("acc,none"). */
  filter: 'none' | 'remove_whitespace';
  targetDelimiter: string;
  /** generate_until stop strings. */
  until?: string[];
  /** doc_to_text as the harness writes it (informational, in configs). */
  template: string;
  /** Read the data files (absolute paths, in `files` order). */
  read(paths: string[]): { records: RawRecord[]; issues: DataIssue[] };
  /** Build a document; throws Error(message) for a record that does not fit the format. */
  toDoc(record: RawRecord): EvalDoc;
}

/** One (context, continuation) log-likelihood request. */
export interface Pair { context: string; continuation: string }

/** One scored sample, in the harness's per-sample log layout plus Recall's readable fields. */
export interface SampleRecord {
  doc_id: number;
  doc: Record<string, unknown>;
  /** Gold as text (choice, target or aliases). */
  target: string | string[];
  /** The requests: [context, continuation] pairs, or [prompt, {until}] for generation. */
  arguments: unknown[][];
  /** Raw responses: [loglikelihood, is_greedy] per pair, or [generated text]. */
  resps: unknown[][];
  filtered_resps: unknown[];
  /** Per-metric values of this sample (0/1, or the loglikelihood for perplexity). */
  values: Record<string, number>;
  /** Index of the predicted choice (argmax LL), or the generated answer. */
  prediction: number | string;
  gold: number[];
  /** Correct under the task's primary metric. */
  correct: boolean;
  choice_loglikelihoods?: number[];
}
