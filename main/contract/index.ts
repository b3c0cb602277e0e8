// The typed API shared by the engine, its adapters and the renderer. Nothing here imports main/engine.
export * from './errors.ts';
export * from './events.ts';
export * from './host.ts';
export * from './methods.ts';
export * from './settings.ts';
export * from './wire.ts';
