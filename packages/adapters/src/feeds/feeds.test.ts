import { readFileSync } from 'node:fs';
import type { Tick } from '@algotrade/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CoinbaseProvider, toProductId } from './coinbase.ts';
import { parseCandlesCsv, parseTimestamp } from './csv.ts';
import { FinnhubProvider } from './finnhub.ts';
import { SimulatorProvider } from './simulator.ts';
import { feedFixture, replayServer } from '../../../../test/helpers/replay-server.ts';
import { until } from '../../../../test/helpers/wait.ts';

const fixture = feedFixture;

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s(); // clients before their servers
});

describe('Coinbase Exchange feed over a replay server', () => {
  it('normalises ticker and match frames, counts garbage and gaps, reconnects and resubscribes', async () => {
    let connections = 0;
    const srv = await replayServer(fixture('coinbase-exchange.jsonl'), (_m, ws) => {
      // drop the first connection after replaying, as an exchange does on maintenance
      if (++connections === 1) setTimeout(() => ws.terminate(), 50);
    });
    stops.push(srv.close);
    const cb = new CoinbaseProvider({ url: srv.url, channels: ['ticker', 'matches'], baseDelayMs: 20 });
    stops.push(() => cb.stop());
    const got: Tick[] = [];
    await cb.subscribe('BTCUSD');
    await cb.start((_s, t) => got.push(...t));
    await until(() => cb.stats.reconnects === 1 && got.length === 10);
    expect(srv.subscribes.filter((s) => (s as { type: string }).type === 'subscribe')).toHaveLength(2);
    expect(srv.subscribes[0]).toEqual({
      type: 'subscribe',
      product_ids: ['BTC-USD'],
      channels: ['ticker', 'matches', 'heartbeat'],
    });
    expect(got[0]).toEqual({
      symbol: 'BTCUSD',
      ts: Date.parse('2023-03-04T03:37:20.799258Z'),
      price: 22345.67,
      size: 0.00352175,
      bid: 22345.67,
      ask: 22349.68,
      seq: 7388547310,
    });
    expect(got.filter((t) => t.price === 400.25)).toHaveLength(2);
    expect(cb.stats.malformed).toBe(2 * 2); // one garbage frame and one bad price per replay
    expect(cb.stats.errors).toBeGreaterThanOrEqual(2);
    expect(cb.stats.gaps).toBeGreaterThanOrEqual(1); // trade 11 -> 14 skipped two trades
  });

  it('maps symbols to product ids', () => {
    expect(toProductId('BTCUSD')).toBe('BTC-USD');
    expect(toProductId('ETHUSDT')).toBe('ETH-USDT');
    expect(toProductId('SOL-EUR')).toBe('SOL-EUR');
  });
});

