import type { Runtime, ServiceName } from '@algotrade/adapters';
import type { FastLane } from './http/fast-lane.ts';
import type { Metrics } from './http/metrics.ts';

/** What every service plugin receives: the runtime's adapters and the app's metrics. */
export interface ServiceContext {
  rt: Runtime;
  metrics: Metrics;
  /** services mounted in this process (all of them in `algotrade start`) */
  services: readonly ServiceName[];
  /** background work started by services, stopped on shutdown (in reverse order) */
  onClose(fn: () => Promise<void> | void): void;
  /** objects one service offers to others in the same process (e.g. the compile cache) */
  shared: Record<string, unknown>;
  /** plain GETs answered before Fastify's hook chain (market data registers `latest` there) */
  lane: FastLane;
}
