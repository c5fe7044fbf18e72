import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('configuration', () => {
  it('is fully embedded with no variables', () => {
    const c = loadConfig({});
    expect(c.embedded).toBe(true);
    expect(c.db).toMatchObject({ backend: 'pglite', thread: 'main' });
    expect(loadConfig({ PGLITE_THREAD: 'worker' }).db).toMatchObject({ backend: 'pglite', thread: 'worker' });
    expect(c.db).toMatchObject({ checkpoint: { walMb: 256, seconds: 300 } });
    expect(loadConfig({ PGLITE_CHECKPOINT_WAL_MB: '64', PGLITE_CHECKPOINT_SECONDS: '60' }).db).toMatchObject({
      checkpoint: { walMb: 64, seconds: 60 },
    });
    expect(c.bus).toEqual({ backend: 'memory', retain: 100 });
    expect(loadConfig({ BUS_MEMORY_RETAIN: '0' }).bus).toEqual({ backend: 'memory', retain: 0 });
    expect(c.windows).toMatchObject({ backend: 'memory', size: 1000, ttlSeconds: 86_400 });
    expect(c.store.backend).toBe('fs');
    expect(Object.isFrozen(c)).toBe(true);
    expect(c.forwardTest).toMatchObject({ equityIntervalMs: 5000, runner: 'inline' });
    expect(loadConfig({ FT_RUNNER: 'pool', FT_RUNNER_THREADS: '3' }).forwardTest).toMatchObject({
      runner: 'pool',
      threads: 3,
    });
  });

  it('switches each adapter to a real service by its variable', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u@h:5432/db',
      REDIS_URL: 'redis://h:6379',
      KAFKA_BROKERS: 'a:9092,b:9092',
      S3_ENDPOINT: 'http://h:9000',
      WINDOW_SIZE_OVERRIDES: 'btcusd=5000,ETHUSD=20',
    });
    expect(c.embedded).toBe(false);
    expect(c.db).toEqual({ backend: 'postgres', url: 'postgres://u@h:5432/db' });
    expect(c.bus).toMatchObject({ backend: 'kafka', brokers: ['a:9092', 'b:9092'] });
    expect(c.windows.backend).toBe('redis');
    expect(c.windows.overrides).toEqual({ BTCUSD: 5000, ETHUSD: 20 });
    expect(c.queue.backend).toBe('bullmq');
    expect(c.store.backend).toBe('s3');
  });

  it.each([
    [{ PORT: 'eighty' }, /^PORT is invalid: expected .*number/],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL is invalid: expected a URL starting with postgres:\/\//],
    [{ KAFKA_BROKERS: 'nohost' }, /^KAFKA_BROKERS is invalid: expected a comma-separated list of host:port/],
    [{ WINDOW_SIZE: '0' }, /^WINDOW_SIZE is invalid/],
    [{ BUS_MEMORY_RETAIN: '-1' }, /^BUS_MEMORY_RETAIN is invalid/],
    [{ PGLITE_THREAD: 'both' }, /^PGLITE_THREAD is invalid/],
    [{ PGLITE_CHECKPOINT_WAL_MB: '0' }, /^PGLITE_CHECKPOINT_WAL_MB is invalid/],
    [{ JWT_SECRET: 'short' }, /^JWT_SECRET is too weak/],
    [
      { FT_RUNNER: 'threads' },
      /^FT_RUNNER is invalid: expected one of "inline"\|"pool"\|"external"\|"kubernetes" \(got "threads"\)\.$/,
    ],
    [{ FT_RUNNER_THREADS: '0' }, /^FT_RUNNER_THREADS is invalid/],
    [{ K8S_RUNNER_MEMORY: '1GB' }, /^K8S_RUNNER_MEMORY is invalid: expected a memory quantity like 256Mi/],
    [{ ALGOTRADE_TYPO: '1' }, /^ALGOTRADE_TYPO is not a configuration variable/],
  ])('stops with one sentence naming the variable: %o', (env, re) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(re);
  });

  it('configures a CSV replay feed and refuses one without its file and symbol', () => {
    const c = loadConfig({
      MARKET_FEED: 'replay',
      REPLAY_FILE: 'data/ticks.csv',
      REPLAY_SYMBOL: 'goog',
      REPLAY_SPEED: '60',
    });
    expect(c.feed).toMatchObject({
      kind: 'replay',
      symbols: ['GOOG'],
      replay: { symbol: 'GOOG', speed: 60, loop: false },
    });
    expect(c.feed.replay!.file).toMatch(/data\/ticks\.csv$/);
    expect(() => loadConfig({ MARKET_FEED: 'replay' })).toThrow(/^MARKET_FEED=replay needs REPLAY_FILE/);
    expect(() =>
      loadConfig({ MARKET_FEED: 'replay', REPLAY_FILE: 'x', REPLAY_SYMBOL: 'A', REPLAY_SPEED: 'fast' }),
    ).toThrow(/REPLAY_SPEED is invalid/);
  });
});
