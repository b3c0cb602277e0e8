// Execution-provider choice. ORT on Node throws when asked for an absent provider (e.g.
// ['cuda', 'cpu'] without CUDA) instead of falling back, so Recall falls back itself and
// says why.

import { ort } from './ort.ts';

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface ProviderInfo { name: string; bundled: boolean }

/** Providers the installed onnxruntime-node build knows about (bundled = shipped in the package). */
export function availableProviders(): ProviderInfo[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

export function isExecutionProvider(name: string): name is ExecutionProvider {
  return (EXECUTION_PROVIDERS as readonly string[]).includes(name);
}

export function parseExecutionProvider(name: string): ExecutionProvider {
  if (!isExecutionProvider(name)) {
    throw new Error(`unknown execution provider '${name}' (expected one of ${EXECUTION_PROVIDERS.join(', ')})`);
  }
  return name;
}
