// The typed API shared by the engine, its adapters and the renderer. Nothing here imports main/engine.
// The renderer imports values only from the zod-free files (errors.ts, execution.ts, host.ts) and
// types from here, so the schemas stay out of its bundle.
export * from './errors.ts';
export * from './events.ts';
export * from './execution.ts';
export * from './host.ts';
export * from './experiment-spec.ts';
export * from './methods.ts';
export * from './run-methods.ts';
export * from './runs.ts';
export * from './settings.ts';
export * from './similarity.ts';
export * from './wire.ts';
