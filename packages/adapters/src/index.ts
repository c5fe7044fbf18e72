export * from './config.ts';
export * from './db/index.ts';
export * from './runtime.ts';
export * from './feeds/index.ts';
