import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Histogram } from 'prom-client';
import { bearerToken, isGatewayKey, type AuthUser } from './auth.ts';

/** A rate-limit store as @fastify/rate-limit calls it (LocalCountStore in one process, sharedCountStore on Redis). */
export interface CountStore {
  incr(
    key: string,
    cb: (err: Error | null, res?: { current: number; ttl: number }) => void,
    timeWindow: number,
    max: number,
  ): void;
}

/**
 * A GET route the fast lane may answer. `match` is synchronous and says whether the lane can answer
 * this URL with a 200 (anything else: undefined, and Fastify answers it); `body` produces the JSON.
 */
export interface FastRoute<P> {
  /** the route's pattern as Fastify registered it (the metrics label) */
  url: string;
  match(url: string): P | undefined;
  body(params: P): Promise<Buffer>;
}

export interface FastLaneOptions {
  /** the user of a bearer token verified before and not yet expired (no signature check here) */
  user(token: string): AuthUser | undefined;
  /** the same store instance the rate-limit plugin counts in, with its window and per-user limit */
  limits: { store: CountStore; timeWindow: number; max: number };
  /** headers every answer of the app carries whatever the route (security headers, CORS without Origin) */
  headers: readonly [string, string][];
  /** the HTTP latency histogram (`method`, `route`, `status`) the app's onResponse hook observes */
  http?: Histogram<'method' | 'route' | 'status'>;
  log: { error(obj: object, msg: string): void };
  /**
   * In a service behind a gateway: the header carrying the gateway's key, the key, and the headers
   * of a forwarded answer (the gateway added the security headers and counted the request, so the
   * service adds neither: only CORS's). A wrong key goes to Fastify.
   */
  gateway?: { header: string; key: Buffer; headers: readonly [string, string][] };
}

/**
 * The platform's hottest read, `GET /api/market/symbols/:symbol/latest`, answered straight from the
 * HTTP server's `request` event when it is the plain case: a bearer token already verified, a known
 * symbol, a plain `limit`, no Origin header, within the caller's rate limit. It does what Fastify's
 * hook chain does for that request (request id, security and CORS headers, rate limit count and
 * headers, the latency metric) for about the CPU of a bare `node:http` server (1.5-1.8 times the
 * hook chain's throughput at saturation), and everything else (a first token, validation errors,
 * unknown symbols, CORS, 429s, store failures) falls through to Fastify unchanged. fast-lane.test.ts
 * compares its answers with Fastify's, header by header, over a real socket.
 */
export class FastLane {
  /** answers the lane gave (the rest went to Fastify) */
  answered = 0;
  private routes: FastRoute<unknown>[] = [];
  private opts?: FastLaneOptions;
  /** the fixed headers as `writeHead` takes them (name, value, name, value...), flattened once */
  private edgeHeaders: string[] = [];
  private forwardedHeaders: string[] = [];
  /** requests the lane counted against the rate limit before handing them to Fastify */
  readonly counted = new WeakSet<IncomingMessage>();

  constructor(readonly enabled: boolean) {}

  /** switched on once the app's auth, limits and metrics exist (until then every request goes to Fastify) */
  configure(opts: FastLaneOptions): void {
    this.opts = opts;
    this.edgeHeaders = opts.headers.flat();
    this.forwardedHeaders = opts.gateway?.headers.flat() ?? [];
  }

  route<P>(r: FastRoute<P>): void {
    this.routes.push(r as FastRoute<unknown>);
  }

  /**
   * The server's `request` listener in front of Fastify's: answers what the lane can, and hands the
   * rest to `next` (Fastify) untouched.
   */
  handle(req: IncomingMessage, res: ServerResponse, next: (req: IncomingMessage, res: ServerResponse) => void): void {
    let taken = false;
    try {
      taken = this.take(req, res, next);
    } catch (err) {
      // a defect here must not cost the request: until the lane has taken it, Fastify can have it
      this.opts?.log.error({ err }, 'fast lane failed on a request; Fastify answers it');
    }
    if (!taken) next(req, res);
  }

