// Execution-provider names and thread limits, without zod, so the renderer can import them
// without bundling the schemas. The provider list mirrors main/engine/runtime/providers.ts
// (test/app/contract.test.ts keeps the two equal; the contract may not import the engine).

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

export const MAX_THREADS = 1024;
