/** Event topics of ../docs/topics (names, keys, partitions, retention) shared by every bus adapter. */
export interface TopicSpec {
  name: string;
  key: string;
  partitions: number;
  retentionMs: number;
  /**
   * In the in-memory bus: how many messages one consumer group may have waiting on one partition
   * before a publish waits for it (default DEFAULT_MEMORY_QUEUE). Kafka keeps a lagging group's
   * messages on disk; the memory bus keeps them on the heap, so it bounds them instead.
   */
  memoryQueue?: number;
}

/** messages waiting per consumer group and partition in the in-memory bus, for topics that set none */
export const DEFAULT_MEMORY_QUEUE = 10_000;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const TOPICS = {
  // each message carries a batch of ticks (hundreds from a replay or an import): 64 is thousands of ticks
  marketDataUpdates: { name: 'market-data-updates', key: 'symbol', partitions: 8, retentionMs: DAY, memoryQueue: 64 },
  symbolSubscriptions: { name: 'symbol-subscriptions', key: 'symbol', partitions: 1, retentionMs: 7 * DAY },
  strategySignals: { name: 'strategy-signals', key: 'session id', partitions: 4, retentionMs: 7 * DAY },
  strategyCompilations: { name: 'strategy-compilations', key: 'strategy id', partitions: 1, retentionMs: 7 * DAY },
  tradeExecutions: { name: 'trade-executions', key: 'session id', partitions: 4, retentionMs: 30 * DAY },
  portfolioUpdates: { name: 'portfolio-updates', key: 'session id', partitions: 4, retentionMs: 7 * DAY },
  forwardTestEvents: { name: 'forward-test-events', key: 'session id', partitions: 4, retentionMs: 7 * DAY },
  userNotifications: { name: 'user-notifications', key: 'user id', partitions: 2, retentionMs: DAY },
  realtimeUpdates: { name: 'realtime-updates', key: 'channel', partitions: 4, retentionMs: HOUR },
} as const satisfies Record<string, TopicSpec>;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS]['name'];

export const allTopics = (): TopicSpec[] => Object.values(TOPICS);
export const dlqTopic = (topic: string): string => `${topic}.dlq`;
