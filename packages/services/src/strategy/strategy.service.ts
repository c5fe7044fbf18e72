import { AppError, TOPICS, notFound } from '@algotrade/core';
import { candlesRepo, INTERVALS, strategiesRepo } from '@algotrade/adapters';
import {
  alignBars,
  checkStrategy,
  CompileCache,
  type CompiledPlan,
  describeNodeTypes,
  GraphSchema,
  graphHash,
  normaliseGraph,
  previewPlan,
  templateById,
  templates,
  toColumns,
  type Graph,
} from '@algotrade/strategy';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';
import { userOf } from '../http/auth.ts';
import { otherCandles } from './other-candles.ts';

const CandleSchema = z.object({
  ts: z.union([z.number(), z.string()]),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.number().default(0),
});
/** The graph is checked by the compiler (so errors name nodes); here only "an object" is required. */
const AnyGraph = z.object({ nodes: z.array(z.unknown()), edges: z.array(z.unknown()) }).passthrough();
const StrategyBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000).default(''),
  graph: AnyGraph,
});
const Id = z.object({ id: z.string().max(64) });

export const strategyService: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const { rt } = ctx;
  const repo = strategiesRepo(rt.db.db);
  const candles = candlesRepo(rt.db.db);
  const cache = new CompileCache();
  ctx.shared.compileCache = cache;
  const nodeTypes = describeNodeTypes();

  const compile = (graph: unknown) => {
    const r = cache.compile(graph);
    ctx.metrics.compiles.inc({ ok: String(r.report.ok) });
    return r;
  };
  // with REDIS_URL, compilation reports are shared by graph hash across instances (plans are rebuilt
  // locally: they hold closures; a report lookup skips validation on every other instance)
  let redis: import('ioredis').Redis | undefined;
  if (rt.config.redisUrl) {
    const { Redis } = await import('ioredis');
    redis = new Redis(rt.config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on('error', () => {});
    ctx.onClose(() => void redis!.quit().catch(() => {}));
  }
  const compileReport = async (graph: unknown) => {
    let hash: string | undefined;
    try {
      hash = graphHash(graph as Graph);
    } catch {
      return compile(graph).report;
    }
    const key = `algotrade:compile:${hash}`;
    const hit = redis ? await redis.get(key).catch(() => null) : null;
    if (hit) return JSON.parse(hit) as ReturnType<typeof compile>['report'];
    const report = compile(graph).report;
    if (redis) await redis.set(key, JSON.stringify(report), 'EX', 86_400).catch(() => {});
    return report;
  };
  const save = async (graph: unknown) => {
    const r = compile(graph);
    const parsed = GraphSchema.safeParse(graph);
    if (!parsed.success)
      throw new AppError('VALIDATION_FAILED', r.report.errors[0]?.message ?? 'invalid graph', r.report.errors);
    return { graph: normaliseGraph(parsed.data), report: r.report, hash: r.hash! };
  };
  const publishCompiled = (id: string, userId: string, report: { ok: boolean }) =>
    ctx.rt.bus
      .publish(TOPICS.strategyCompilations.name, id, 'strategy.compiled', { strategyId: id, userId, report })
      .catch((e) => app.log.warn({ err: e }, 'publish failed'));

  app.register(
    async (plain) => {
      const r = plain.withTypeProvider<ZodTypeProvider>();
      r.addHook('preHandler', app.requireUser);
      r.get('/node-types', { schema: { tags: ['strategy'] } }, async () => nodeTypes);
      r.get('/templates', { schema: { tags: ['strategy'] } }, async () =>
        templates.map((t) => ({ id: t.id, name: t.name, description: t.description, graph: t.graph })),
      );
      r.post(
        '/compile',
        { schema: { tags: ['strategy'], body: z.strictObject({ graph: z.unknown() }) } },
        async (req) => compileReport(req.body.graph),
      );
      /** the bars a preview or a check runs on: the candles given, or the symbol's stored ones; other symbols' aligned */
      const barsOf = async (
        plan: CompiledPlan,
        body: { candles?: z.infer<typeof CandleSchema>[]; symbol?: string; interval: string; limit: number },
      ) => {
        let bars = body.candles?.map((c) => ({ ...c, ts: typeof c.ts === 'number' ? c.ts : Date.parse(c.ts) }));
        if (!bars) {
          if (!body.symbol) throw new AppError('VALIDATION_FAILED', 'give either candles or a symbol');
          bars = await candles.query(body.symbol.toUpperCase(), body.interval, undefined, undefined, body.limit);
        }
        if (bars.some((b) => !Number.isFinite(b.ts)))
          throw new AppError('VALIDATION_FAILED', 'candles[].ts must be epoch ms or ISO-8601');
        // other symbols the graph reads: their stored candles over the same time, aligned
        const ts = bars.map((b) => b.ts);
        const stored = await otherCandles(
          plan.symbols,
          async (symbol) =>
            ts.length
              ? candles.query(
                  symbol,
                  body.interval,
                  new Date(ts[0]! - INTERVALS[body.interval]!),
                  new Date(ts.at(-1)! + 1),
                  100_000,
                )
              : [],
          `stored ${body.interval} candles over these bars`,
        );
        return { bars, others: plan.symbols.length ? stored.flatMap((o) => alignBars(ts, o)) : undefined };
      };
      const BarsBody = {
        graph: z.unknown(),
        candles: z.array(CandleSchema).max(100_000).optional(),
        symbol: z.string().max(40).optional(),
        interval: z.enum(Object.keys(INTERVALS) as [string, ...string[]]).default('1m'),
      };
      r.post(
        '/preview',
        {
          schema: {
            tags: ['strategy'],
            body: z.strictObject({ ...BarsBody, limit: z.number().int().min(1).max(100_000).default(500) }),
          },
        },
        async (req) => {
          const { report, plan } = compile(req.body.graph);
          if (!plan) return { ok: false, errors: report.errors, warnings: report.warnings, series: {}, signals: [] };
          const { bars, others } = await barsOf(plan, req.body);
          return {
            ok: true,
            errors: [],
            warnings: report.warnings,
            warmup: report.warmup,
            warmupSeconds: report.warmupSeconds,
            ...previewPlan(plan, bars, others),
          };
        },
      );
      r.post(
        '/check',
        {
          schema: {
            tags: ['strategy'],
            description:
              'Look-ahead, one-bar-at-a-time and warm-up checks of a strategy (a graph, or a saved strategy of the caller) on candles given or stored (docs/strategies.md#checking-a-strategy)',
            body: z.strictObject({
              ...BarsBody,
              graph: z.unknown().optional(),
              strategyId: z.string().max(64).optional(),
              limit: z.number().int().min(2).max(100_000).default(5000),
              cuts: z.number().int().min(1).max(500).default(60),
              starts: z.array(z.number().int().min(1).max(100_000)).min(1).max(20).optional(),
              points: z.number().int().min(1).max(200).default(20),
              tolerancePct: z.number().positive().max(100).default(0.1),
            }),
          },
        },
        async (req) => {
          // the graph sent, or the caller's saved strategy's (another user's is not found)
          let graph = req.body.graph;
          if (req.body.strategyId !== undefined) {
            if (graph !== undefined) throw new AppError('VALIDATION_FAILED', 'give either a graph or a strategyId');
            const s = await repo.get(userOf(req).id, req.body.strategyId);
            if (!s) throw notFound('strategy');
            graph = s.graph;
          } else if (graph === undefined) throw new AppError('VALIDATION_FAILED', 'give a graph or a strategyId');
          const { report, plan } = compile(graph);
          if (!plan) return { ok: false, errors: report.errors, warnings: report.warnings };
          const { bars, others } = await barsOf(plan, req.body);
          if (bars.length < 2)
            throw new AppError(
              'VALIDATION_FAILED',
              req.body.candles
                ? 'give at least two candles'
                : `fewer than two stored ${req.body.interval} candles of ${req.body.symbol}`,
            );
          const cols = toColumns(bars);
          if (others) cols.others = others;
          const { cuts, starts, points, tolerancePct } = req.body;
          const check = await checkStrategy(plan, cols, { cuts, starts, points, tolerance: tolerancePct / 100 });
          return { ok: true, errors: [], warnings: report.warnings, ...check };
        },
      );
      r.get('/', { schema: { tags: ['strategy'] } }, async (req) => repo.list(userOf(req).id));
      r.post('/', { schema: { tags: ['strategy'], body: StrategyBody } }, async (req, reply) => {
        const { graph, report, hash } = await save(req.body.graph);
        const s = await repo.create(userOf(req).id, {
          name: req.body.name,
          description: req.body.description,
          graph,
          graphHash: hash,
          report,
        });
        await publishCompiled(s.id, userOf(req).id, report);
        return reply.status(201).send(s);
      });
      r.get('/:id', { schema: { tags: ['strategy'], params: Id } }, async (req) => {
        const s = await repo.get(userOf(req).id, req.params.id);
        if (!s) throw notFound('strategy');
        return s;
      });
      r.put('/:id', { schema: { tags: ['strategy'], params: Id, body: StrategyBody.partial() } }, async (req) => {
        const next = req.body.graph ? await save(req.body.graph) : undefined;
        const s = await repo.update(userOf(req).id, req.params.id, {
          name: req.body.name,
          description: req.body.description,
          ...(next ? { graph: next.graph, graphHash: next.hash, report: next.report } : {}),
        });
        if (!s) throw notFound('strategy');
        if (next) await publishCompiled(s.id, userOf(req).id, next.report);
        return s;
      });
      const VersionParams = z.object({
        id: z.string().max(64),
        version: z.coerce.number().int().min(1).max(1_000_000_000),
      });
      r.get('/:id/versions', { schema: { tags: ['strategy'], params: Id } }, async (req) => {
        const v = await repo.versions(userOf(req).id, req.params.id);
        if (!v) throw notFound('strategy');
        return v;
      });
      r.get('/:id/versions/:version', { schema: { tags: ['strategy'], params: VersionParams } }, async (req) => {
        const v = await repo.version(userOf(req).id, req.params.id, req.params.version);
        if (!v) throw notFound('strategy version');
        return v;
      });
      // the version's graph saved as the strategy's (a new version when it behaves otherwise than the latest)
      r.post(
        '/:id/versions/:version/restore',
        { schema: { tags: ['strategy'], params: VersionParams } },
        async (req) => {
          const v = await repo.version(userOf(req).id, req.params.id, req.params.version);
          if (!v) throw notFound('strategy version');
          const next = await save(v.graph);
          const s = await repo.update(userOf(req).id, req.params.id, {
            graph: next.graph,
            graphHash: next.hash,
            report: next.report,
          });
          if (!s) throw notFound('strategy');
          await publishCompiled(s.id, userOf(req).id, next.report);
          return s;
        },
      );
      r.delete('/:id', { schema: { tags: ['strategy'], params: Id } }, async (req, reply) => {
        if (!(await repo.delete(userOf(req).id, req.params.id))) throw notFound('strategy');
        return reply.status(204).send();
      });
      r.post(
        '/templates/:templateId',
        {
          schema: {
            tags: ['strategy'],
            params: z.object({ templateId: z.string().max(64) }),
            body: z.strictObject({ name: z.string().min(1).max(200).optional() }).nullish(),
          },
        },
        async (req, reply) => {
          const t = templateById(req.params.templateId);
          if (!t) throw notFound('template');
          const { graph, report, hash } = await save(t.graph as Graph);
          const s = await repo.create(userOf(req).id, {
            name: req.body?.name ?? t.name,
            description: t.description,
            graph,
            graphHash: hash,
            report,
          });
          await publishCompiled(s.id, userOf(req).id, report);
          return reply.status(201).send(s);
        },
      );
    },
    { prefix: '/api/strategies' },
  );
};
