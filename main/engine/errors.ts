// The engine's one error type. Every failure a user can cause (a bad file, a missing field,
// a wrong shape) is thrown as a RecallError with a stable `code`, so adapters (CLI, IPC, UI)
// can turn it into one result shape and tests can assert the exact failure rather than a
// message fragment. The message always names the offending file / field / tensor.

export type RecallErrorCode =
  // files and folders
  | 'E_NOT_FOUND'
  | 'E_IO'
  // safetensors
  | 'E_SAFETENSORS_TRUNCATED'
  | 'E_SAFETENSORS_HEADER'
  | 'E_SAFETENSORS_DTYPE'
  | 'E_SAFETENSORS_OFFSETS'
  | 'E_SAFETENSORS_INDEX'
  | 'E_MISSING_SHARD'
  | 'E_MISSING_TENSOR'
  | 'E_NO_WEIGHTS'
  // config.json
  | 'E_CONFIG_JSON'
  | 'E_CONFIG_FIELD'
  | 'E_CONFIG_MODEL_TYPE'
  | 'E_CONFIG_ROPE_SCALING'
  // model folder consistency
  | 'E_SHAPE_MISMATCH'
  // tokenizer
  | 'E_TOKENIZER'
  // anything else that is the caller's fault
  | 'E_INVALID_ARGUMENT'
  // run store (main/engine/store)
  | 'E_STORE_NEWER' // the database was written by a newer Recall
  | 'E_STORE_CORRUPT' // not a SQLite database, or a row that cannot be decoded
  | 'E_STORE_MIGRATION' // a schema migration failed (and was rolled back)
  | 'E_RUN_TRANSITION' // a run status change the lifecycle does not allow
  | 'E_RUN_IN_USE' // a run or model others depend on (children, running job)
  // compression numerics (main/engine/compress)
  | 'E_COMPRESS_CONFIG' // bits, group size, sparsity, n:m... outside what the method allows
  | 'E_COMPRESS_HESSIAN' // a Hessian that is not positive definite even after damping
  | 'E_COMPRESS_EXPORT' // a layer the requested packed layout cannot represent
  | 'E_NO_SPACE' // not enough free disk for what a job must write
  // evaluation (main/engine/eval)
  | 'E_EVAL_TASK' // an unknown task, or one whose data files are missing
  | 'E_EVAL_DATA' // a data file that cannot be read as its task's format
  | 'E_EVAL_RESULTS'; // a results file that is not in lm-evaluation-harness's layout

export class RecallError extends Error {
  readonly code: RecallErrorCode;
  /** Machine-readable context (file, tensor, field, expected/actual...), for adapters. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: RecallErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecallError';
    this.code = code;
    this.details = details;
  }
}

export function isRecallError(e: unknown, code?: RecallErrorCode): e is RecallError {
  return e instanceof RecallError && (code === undefined || e.code === code);
}
