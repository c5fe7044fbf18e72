import WebSocket from 'ws';
import { percentile, report } from './harness.ts';
import { startFloor } from './floor-server.ts';
import { openLoopGet } from './raw-http.ts';
import { RawWsClient } from './raw-ws.ts';
import { registerUser, startServer } from './server.ts';

// (a) WebSocket fan-out: FANOUT_CLIENTS (5,000) clients subscribed to one price channel fed by the
// simulator at 10 ticks/s (pushed at most every 100 ms): delivery latency from the tick's timestamp to
// the client's receipt, p50/p99. The server runs in its own process; the clients share this one.
// (b) Gateway overhead: the same constant route (`/api/market/_baseline`) called on the service
// directly and through a separate gateway process that forwards to it, alternately, at a fixed rate.
const CLIENTS = Number(process.env.FANOUT_CLIENTS ?? 5000);
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 15);
const RATE = Number(process.env.PROXY_RATE ?? 500);
const secret = 'bench-secret-bench-secret-bench-secret-0123';

/** CLIENTS clients on one price channel of `wsUrl` for SECONDS: delivery latencies and how many stayed open */
async function fanout(
  wsUrl: string,
  during?: { start(): Promise<void>; end(): Promise<void> },
): Promise<{ lat: number[]; open: number; wsLib: boolean }> {
  const lat: number[] = [];
  let measuring = false;
  let subscribed = 0;
  const TS = Buffer.from('"ts":');
  const SUBSCRIBED = Buffer.from('"subscribed"');
  // the tick time carried in the price push (data.ts, the first "ts" followed by digits)
  const tickTime = (p: Buffer): number => {
    for (let at = p.indexOf(TS); at >= 0; at = p.indexOf(TS, at + 5)) {
      let v = 0;
      let i = at + 5;
      for (; i < p.length && p[i]! >= 48 && p[i]! <= 57; i++) v = v * 10 + p[i]! - 48;
      if (i > at + 5) return v;
    }
    return NaN;
  };
  const onPush = (p: Buffer) => {
    if (!measuring) {
      if (p.indexOf(SUBSCRIBED) >= 0) subscribed++;
      return;
    }
    const ts = tickTime(p);
    if (ts === ts) lat.push(Date.now() - ts);
  };
  // FANOUT_CLIENT=ws: clients built on the ws library instead of raw sockets (heavier per frame)
  const wsLib = process.env.FANOUT_CLIENT === 'ws';
  const sockets: { isOpen: boolean; close(): void }[] = [];
  for (let i = 0; i < CLIENTS; i += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, CLIENTS - i) }, async () => {
        const subscribe = JSON.stringify({ op: 'subscribe', channel: 'prices:BENCHUSD' });
        if (!wsLib) {
          const c = await RawWsClient.connect(wsUrl, onPush);
          sockets.push({
            get isOpen() {
              return c.isOpen;
            },
            close: () => c.destroy(),
          });
          c.sendText(subscribe);
          return;
        }
        const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
        sockets.push({
          get isOpen() {
            return ws.readyState === WebSocket.OPEN;
          },
          close: () => ws.terminate(),
        });
        ws.on('message', (d: Buffer) => onPush(d));
        await new Promise<void>((res, rej) => {
          ws.once('open', () => res());
          ws.once('error', rej);
        });
        ws.send(subscribe);
      }),
    );
  }
  for (let i = 0; i < 300 && subscribed < CLIENTS; i++) await new Promise((r) => setTimeout(r, 100));
  await during?.start();
  measuring = true;
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  await during?.end();
  const open = sockets.filter((s) => s.isOpen).length;
  for (const s of sockets) s.close();
  return { lat, open, wsLib };
}

