export * from './provider.ts';
export * from './simulator.ts';
export * from './coinbase.ts';
export * from './finnhub.ts';
export * from './csv.ts';
export * from './ws-client.ts';
export * from './csv-fast.ts';
export * from './replay.ts';
