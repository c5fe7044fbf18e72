/**
 * The server's own time per request, read from its `/metrics` (the `http_request_duration_seconds`
 * histogram every deployment exports: Fastify's time from a request's arrival in the process to its
 * answer being handed to the socket). Two scrapes around a measurement give how many requests of a
 * route took longer than 0.5 and 1 ms inside the server, which the client-side latency cannot separate
 * from time the request spent waiting for a process that was not running.
 */
export type RouteBuckets = Map<string, Map<string, number>>;

const LINE = /^http_request_duration_seconds_bucket\{([^}]*)\} (\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/;

/** counts per route (summed over methods and statuses) and bucket bound (`le`) */
export async function scrapeRouteBuckets(baseUrl: string): Promise<RouteBuckets> {
  const r = await fetch(`${baseUrl}/metrics`);
  if (!r.ok) throw new Error(`/metrics answered ${r.status}`);
  const out: RouteBuckets = new Map();
  for (const line of (await r.text()).split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    const route = labels.route!;
    const le = labels.le!;
    const byLe = out.get(route) ?? new Map<string, number>();
    byLe.set(le, (byLe.get(le) ?? 0) + Number(m[2]));
    out.set(route, byLe);
  }
  return out;
}

export interface ServerTimes {
  requests: number;
  over05msPct: number;
  over1msPct: number;
}

/** what a route's requests took inside the server between two scrapes */
export function serverTimesBetween(before: RouteBuckets, after: RouteBuckets, route: string): ServerTimes {
  const count = (b: RouteBuckets, le: string) => b.get(route)?.get(le) ?? 0;
  const diff = (le: string) => count(after, le) - count(before, le);
  const requests = diff('+Inf');
  if (requests <= 0) throw new Error(`no requests on ${route} between the scrapes`);
  return {
    requests,
    over05msPct: (100 * (requests - diff('0.0005'))) / requests,
    over1msPct: (100 * (requests - diff('0.001'))) / requests,
  };
}
