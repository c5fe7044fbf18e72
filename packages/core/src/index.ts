export * from './types.ts';
export * from './errors.ts';
export * from './topics.ts';
export * from './ports.ts';
export * from './tick-json.ts';
export * from './codec.ts';
export * from './random.ts';
export * from './stats.ts';
