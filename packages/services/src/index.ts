export * from './app.ts';
export * from './context.ts';
export { createMetrics, type Metrics } from './http/metrics.ts';
