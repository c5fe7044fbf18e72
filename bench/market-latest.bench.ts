import autocannon from 'autocannon';
import { median, percentile, report } from './harness.ts';
import { openLoopGet } from './raw-http.ts';
import { startFloor } from './floor-server.ts';
import { nativeOpenLoopGet, nativeTool, startNativeFloor } from './native.ts';
import { registerUser, startServer } from './server.ts';
import { type RouteBuckets, scrapeRouteBuckets, serverTimesBetween } from './server-times.ts';

// GET /api/market/symbols/BTCUSD/latest?limit=100 vs a constant 100-tick baseline route in the same
// server (same auth; `latest` is answered by the fast lane, the baseline route by Fastify's full hook
// chain, so their ratio is the lane's gain over the hook chain; HTTP_FAST_LANE=false in the
// environment runs `latest` through the hook chain too): latency at a fixed 2,000 req/s (open loop, raw-socket client), and
// saturation throughput (autocannon, 32 connections, three alternated pairs). The latency rounds
// alternate second by second between `latest`, the baseline route and a floor (a bare node:http server
// answering the same constant body in a process of its own), so all three see the same machine, each
// first in a round as often as the others. The same rounds are then run again from a native open-loop
// client (bench/native/open-loop.c) beside a native floor server too, where the machine has a C
// compiler: the Node client's own pauses land in its figures (see docs/benchmarks.md).
async function saturate(url: string, auth: string): Promise<number> {
  const r = await autocannon({ url, connections: 32, pipelining: 1, duration: 5, headers: { authorization: auth } });
  if (r.non2xx) throw new Error(`${r.non2xx} non-2xx answers`);
  return r.requests.average;
}

const over1ms = (xs: number[]) => (100 * xs.filter((x) => x > 1).length) / xs.length;

const ORDERS_OF_3 = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [0, 2, 1],
  [2, 1, 0],
  [1, 0, 2],
];
// four targets, each first, second, third and last in turn, and after each of the others
const ORDERS_OF_4 = [
  [0, 1, 2, 3],
  [1, 2, 3, 0],
  [2, 3, 0, 1],
  [3, 0, 1, 2],
  [3, 2, 1, 0],
  [0, 3, 2, 1],
];

// The native client's rounds: `latest`, the baseline route, the bare node:http floor and the native
// floor server (the same body length), one second each at 2,000 req/s, in rotating orders; with the
// server's own times for the same requests.
async function nativeRounds(
  server: string,
  latest: string,
  base: string,
  nodeFloor: string,
  h: Record<string, string>,
) {
  const bodyBytes = (await (await fetch(nodeFloor)).arrayBuffer()).byteLength;
  const nativeFloor = await startNativeFloor(bodyBytes);
  try {
    const out: [number[], number[], number[], number[]] = [[], [], [], []];
    const urls = [latest, base, nodeFloor, `${nativeFloor.url}/`];
    for (const url of urls) await nativeOpenLoopGet(url, h, 1000, 1); // warm-up
    const before = await scrapeRouteBuckets(server);
    for (const order of ORDERS_OF_4)
      for (const i of order) out[i]!.push(...(await nativeOpenLoopGet(urls[i]!, h, 2000, 1)));
    const after = await scrapeRouteBuckets(server);
    return {
      lat: out[0],
      baseLat: out[1],
      nodeFloorLat: out[2],
      nativeFloorLat: out[3],
      inServer: serverTimesBetween(before, after, '/api/market/symbols/:symbol/latest'),
      baseInServer: serverTimesBetween(before, after, '/api/market/_baseline'),
    };
  } finally {
    await nativeFloor.stop();
  }
}