describe('Finnhub trades feed over a replay server', () => {
  it('batches trades per symbol, ignores pings, counts malformed frames, sends its token', async () => {
    const srv = await replayServer(fixture('finnhub.jsonl'));
    stops.push(srv.close);
    const fh = new FinnhubProvider({ url: srv.url, token: 'sekret', baseDelayMs: 20 });
    stops.push(() => fh.stop());
    const got: [string, Tick[]][] = [];
    await fh.subscribe('TSLA');
    await fh.start((s, t) => got.push([s, t]));
    await until(() => got.length === 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(srv.urls[0]).toBe('/?token=sekret');
    expect(srv.subscribes[0]).toEqual({ type: 'subscribe', symbol: 'TSLA' });
    expect(got[0]).toEqual(['BTCUSDT', [{ symbol: 'BTCUSDT', ts: 1575526691134, price: 7296.89, size: 0.011467 }]]);
    expect(got[1]![1].map((t) => t.price)).toEqual([122.1, 122.15]);
    expect(got[2]).toEqual(['AAPL', [{ symbol: 'AAPL', ts: 1672348887400, price: 189.5, size: 0 }]]);
    expect(fh.stats).toMatchObject({ received: 4, malformed: 2, errors: 1 });
  });
});

describe('simulator', () => {
  it('is deterministic for a seed, per symbol, with bid < price < ask', () => {
    const a = new SimulatorProvider({ seed: 7, ticksPerSecond: 0 }).ticks('BTCUSD', 500, 0, 1000);
    const b = new SimulatorProvider({ seed: 7, ticksPerSecond: 0 }).ticks('BTCUSD', 500, 0, 1000);
    const c = new SimulatorProvider({ seed: 8, ticksPerSecond: 0 }).ticks('BTCUSD', 500, 0, 1000);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    for (const t of a) expect(t.bid! < t.price && t.price < t.ask!).toBe(true);
    const r = a.slice(1).map((t, i) => Math.log(t.price / a[i]!.price));
    const sd = Math.sqrt(r.reduce((s, x) => s + x * x, 0) / r.length);
    // 60% annual volatility at 1 s steps
    expect(sd).toBeGreaterThan(0.6 * Math.sqrt(1 / (365 * 86400)) * 0.7);
    expect(sd).toBeLessThan(0.6 * Math.sqrt(1 / (365 * 86400)) * 1.3);
  });
});

describe('CSV history parser', () => {
  it('reads timestamps in seconds, milliseconds, microseconds and ISO', () => {
    const t = Date.UTC(2024, 0, 2, 3, 4, 5);
    expect(parseTimestamp(String(t / 1000))).toBe(t);
    expect(parseTimestamp(String(t))).toBe(t);
    expect(parseTimestamp(String(t * 1000))).toBe(t);
    expect(parseTimestamp('2024-01-02T03:04:05Z')).toBe(t);
    expect(parseTimestamp('2024-01-02 03:04:05')).toBe(t);
    expect(parseTimestamp('2024-01-02')).toBe(Date.UTC(2024, 0, 2));
  });

  it('finds columns in any order and case, reports bad rows with line numbers', () => {
    const csv = [
      'Volume,Close,Date,Open,High,Low',
      '10,101,2024-01-01,100,102,99',
      'x,1,2024-01-02,1,1,1',
      '5,103,nonsense,100,104,99',
      '7,105,2024-01-03,104,106,103',
      '',
    ].join('\n');
    const r = parseCandlesCsv(csv);
    expect(r.candles).toEqual([
      { ts: Date.UTC(2024, 0, 1), open: 100, high: 102, low: 99, close: 101, volume: 10 },
      { ts: Date.UTC(2024, 0, 3), open: 104, high: 106, low: 103, close: 105, volume: 7 },
    ]);
    expect(r.skipped).toBe(2);
    expect(r.errors).toEqual([
      { line: 3, message: 'volume "x" is not a number' },
      { line: 4, message: 'unreadable timestamp "nonsense"' },
    ]);
  });

  it('reads the backtesting.py GOOG daily file and a headerless file', () => {
    const goog = parseCandlesCsv(
      readFileSync(new URL('../../../../test/fixtures/backtesting-py/GOOG.csv', import.meta.url), 'utf8'),
    );
    expect(goog.errors).toEqual([]);
    expect(goog.candles.length).toBe(2148);
    expect(parseCandlesCsv('1700000000,1,2,0.5,1.5,10\n1700000060,1.5,2,1,1.2,3').candles).toHaveLength(2);
    expect(parseCandlesCsv('when,open\n1,2').errors[0]!.message).toMatch(/header lacks a timestamp column/);
  });
});

describe('fast numeric CSV path', async () => {
  const { parseCandlesCsvFast } = await import('./csv-fast.ts');
  const enc = (s: string) => new TextEncoder().encode(s);
  it('gives exactly the numbers of the general parser', () => {
    const rows = ['timestamp,open,high,low,close,volume'];
    let x = 100.12345678;
    for (let i = 0; i < 2000; i++) {
      const o = x;
      x = Math.round(x * (1 + Math.sin(i) / 100) * 1e8) / 1e8;
      rows.push(
        `${1700000000 + i * 60},${o},${Math.max(o, x) + 0.5},${Math.min(o, x) - 0.25},${x},${i % 7 === 0 ? 0 : (i * 1.37).toFixed(5)}`,
      );
    }
    const text = rows.join('\r\n') + '\n';
    const fast = parseCandlesCsvFast(enc(text))!;
    const slow = parseCandlesCsv(text).candles;
    expect(fast.length).toBe(slow.length);
    for (let i = 0; i < slow.length; i++) {
      expect([fast.ts[i], fast.open[i], fast.high[i], fast.low[i], fast.close[i], fast.volume[i]]).toEqual([
        slow[i]!.ts,
        slow[i]!.open,
        slow[i]!.high,
        slow[i]!.low,
        slow[i]!.close,
        slow[i]!.volume,
      ]);
    }
  });
  it('declines what it does not handle, so the general parser reports it', () => {
    expect(parseCandlesCsvFast(enc('date,open,high,low,close\n2024-01-01,1,2,0.5,1.5'))).toBeNull();
    expect(parseCandlesCsvFast(enc('ts,open,high,low,close\n1700000000,1,2,0.5,x'))).toBeNull();
    expect(parseCandlesCsvFast(enc('ts,open,high,low,close\n1700000000,1,0.9,0.5,1'))).toBeNull();
    expect(parseCandlesCsvFast(enc('ts,open,high,low,close\n1700000060,1,2,0.5,1\n1700000000,1,2,0.5,1'))).toBeNull();
  });
});

describe('fast CSV path with long decimals', async () => {
  const { parseCandlesCsvFast } = await import('./csv-fast.ts');
  it('reads 17-significant-digit numbers exactly like Number()', () => {
    const vals = [100.12345678901234, 0.30000000000000004, 65012.123456789012];
    const text = `ts,open,high,low,close\n1700000000,${vals[0]},${vals[0]! + 1},${vals[1]},${vals[0]}\n1700000060,${vals[2]},${vals[2]! + 1},${vals[2]! - 1},${vals[2]}`;
    const c = parseCandlesCsvFast(new TextEncoder().encode(text))!;
    expect([c.open[0], c.low[0], c.open[1]]).toEqual([vals[0], vals[1], vals[2]]);
  });
});
