import { templateById } from '@algotrade/strategy';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tempDir } from '../helpers/env.ts';
import { startPlatform, waitHealthy } from '../helpers/platform.ts';

/**
 * Crash safety of forward testing, as a user would meet it: the platform is SIGKILLed while many
 * sessions trade heavily, then started again on the same data directory.
 */
const tmp = tempDir();
afterAll(() => tmp.remove());
const port = 19_500 + Math.floor(Math.random() * 400);
const url = `http://127.0.0.1:${port}`;

const start = () =>
  startPlatform(port, tmp.dir, {
    MARKET_FEED: 'simulator',
    SIM_SYMBOLS: 'BTCUSD,ETHUSD',
    SIM_TICKS_PER_SECOND: '100',
    FT_EQUITY_INTERVAL_MS: '200',
    RATE_LIMIT_PER_MINUTE: '100000',
  });

interface Trade {
  id: string;
  signalId: string;
  side: 'buy' | 'sell';
  quantity: number;
  fee: number;
  realizedPnl: number;
}

describe('forward testing survives SIGKILL', () => {
  it('resumes running sessions; no trade lost or applied twice; balances reconcile', async () => {
    let proc = start();
    await waitHealthy(url, 20_000);
    const reg = await fetch(`${url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'kill@test.io', password: 'password123' }),
    });
    const { accessToken } = (await reg.json()) as { accessToken: string };
    const auth = { authorization: `Bearer ${accessToken}` };
    const api = async <T = unknown>(method: string, path: string, body?: object): Promise<T> => {
      const r = await fetch(`${url}${path}`, {
        method,
        headers: body ? { ...auth, 'content-type': 'application/json' } : auth,
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return (r.status === 204 ? null : await r.json()) as T;
    };
    // a fast 2/5 SMA crossover on every tick trades many times a second
    const g = structuredClone(templateById('sma-crossover')!.graph);
    g.nodes.find((n) => n.id === 'fast')!.data = { period: 2 };
    g.nodes.find((n) => n.id === 'slow')!.data = { period: 5 };
    const strat = await api<{ id: string }>('POST', '/api/strategies', { name: 'churn', graph: g });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const s = await api<{ id: string }>('POST', '/api/forward-tests', {
        strategyId: strat.id,
        symbol: i % 2 ? 'ETHUSD' : 'BTCUSD',
        feeRate: 0.001,
        slippageBps: 1,
      });
      ids.push(s.id);
    }
    // every trade pushed to the sessions' channels: a fill is published once it is durable (in the
    // embedded database's order journal, copied into the order log behind), so each must survive the kill
    const pushed = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws?token=${accessToken}`);
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as { channel?: string; type: string; data?: { signalId?: string } };
      if (f.type === 'trade' && f.channel?.startsWith('session:') && f.data?.signalId)
        pushed.get(f.channel.slice('session:'.length))?.add(f.data.signalId);
    });
    ws.on('error', () => undefined); // the kill closes it
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    for (const id of ids) ws.send(JSON.stringify({ op: 'subscribe', channel: `session:${id}` }));
    const trades = async (id: string) => api<Trade[]>('GET', `/api/forward-tests/${id}/trades?limit=10000`);
    const total = async () => (await Promise.all(ids.map(trades))).reduce((a, t) => a + t.length, 0);
    const t0 = Date.now();
    while ((await total()) < 60 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 200));

    // what a user saw just before the crash, then the crash in the middle of trading
    const seen = new Map<string, Set<string>>();
    for (const id of ids) seen.set(id, new Set((await trades(id)).map((t) => t.id)));
    const seenCount = [...seen.values()].reduce((a, s) => a + s.size, 0);
    expect(seenCount).toBeGreaterThanOrEqual(60);
    // trading goes on a little longer, with no reads (which wait for the journal to be copied in)
    await new Promise((r) => setTimeout(r, 300));
    proc.proc.kill('SIGKILL');
    await proc.exited;
    ws.terminate();
    const pushedCount = [...pushed.values()].reduce((a, s) => a + s.size, 0);
    expect(pushedCount).toBeGreaterThan(seenCount);

    proc = start();
    await waitHealthy(url, 30_000);
    // the sessions resume by themselves and keep trading
    const after0 = await total();
    const t1 = Date.now();
    while ((await total()) < after0 + 20 && Date.now() - t1 < 30_000) await new Promise((r) => setTimeout(r, 200));
    expect(await total()).toBeGreaterThanOrEqual(after0 + 20);
    for (const id of ids)
      expect((await api<{ status: string }>('GET', `/api/forward-tests/${id}`)).status).toBe('running');
    for (const id of ids) await api('POST', `/api/forward-tests/${id}/stop`);

    for (const id of ids) {
      const list = await trades(id);
      const now = new Set(list.map((t) => t.id));
      // nothing the user saw before the crash is gone
      for (const tid of seen.get(id)!) expect(now.has(tid)).toBe(true);
      // nor any trade pushed before it
      const signals = new Set(list.map((t) => t.signalId));
      for (const sig of pushed.get(id)!) expect(signals.has(sig)).toBe(true);
      // no signal applied twice
      expect(new Set(list.map((t) => t.signalId)).size).toBe(list.length);
      const s = await api<{
        balance: number;
        cash: number;
        equity: number;
        startingBalance: number;
        position: unknown;
      }>('GET', `/api/forward-tests/${id}`);
      const realized = list.reduce((a, t) => a + t.realizedPnl, 0);
      const fees = list.reduce((a, t) => a + t.fee, 0);
      const qty = list.reduce((a, t) => a + (t.side === 'buy' ? t.quantity : -t.quantity), 0);
      expect(s.position).toBeNull();
      expect(Math.abs(qty)).toBeLessThan(1e-9);
      expect(Math.abs(s.startingBalance + realized - fees - s.balance)).toBeLessThan(0.005);
      expect(Math.abs(s.cash - s.balance)).toBeLessThan(0.005);
    }
    proc.proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }, 150_000);
});
