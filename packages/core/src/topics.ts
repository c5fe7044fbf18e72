/** Event topics of ../docs/topics (names, keys, partitions, retention) shared by every bus adapter. */
export interface TopicSpec {
  name: string;
  key: string;
  partitions: number;
  retentionMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const TOPICS = {
  marketDataUpdates: { name: 'market-data-updates', key: 'symbol', partitions: 8, retentionMs: DAY },
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