async function run(label: string, env: Record<string, string>) {
  const srv = await startServer({ SIM_SYMBOLS: 'BTCUSD', SIM_TICKS_PER_SECOND: '200', ...env });
  try {
    const auth = await registerUser(srv.url);
    const latest = `${srv.url}/api/market/symbols/BTCUSD/latest?limit=100`;
    const base = `${srv.url}/api/market/_baseline`;
    for (let i = 0; i < 100; i++) {
      const body = await (await fetch(latest, { headers: { authorization: auth } })).json();
      if ((body as { ticks: unknown[] }).ticks.length === 100) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const h = { authorization: auth };
    await openLoopGet(latest, h, 1000, 2); // warm-up
    await openLoopGet(base, h, 1000, 2);
    const floor = await startFloor('http');
    const lat: number[] = [];
    const baseLat: number[] = [];
    const floorLat: number[] = [];
    let scrapes: [RouteBuckets, RouteBuckets];
    let native: Awaited<ReturnType<typeof nativeRounds>> | null = null;
    try {
      await openLoopGet(`${floor.url}/`, {}, 1000, 2); // warm-up, as long as each route's
      const targets: [string, number[]][] = [
        [latest, lat],
        [base, baseLat],
        [`${floor.url}/`, floorLat],
      ];
      const before = await scrapeRouteBuckets(srv.url);
      // each round runs the three in another of their six orders, so none is always first or always
      // after the same one (the same route measured twice in a fixed pair: 1.1-1.4 % of answers over
      // 1 ms in the first place, 0.7-0.8 % in the second)
      for (const order of ORDERS_OF_3)
        for (const i of order) {
          const [url, into] = targets[i]!;
          into.push(...(await openLoopGet(url, h, 2000, 1)));
        }
      scrapes = [before, await scrapeRouteBuckets(srv.url)];
      if (nativeTool()) native = await nativeRounds(srv.url, latest, base, `${floor.url}/`, h);
    } finally {
      await floor.stop();
    }
    report({
      bench: 'market-latest',
      metric: `${label}_p50_at_2000rps_ms`,
      value: median(lat),
      unit: 'ms',
      baseline: median(baseLat),
    });
    report({
      bench: 'market-latest',
      metric: `${label}_p99_at_2000rps_ms`,
      value: percentile(lat, 99),
      unit: 'ms',
      baseline: percentile(baseLat, 99),
      p999: percentile(lat, 99.9),
      // p99 < 1 ms is the same as fewer than 1 % of answers taking over 1 ms
      over1msPct: over1ms(lat),
      baselineOver1msPct: over1ms(baseLat),
    });
    report({
      bench: 'market-latest',
      metric: `${label}_floor_bare_node_http_p99_at_2000rps_ms`,
      value: percentile(floorLat, 99),
      unit: 'ms',
      p50: median(floorLat),
      p999: percentile(floorLat, 99.9),
      over1msPct: over1ms(floorLat),
    });
    // the same rounds seen from inside the server: its own time per request (see server-times.ts)
    const inServer = serverTimesBetween(...scrapes, '/api/market/symbols/:symbol/latest');
    const baseInServer = serverTimesBetween(...scrapes, '/api/market/_baseline');
    if (inServer.requests !== lat.length || baseInServer.requests !== baseLat.length)
      throw new Error(
        `the server counted ${inServer.requests}/${baseInServer.requests} requests, the client sent ${lat.length}/${baseLat.length}`,
      );
    report({
      bench: 'market-latest',
      metric: `${label}_server_time_over1ms_pct_at_2000rps`,
      value: inServer.over1msPct,
      unit: '%',
      baseline: baseInServer.over1msPct,
      over05msPct: inServer.over05msPct,
      baselineOver05msPct: baseInServer.over05msPct,
      requests: inServer.requests,
      clientOver1msPct: over1ms(lat),
    });
    if (native) {
      const n = native;
      if (n.inServer.requests !== n.lat.length || n.baseInServer.requests !== n.baseLat.length)
        throw new Error(
          `the server counted ${n.inServer.requests}/${n.baseInServer.requests} requests, the native client sent ${n.lat.length}/${n.baseLat.length}`,
        );
      report({
        bench: 'market-latest',
        metric: `${label}_native_client_p99_at_2000rps_ms`,
        value: percentile(n.lat, 99),
        unit: 'ms',
        baseline: percentile(n.baseLat, 99),
        p50: median(n.lat),
        baselineP50: median(n.baseLat),
        p999: percentile(n.lat, 99.9),
        over1msPct: over1ms(n.lat),
        baselineOver1msPct: over1ms(n.baseLat),
        serverOver1msPct: n.inServer.over1msPct,
      });
      for (const [floor, xs] of [
        ['bare_node_http', n.nodeFloorLat],
        ['native_server', n.nativeFloorLat],
      ] as const)
        report({
          bench: 'market-latest',
          metric: `${label}_native_client_floor_${floor}_p99_at_2000rps_ms`,
          value: percentile(xs, 99),
          unit: 'ms',
          p50: median(xs),
          p999: percentile(xs, 99.9),
          over1msPct: over1ms(xs),
        });
    }
    // three pairs, each route first in turn (a single 5 s run each read 0.60-1.00 on one day here, as a
    // burst of stalls fell in one run or the other): medians, and the median of the pairs' ratios
    const thr: number[] = [];
    const baseThr: number[] = [];
    for (const latestFirst of [true, false, true]) {
      if (latestFirst) thr.push(await saturate(latest, auth));
      baseThr.push(await saturate(base, auth));
      if (!latestFirst) thr.push(await saturate(latest, auth));
    }
    report({
      bench: 'market-latest',
      metric: `${label}_saturation_rps`,
      value: median(thr),
      unit: 'req/s',
      baseline: median(baseThr),
      runs: thr.map(Math.round),
      baselineRuns: baseThr.map(Math.round),
    });
    report({
      bench: 'market-latest',
      metric: `${label}_saturation_vs_baseline`,
      value: median(thr.map((t, i) => t / baseThr[i]!)),
      unit: 'ratio',
    });
  } finally {
    await srv.stop();
  }
}

await run('embedded', {});
if (process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL)
  await run('redis', { REDIS_URL: process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL!, JWT_SECRET: 'b'.repeat(40) });
else
  await run('redis', { REDIS_URL: 'redis://127.0.0.1:6379', JWT_SECRET: 'b'.repeat(40) }).catch((e) =>
    console.error(`redis run skipped: ${e.message}`),
  );