  /** false: the request is Fastify's (nothing was counted or written) */
  private take(
    req: IncomingMessage,
    res: ServerResponse,
    next: (req: IncomingMessage, res: ServerResponse) => void,
  ): boolean {
    const o = this.opts;
    if (!o || !this.enabled || req.method !== 'GET' || this.routes.length === 0) return false;
    const h = req.headers;
    if (h.origin !== undefined || h.authorization === undefined) return false;
    // the route first: most requests are for other routes, and this is the cheapest way to say so
    const url = req.url!;
    let route: FastRoute<unknown> | undefined;
    let params: unknown;
    for (const r of this.routes) {
      params = r.match(url);
      if (params !== undefined) {
        route = r;
        break;
      }
    }
    if (!route) return false;
    let forwarded = false;
    if (o.gateway && h[o.gateway.header] !== undefined) {
      if (!isGatewayKey(h[o.gateway.header], o.gateway.key)) return false;
      forwarded = true;
    }
    const token = bearerToken(h.authorization);
    const user = token === undefined ? undefined : o.user(token);
    if (!user) return false;
    const start = performance.now();
    if (forwarded) {
      // the gateway counted it: a failure is Fastify's to answer as it stands
      this.serve(req, res, route, params, start, this.forwardedHeaders, [], () => next(req, res));
      return true;
    }
    const { store, timeWindow, max } = o.limits;
    store.incr(
      `u:${user.id}`,
      (err, count) => {
        // over the limit: Fastify counts it again (still over) and answers the 429 with its headers
        if (!err && count!.current > max) return next(req, res);
        // the store unreachable: let it through, as the plugin's skipOnError does (and with its headers)
        const current = err ? 0 : count!.current;
        const ttl = err ? 0 : count!.ttl;
        const limits = [
          'x-ratelimit-limit',
          String(max),
          'x-ratelimit-remaining',
          String(Math.max(0, max - current)),
          'x-ratelimit-reset',
          String(Math.ceil(ttl / 1000)),
        ];
        this.serve(req, res, route, params, start, this.edgeHeaders, limits, () => {
          // Fastify answers the failure (503 and its log line); the request is already counted
          this.counted.add(req);
          next(req, res);
        });
      },
      timeWindow,
      max,
    );
    return true;
  }

  /** the route's body, then the answer; a failing body goes to `fallback` (Fastify) */
  private serve(
    req: IncomingMessage,
    res: ServerResponse,
    route: FastRoute<unknown>,
    params: unknown,
    start: number,
    fixed: readonly string[],
    limits: readonly string[],
    fallback: () => void,
  ): void {
    route
      .body(params)
      .then((body) => this.answer(req, res, route.url, start, body, fixed, limits), fallback)
      .catch((err: unknown) => {
        this.opts!.log.error({ err }, 'fast lane failed to answer a request');
        res.destroy();
      });
  }

  private answer(
    req: IncomingMessage,
    res: ServerResponse,
    url: string,
    start: number,
    body: Buffer,
    fixed: readonly string[],
    limits: readonly string[],
  ): void {
    const id = req.headers['x-request-id'];
    const headers = fixed.concat(limits);
    headers.push(
      'x-request-id',
      typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : randomUUID(),
      'content-type',
      'application/json',
      'content-length',
      String(body.length),
    );
    res.writeHead(200, headers);
    res.end(body);
    this.answered++;
    this.opts!.http?.observe({ method: 'GET', route: url, status: '200' }, (performance.now() - start) / 1000);
  }
}

/**
 * The headers a Connect-style middleware (helmet) sets on every answer, recorded once by running it
 * against a stand-in response: the lane adds the same ones without running it per request.
 */
export function recordHeaders(
  mw: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void,
): [string, string][] {
  // by lower-case name, keeping the name as the middleware wrote it (the answer carries it so)
  const set = new Map<string, [string, string]>();
  const res = {
    setHeader: (k: string, v: string | number | readonly string[]) => void set.set(k.toLowerCase(), [k, String(v)]),
    removeHeader: (k: string) => void set.delete(k.toLowerCase()),
    getHeader: (k: string) => set.get(k.toLowerCase())?.[1],
  };
  let done = false;
  mw(
    { headers: {}, method: 'GET', url: '/' } as IncomingMessage,
    res as unknown as ServerResponse,
    () => (done = true),
  );
  if (!done) throw new Error('the middleware did not finish synchronously');
  return [...set.values()];
}