const srv = await startServer({
  SIM_SYMBOLS: 'BENCHUSD',
  SIM_TICKS_PER_SECOND: '10',
  PRICE_PUSH_INTERVAL_MS: '100',
  JWT_SECRET: secret,
  // the clients stand for as many users, all on one token here
  WS_MAX_CONNECTIONS_PER_USER: String(CLIENTS + 100),
});
try {
  const auth = await registerUser(srv.url);
  const token = auth.slice('Bearer '.length);

  // ---- (a) fan-out ----
  // the service's own timing of its price push rounds (websocket_push_round_seconds) while measured
  const rounds = async () => {
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    const read = (what: string) =>
      Number(new RegExp(`^websocket_push_round_seconds_${what}\\{kind="prices"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    return { sum: read('sum'), count: read('count') };
  };
  let r0 = { sum: 0, count: 0 };
  let r1 = r0;
  const { lat, open, wsLib } = await fanout(`${srv.url.replace('http', 'ws')}/ws?token=${token}`, {
    start: async () => void (r0 = await rounds()),
    end: async () => void (r1 = await rounds()),
  });
  report({
    bench: 'gateway',
    metric: `fanout_${CLIENTS}_clients_latency_p50_ms`,
    value: percentile(lat, 50),
    unit: 'ms',
    frames: lat.length,
    framesPerClientPerS: lat.length / CLIENTS / SECONDS,
    stillOpen: open,
    client: wsLib ? 'ws' : 'raw',
  });
  report({
    bench: 'gateway',
    metric: `fanout_${CLIENTS}_clients_latency_p99_ms`,
    value: percentile(lat, 99),
    unit: 'ms',
  });
  report({
    bench: 'gateway',
    metric: `fanout_${CLIENTS}_clients_service_write_round_mean_ms`,
    value: ((r1.sum - r0.sum) / (r1.count - r0.count)) * 1000,
    unit: 'ms',
    rounds: r1.count - r0.count,
  });

  // the floor: a bare WebSocket server doing only the writes, same clients, same machine
  const floor = await startFloor('fanout', { FLOOR_MIN_SOCKETS: String(CLIENTS) });
  try {
    const f = await fanout(`${floor.url.replace('http', 'ws')}/ws`);
    const { writeLoopMs } = await floor.stats();
    report({
      bench: 'gateway',
      metric: `fanout_${CLIENTS}_clients_floor_bare_ws_p99_ms`,
      value: percentile(f.lat, 99),
      unit: 'ms',
      p50: percentile(f.lat, 50),
      frames: f.lat.length,
      stillOpen: f.open,
    });
    // one write per socket: how long the bare server takes to hand one frame to every client (its
    // median; the service's figure above is a mean, from its histogram's sum and count)
    report({
      bench: 'gateway',
      metric: `fanout_${CLIENTS}_clients_floor_write_round_p50_ms`,
      value: percentile(writeLoopMs, 50),
      unit: 'ms',
      p90: percentile(writeLoopMs, 90),
      rounds: writeLoopMs.length,
      perWriteUs: (percentile(writeLoopMs, 50) * 1000) / CLIENTS,
    });
  } finally {
    await floor.stop();
  }

  // ---- (b) gateway overhead ----
  const gw = await startServer({ MARKET_DATA_URL: srv.url, JWT_SECRET: secret, MARKET_FEED: 'none' }, [
    'serve',
    'gateway',
  ]);
  // the floor: a bare node:http server forwarding to the same route with an undici pool (no hooks)
  const fwd = await startFloor('forward', { FLOOR_TARGET: srv.url });
  try {
    const direct = `${srv.url}/api/market/_baseline`;
    const viaGw = `${gw.url}/api/market/_baseline`;
    const viaBare = `${fwd.url}/api/market/_baseline`;
    const h = { authorization: auth };
    await openLoopGet(direct, h, 500, 1);
    await openLoopGet(viaGw, h, 500, 1);
    await openLoopGet(viaBare, h, 500, 1);
    const d: number[] = [];
    const g: number[] = [];
    const b: number[] = [];
    for (let round = 0; round < 3; round++) {
      d.push(...(await openLoopGet(direct, h, RATE, 3)));
      g.push(...(await openLoopGet(viaGw, h, RATE, 3)));
      b.push(...(await openLoopGet(viaBare, h, RATE, 3)));
    }
    report({ bench: 'gateway', metric: 'direct_p50_ms', value: percentile(d, 50), unit: 'ms', rate: RATE });
    report({
      bench: 'gateway',
      metric: 'proxied_p50_ms',
      value: percentile(g, 50),
      unit: 'ms',
      baseline: percentile(d, 50),
    });
    report({
      bench: 'gateway',
      metric: 'proxy_overhead_p50_ms',
      value: percentile(g, 50) - percentile(d, 50),
      unit: 'ms',
      p99Direct: percentile(d, 99),
      p99Proxied: percentile(g, 99),
    });
    report({
      bench: 'gateway',
      metric: 'proxy_overhead_floor_bare_forwarder_p50_ms',
      value: percentile(b, 50) - percentile(d, 50),
      unit: 'ms',
      bareForwarderP50: percentile(b, 50),
    });
  } finally {
    await fwd.stop();
    await gw.stop();
  }
} finally {
  await srv.stop();
}
