export * from './connect.ts';
export * from './schema.ts';
export { migrations } from './migrations.ts';
export * from './repos/users.repo.ts';
export * from './repos/strategies.repo.ts';
export * from './repos/candles.repo.ts';
export * from './repos/backtests.repo.ts';
export * from './repos/forward-tests.repo.ts';
export * from './checkpointer.ts';
