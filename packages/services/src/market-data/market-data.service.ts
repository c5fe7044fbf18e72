import multipart from '@fastify/multipart';
import { AppError, notFound, TOPICS } from '@algotrade/core';
import { candlesRepo, INTERVALS, parseCandlesCsv, symbolsRepo } from '@algotrade/adapters';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';
import { installFeedMetrics } from '../http/metrics.ts';
import { sendCsv } from '../http/csv.ts';
import { describeSymbol, FeedManager } from './feed-manager.ts';
import { HistoryDownloads } from './history-downloads.ts';
import { MarketIngest } from './ingest.ts';
import { SymbolInput } from '../http/symbol.ts';

const Sym = z.object({ symbol: SymbolInput });
const Interval = z.enum(Object.keys(INTERVALS) as [string, ...string[]]);
const When = z
  .union([z.coerce.number(), z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((v) => new Date(typeof v === 'number' ? (v < 1e11 ? v * 1000 : v) : v))
  // a number far out of range (1e308) coerces fine and makes no date
  .refine((d) => !Number.isNaN(d.getTime()), 'not a time a date can hold (ms since 1970 within ±8.64e15)');

export const marketDataService: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const { rt } = ctx;
  const symbols = symbolsRepo(rt.db.db);
  const candles = candlesRepo(rt.db.db);
  const ingest = new MarketIngest(ctx);
  const feed = new FeedManager(ctx);
  ctx.shared.marketIngest = ingest;
  await ingest.start();
  // the windows of the symbols this process ingests (Redis: one XLEN each per scrape)
  ctx.metrics.sources.windowSizes = () =>
    Promise.all([...ingest.last.keys()].map(async (symbol) => ({ symbol, size: await rt.windows.size(symbol) })));
  const downloads = new HistoryDownloads(ctx);
  ctx.onClose(() => downloads.close());
  await feed.start();
  if (feed.provider) installFeedMetrics(ctx.metrics, feed.provider.name, feed.provider.stats);
  ctx.onClose(async () => {
    await feed.stop();
    await ingest.stop();
  });

  // symbols known to exist, so the hot `latest` route needs no database round trip
  const known = new Set((await symbols.search()).map((s) => s.symbol));
  const exists = async (s: string) => known.has(s) || (!!(await symbols.get(s)) && (known.add(s), true));

  await app.register(multipart, {
    limits: { fileSize: rt.config.http.bodyLimit, files: 1, fields: 10 },
    throwFileSizeLimit: true,
  });
  app.addContentTypeParser(
    ['text/csv', 'text/plain', 'application/csv'],
    { parseAs: 'string', bodyLimit: rt.config.http.bodyLimit },
    (_req, body, done) => done(null, body),
  );

  app.register(
    async (plain) => {
      const r = plain.withTypeProvider<ZodTypeProvider>();
      r.addHook('preHandler', app.requireUser);

      r.get(
        '/symbols',
        { schema: { tags: ['market'], querystring: z.object({ q: z.string().max(40).optional() }) } },
        async (req) => symbols.search(req.query.q),
      );

      r.get('/symbols/:symbol', { schema: { tags: ['market'], params: Sym } }, async (req) => {
        const s = await symbols.get(req.params.symbol);
        if (!s) throw notFound(`symbol ${req.params.symbol}`);
        const last = ingest.last.get(s.symbol);
        const newest = last ? undefined : (await rt.windows.latest(s.symbol, 1))[0];
        return {
          ...s,
          lastPrice: last?.price ?? newest?.price ?? null,
          windowSize: await rt.windows.size(s.symbol),
          windowCapacity: rt.windows.capacity(s.symbol),
          updatedAt: last ? new Date(last.ts).toISOString() : newest ? new Date(newest.ts).toISOString() : null,
        };
      });

      for (const action of ['subscribe', 'unsubscribe'] as const)
        r.post(`/symbols/:symbol/${action}`, { schema: { tags: ['market'], params: Sym } }, async (req, reply) => {
          const sym = req.params.symbol;
          if (!(await exists(sym))) {
            if (action === 'unsubscribe' || !feed.provider) throw notFound(`symbol ${sym}`);
            await symbols.upsert(describeSymbol(sym, feed.provider.name));
            known.add(sym);
          }
          await symbols.setActive(sym, action === 'subscribe');
          await rt.bus.publish(TOPICS.symbolSubscriptions.name, sym, action, {
            symbol: sym,
            action,
            by: req.authUser!.id,
          });
          return reply.status(202).send({ symbol: sym, active: action === 'subscribe' });
        });

      // the window hands back the same string until it changes: reuse the encoded body
      const bodies = new Map<string, { ticks: string; limit: number; body: Buffer }>();
      const latestBody = async (sym: string, limit: number): Promise<Buffer> => {
        let ticks: string;
        try {
          ticks = await rt.windows.latestJson(sym, limit);
        } catch (e) {
          throw new AppError('TEMPORARILY_UNAVAILABLE', `the window store is unavailable: ${(e as Error).message}`);
        }
        const hit = bodies.get(sym);
        if (hit && hit.ticks === ticks && hit.limit === limit) return hit.body;
        const body = Buffer.from(`{"symbol":"${sym}","ticks":${ticks}}`);
        bodies.set(sym, { ticks, limit, body });
        return body;
      };
      r.get(
        '/symbols/:symbol/latest',
        {
          schema: {
            tags: ['market'],
            params: Sym,
            querystring: z.object({ limit: z.coerce.number().int().min(1).default(100) }),
          },
        },
        async (req, reply) => {
          const sym = req.params.symbol;
          const cap = rt.windows.capacity(sym);
          if (req.query.limit > cap)
            throw new AppError('VALIDATION_FAILED', `limit must be between 1 and the window size ${cap}`);
          if (!(await exists(sym))) throw notFound(`symbol ${sym}`);
          return reply.type('application/json').send(await latestBody(sym, req.query.limit));
        },
      );
      // the plain case of the same route (a known symbol, `limit` absent or in range) in the fast lane;
      // anything else in the URL sends the request to the route above
      const plainLatest = /^\/api\/market\/symbols\/([A-Za-z0-9._:-]{1,40})\/latest(?:\?limit=([1-9][0-9]{0,6}))?$/;
      ctx.lane.route({
        url: '/api/market/symbols/:symbol/latest',
        match: (url) => {
          const m = plainLatest.exec(url);
          if (!m) return undefined;
          const sym = m[1]!.toUpperCase();
          const limit = m[2] === undefined ? 100 : Number(m[2]);
          return known.has(sym) && limit <= rt.windows.capacity(sym) ? { sym, limit } : undefined;
        },
        body: ({ sym, limit }) => latestBody(sym, limit),
      });

      // same server, same auth, a constant 100-tick body: the baseline of the `latest` benchmark
      const constant = `{"symbol":"BASE","ticks":[${Array.from({ length: 100 }, (_, i) => `{"ts":"2024-01-01T00:00:00.000Z","price":${100 + i},"size":1,"bid":99,"ask":101,"seq":${i}}`).join(',')}]}`;
      r.get('/_baseline', { schema: { hide: true } }, async (_req, reply) =>
        reply.type('application/json').send(constant),
      );

      r.get(
        '/symbols/:symbol/candles',
        {
          schema: {
            tags: ['market'],
            params: Sym,
            querystring: z.object({
              interval: Interval.default('1m'),
              from: When.optional(),
              to: When.optional(),
              limit: z.coerce.number().int().min(1).max(100_000).default(500),
              /** csv: a file of ts, open, high, low, close, volume, as the history import reads it back */
              format: z.enum(['json', 'csv']).default('json'),
            }),
          },
        },
        async (req, reply) => {
          const sym = req.params.symbol;
          if (!(await exists(sym))) throw notFound(`symbol ${sym}`);
          const { interval, from, to, limit, format } = req.query;
          if (from && to && from > to) throw new AppError('VALIDATION_FAILED', 'from must be before to');
          const rows = await candles.query(sym, interval, from, to, limit);
          // the 1m candle still forming, when it is newer than what is stored
          const cur = interval === '1m' ? ingest.candles.current(sym) : undefined;
          if (cur && (!rows.length || cur.ts > rows[rows.length - 1]!.ts) && (!to || cur.ts <= to.getTime()))
            rows.push({ ...cur });
          const out = rows.slice(-limit).map((c) => ({ ...c, ts: new Date(c.ts).toISOString() }));
          if (format === 'csv')
            return sendCsv(reply, `${sym}-${interval}.csv`, out, ['ts', 'open', 'high', 'low', 'close', 'volume']);
          return out;
        },
      );

      r.post(
        '/history/import',
        {
          schema: {
            tags: ['market'],
            querystring: z.object({ symbol: Sym.shape.symbol, interval: Interval.default('1m') }),
          },
        },
        async (req) => {
          let text: string;
          if (req.isMultipart()) {
            // a form upload: the first file part is the CSV
            const part = await req.file();
            if (!part) throw new AppError('VALIDATION_FAILED', 'the form has no file part: attach the CSV as a file');
            text = (await part.toBuffer()).toString('utf8');
          } else if (typeof req.body === 'string') text = req.body;
          else
            throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the CSV as text/csv or as a multipart/form-data file');
          if (text.trim() === '') throw new AppError('VALIDATION_FAILED', 'the CSV is empty');
          const { candles: parsed, skipped, errors } = parseCandlesCsv(text);
          const { symbol, interval } = req.query;
          if (!(await exists(symbol))) {
            await symbols.upsert({ ...describeSymbol(symbol, 'import'), active: false });
            known.add(symbol);
          }
          const imported = parsed.length ? await candles.upsert(symbol, interval, parsed) : 0;
          return { symbol, interval, imported, skipped, errors };
        },
      );

      // an exchange's candle history through CCXT, in the background, with progress
      r.post(
        '/history/download',
        {
          schema: {
            tags: ['market'],
            body: z.object({
              exchange: z
                .string()
                .regex(/^[a-z0-9]{2,40}$/, 'a CCXT exchange id such as coinbaseexchange, binance or kraken'),
              market: z
                .string()
                .regex(
                  /^[A-Za-z0-9]{1,20}\/[A-Za-z0-9]{1,20}(:[A-Za-z0-9]{1,20})?$/,
                  "the exchange's market, e.g. BTC/USD",
                ),
              symbol: Sym.shape.symbol.optional(),
              timeframe: Interval.default('1m'),
              since: When,
              until: When.optional(),
            }),
          },
        },
        async (req, reply) => {
          const { until, symbol, ...rest } = req.body;
          const job = await downloads.start(req.authUser!.id, {
            ...rest,
            ...(until ? { until } : {}),
            ...(symbol ? { symbol } : {}),
          });
          return reply.status(202).send(job);
        },
      );
      r.get('/history/downloads', { schema: { tags: ['market'] } }, async (req) => downloads.list(req.authUser!.id));
      r.get(
        '/history/downloads/:id',
        { schema: { tags: ['market'], params: z.object({ id: z.uuid() }) } },
        async (req) => downloads.get(req.authUser!.id, req.params.id),
      );
    },
    { prefix: '/api/market' },
  );
};
