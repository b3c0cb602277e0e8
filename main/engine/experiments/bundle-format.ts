// The export bundle: one gzip-compressed JSON file holding runs with their lineage, models,
// metrics, per-example records, compression logs, training curves, similarity arrays (base64)
// and artifacts (base64 up to a size limit; larger ones are listed with their sha256 only).
// Another Recall imports it losslessly (runs.import).

import type { RunSummary } from '../../contract/runs.ts';

export const BUNDLE_FORMAT = 'recall-bundle/1';

export interface BundleModel { fingerprint: string; name: string; architecture: string; sourcePath: string; info: Record<string, unknown> }

/** A run as the API describes it (lineage included), with its model named by fingerprint. */
export interface BundleRun extends Omit<RunSummary, 'modelId'> {
  model: string | null;
  metrics: { task: string; metric: string; value: number; stderr: number | null; n: number | null }[];
  records: { task: string; item: number; payload: unknown }[];
  compressionLog: { layer: number; module: string; rows: number; cols: number; bits: number | null; sparsity: number | null; damp: number | null; loss: number | null; relError: number | null; seconds: number | null }[];
  curve: { step: number; loss: number | null; lr: number | null; evalLoss: number | null; tokens: number | null }[];
  similarity: { kind: string; dtype: 'float32' | 'float64' | 'int32'; shape: number[]; data: string }[];
  artifacts: { path: string; kind: string; bytes: number; sha256: string; data?: string }[];
}

export interface Bundle {
  format: typeof BUNDLE_FORMAT;
  recall: string;
  createdAt: number;
  models: BundleModel[];
  runs: BundleRun[];
}
