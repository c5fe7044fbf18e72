import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TOPICS, type Tick } from '@algotrade/core';
import { describe, expect, it } from 'vitest';
import { until } from '../../../../test/helpers/wait.ts';
import { MemoryBus } from '../bus-memory/memory-bus.ts';
import { CsvReplayProvider, readReplayFile } from './replay.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'replay-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
// 21 recorded ticks one second apart (and two unreadable rows)
const rows = Array.from(
  { length: 21 },
  (_, i) => `2026-01-05T12:00:${String(i).padStart(2, '0')}Z,${100 + i},0.5,${99.9 + i},${100.1 + i}`,
);
const ticksCsv = [
  'timestamp,price,size,bid,ask',
  ...rows.slice(0, 10),
  'garbage,row',
  '2026-01-05T12:01:00Z,-3,1',
  ...rows.slice(10),
].join('\n');

describe('CSV replay feed', () => {
  it('reads tick files (and candle files as one tick per close), skipping unreadable rows', () => {
    const r = readReplayFile(ticksCsv);
    expect(r.skipped).toBe(2);
    expect(r.ticks).toHaveLength(21);
    expect(r.ticks[3]).toEqual({
      ts: Date.parse('2026-01-05T12:00:03Z'),
      price: 103,
      size: 0.5,
      bid: 102.9,
      ask: 103.1,
    });
    const c = readReplayFile('date,open,high,low,close,volume\n2026-01-02,1,2,0.5,1.5,10\n2026-01-01,1,1.3,1,1.2,5\n');
    expect(c.ticks).toEqual([
      { ts: Date.parse('2026-01-01T00:00:00Z'), price: 1.2, size: 5 },
      { ts: Date.parse('2026-01-02T00:00:00Z'), price: 1.5, size: 10 },
    ]);
  });

  it('replays at the chosen speed, in order, with live timestamps', async () => {
    // 20 recorded seconds at speed 100: about 200 ms of wall time
    const p = new CsvReplayProvider({ file: file('t.csv', ticksCsv), symbol: 'REPLAY', speed: 100 });
    const got: Tick[] = [];
    const t0 = Date.now();
    await p.start((_s, ticks) => got.push(...ticks));
    await p.subscribe('REPLAY');
    await until(() => got.length === 21, 5000);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(180);
    expect(took).toBeLessThan(2000);
    expect(got.map((t) => t.price)).toEqual(Array.from({ length: 21 }, (_, i) => 100 + i));
    expect(got.every((t, i) => t.symbol === 'REPLAY' && t.seq === i + 1 && (i === 0 || t.ts > got[i - 1]!.ts))).toBe(
      true,
    );
    expect(got[0]!.ts).toBeGreaterThanOrEqual(t0);
    expect(p.stats).toMatchObject({ received: 21, malformed: 2 });
    await p.stop();
  });

  it('runs as fast as possible at speed 0, loops when asked, and ignores other symbols', async () => {
    const p = new CsvReplayProvider({ file: file('l.csv', ticksCsv), symbol: 'LOOP', speed: 0, loop: true });
    const got: Tick[] = [];
    await p.start((_s, ticks) => got.push(...ticks));
    await p.subscribe('OTHER');
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toHaveLength(0);
    await p.subscribe('LOOP');
    await until(() => got.length >= 63, 5000);
    await p.stop();
    expect(got[21]!.price).toBe(100); // started over
  });

  // 2,500 recorded ticks: three turns of the pump at speed 0 (1,000 a turn)
  const longCsv = [
    'timestamp,price,size',
    ...Array.from({ length: 2500 }, (_, i) => `${1_767_600_000 + i},${100 + (i % 50)},1`),
  ].join('\n');

  it('at speed 0 waits for the consumer to take each batch before emitting the next', async () => {
    const p = new CsvReplayProvider({ file: file('w.csv', longCsv), symbol: 'WAIT', speed: 0 });
    const batches: number[] = [];
    const takes: (() => void)[] = [];
    await p.start((_s, ticks) => {
      batches.push(ticks.length);
      return new Promise<void>((r) => takes.push(r));
    });
    await p.subscribe('WAIT');
    await new Promise((r) => setTimeout(r, 60));
    expect(batches).toEqual([1000]); // the first publish has not resolved: nothing more
    takes.shift()!();
    await until(() => batches.length === 2, 2000);
    await new Promise((r) => setTimeout(r, 30));
    expect(batches).toEqual([1000, 1000]);
    takes.shift()!();
    await until(() => p.done, 2000);
    expect(batches).toEqual([1000, 1000, 500]);
    await p.stop();
  });

  it("at speed 0 into the memory bus keeps no more waiting than the topic's bound, and loses nothing", async () => {
    const bus = new MemoryBus(0);
    const topic = TOPICS.marketDataUpdates.name;
    let got = 0;
    let maxLag = 0;
    const sub = await bus.subscribe<{ ticks: unknown[] }>(topic, { group: 'slow' }, async (m) => {
      maxLag = Math.max(maxLag, bus.lag(topic, 'slow'));
      await new Promise((r) => setImmediate(r));
      got += m.data.ticks.length;
    });
    // one tick a message, so the bound is met at once
    const p = new CsvReplayProvider({ file: file('b.csv', longCsv), symbol: 'BOUND', speed: 0 });
    await p.start((symbol, ticks) =>
      Promise.all(ticks.map((t) => bus.publish(topic, symbol, 'ticks', { symbol, ticks: [t] }))),
    );
    await p.subscribe('BOUND');
    await until(() => got === 2500, 20_000);
    // a turn publishes its 1,000 at once, then waits for the queue to come down to half the bound
    // (without waiting, the whole file would be queued within three turns of the timer)
    expect(maxLag).toBeGreaterThan(900);
    expect(maxLag).toBeLessThanOrEqual(TOPICS.marketDataUpdates.memoryQueue / 2 + 1000);
    await p.stop();
    await sub.close();
    await bus.close();
  });
});
