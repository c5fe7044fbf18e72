import { randomUUID } from 'node:crypto';
import { AppError, notFound } from '@algotrade/core';
import { backtestsRepo, INTERVALS, strategiesRepo, type BacktestRow } from '@algotrade/adapters';
import {
  compileGraph,
  EnginePool,
  normaliseGraph,
  GraphSchema,
  renderReport,
  toColumns,
  type Graph,
} from '@algotrade/strategy';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';
import { userOf } from '../http/auth.ts';
import { BACKTEST_QUEUE, candlesOf, processBacktest } from './worker.ts';

const Id = z.object({ id: z.string().max(64) });
const When = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);
const Base = {
  strategyId: z.string().uuid().optional(),
  graph: z.unknown().optional(),
  symbol: z
    .string()
    .min(1)
    .max(40)
    .transform((s) => s.toUpperCase()),
  interval: z.enum(Object.keys(INTERVALS) as [string, ...string[]]).default('1d'),
  from: When.optional(),
  to: When.optional(),
  startingBalance: z.number().positive().max(1e12).default(100_000),
  feeRate: z.number().min(0).max(0.1).default(0),
  feeFixed: z.number().min(0).max(1e6).default(0),
  slippageBps: z.number().min(0).max(1000).default(0),
  allowShort: z.boolean().default(false),
  fillOn: z.enum(['next_open', 'close']).default('next_open'),
};
const CreateBody = z.strictObject(Base);
const SweepBody = z.strictObject({
  ...Base,
  params: z.record(
    z.string().regex(/^[^.]+\.[^.]+$/, 'keys look like "nodeId.param"'),
    z
      .array(z.union([z.number(), z.string()]))
      .min(1)
      .max(100),
  ),
  rankBy: z
    .enum(['sharpe', 'sortino', 'returnPct', 'calmar', 'profitFactor', 'sqn', 'maxDrawdownPct'])
    .default('sharpe'),
});
const MAX_SWEEP = 500;

const view = (r: BacktestRow) => ({
  id: r.id,
  status: r.status,
  progress: r.progress,
  symbol: r.symbol,
  interval: r.interval,
  strategyId: r.strategyId,
  sweepId: r.sweepId,
  parameters: r.parameters,
  metrics: r.metrics,
  ...(r.error ? { error: r.error } : {}),
  createdAt: r.createdAt,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
});

export const backtestService: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const { rt } = ctx;
  const repo = backtestsRepo(rt.db.db);
  const strategies = strategiesRepo(rt.db.db);

  // in-process worker (embedded, or a backtest service that also works); BACKTEST_WORKER=0 turns it off
  if (process.env.BACKTEST_WORKER !== '0') {
    // embedded: jobs run on worker threads, one per core, so sweeps use the whole machine
    const pool = rt.queue.kind === 'memory' ? new EnginePool() : undefined;
    if (pool) ctx.onClose(() => pool.close());
    await rt.queue.process<{ backtestId: string }>(BACKTEST_QUEUE, (job) => processBacktest(rt, job, pool), {
      concurrency: pool?.size ?? 1,
    });
  }
  ctx.metrics.sources.queueDepth = async () => [{ queue: BACKTEST_QUEUE, ...(await rt.queue.counts(BACKTEST_QUEUE)) }];
  // jobs the database still shows unfinished (a crash, a restart) go back on the queue: at most one retry
  for (const r of await repo.unfinished()) await rt.queue.add(BACKTEST_QUEUE, { backtestId: r.id }, { jobId: r.id });

  async function resolveGraph(
    userId: string,
    body: { strategyId?: string; graph?: unknown },
  ): Promise<{ graph: Graph; strategyId: string | null }> {
    if (body.strategyId) {
      const s = await strategies.get(userId, body.strategyId);
      if (!s) throw notFound('strategy');
      return { graph: s.graph as Graph, strategyId: s.id };
    }
    if (body.graph === undefined) throw new AppError('VALIDATION_FAILED', 'give a strategyId or a graph');
    const { report } = compileGraph(body.graph);
    if (!report.ok)
      throw new AppError(
        'VALIDATION_FAILED',
        `the graph does not compile: ${report.errors[0]?.message}`,
        report.errors,
      );
    return { graph: normaliseGraph(GraphSchema.parse(body.graph)), strategyId: null };
  }
  const paramsOf = (b: z.infer<typeof CreateBody>) => ({
    from: b.from,
    to: b.to,
    startingBalance: b.startingBalance,
    feeRate: b.feeRate,
    feeFixed: b.feeFixed,
    slippageBps: b.slippageBps,
    allowShort: b.allowShort,
    fillOn: b.fillOn,
  });
  async function mine(req: { params: { id: string } }, userId: string) {
    const r = await repo.get(req.params.id, userId);
    if (!r) throw notFound('backtest');
    return r;
  }
  async function artifact(r: BacktestRow) {
    if (r.status !== 'done' || !r.artifactKey)
      throw new AppError('CONFLICT', `the backtest is ${r.status}; results exist once it is done`);
    const bytes = await rt.store.get(r.artifactKey);
    if (!bytes) throw new AppError('INTERNAL', 'the stored results are missing');
    return JSON.parse(new TextDecoder().decode(bytes)) as {
      trades: unknown[];
      equity: { ts: number[]; equity: number[] };
    };
  }

  app.register(
    async (plain) => {
      const r = plain.withTypeProvider<ZodTypeProvider>();
      r.addHook('preHandler', app.requireUser);

      r.post('/', { schema: { tags: ['backtest'], body: CreateBody } }, async (req, reply) => {
        const user = userOf(req);
        const { graph, strategyId } = await resolveGraph(user.id, req.body);
        const row = await repo.create({
          userId: user.id,
          strategyId,
          snapshot: graph,
          symbol: req.body.symbol,
          interval: req.body.interval,
          parameters: paramsOf(req.body),
        });
        await rt.queue.add(BACKTEST_QUEUE, { backtestId: row.id }, { jobId: row.id });
        ctx.metrics.backtests.inc({ status: 'queued' });
        return reply.status(202).send({ id: row.id, status: 'queued' });
      });

      r.get('/', { schema: { tags: ['backtest'] } }, async (req) => (await repo.list(userOf(req).id)).map(view));

      r.post('/sweep', { schema: { tags: ['backtest'], body: SweepBody } }, async (req, reply) => {
        const user = userOf(req);
        const { graph, strategyId } = await resolveGraph(user.id, req.body);
        const keys = Object.keys(req.body.params);
        let combos: Record<string, number | string>[] = [{}];
        for (const k of keys) combos = combos.flatMap((c) => req.body.params[k]!.map((v) => ({ ...c, [k]: v })));
        if (combos.length > MAX_SWEEP)
          throw new AppError('VALIDATION_FAILED', `the grid has ${combos.length} combinations; at most ${MAX_SWEEP}`);
        const variants = combos.map((combo) => {
          const g = structuredClone(graph);
          for (const [k, v] of Object.entries(combo)) {
            const [nodeId, param] = k.split('.') as [string, string];
            const node = g.nodes.find((n) => n.id === nodeId);
            if (!node) throw new AppError('VALIDATION_FAILED', `the strategy has no node "${nodeId}"`);
            node.data = { ...node.data, [param]: v };
          }
          const rep = compileGraph(g).report;
          if (!rep.ok)
            throw new AppError(
              'VALIDATION_FAILED',
              `combination ${JSON.stringify(combo)} does not compile: ${rep.errors[0]?.message}`,
              rep.errors,
            );
          return { g, combo };
        });
        const sweepId = randomUUID();
        const ids: string[] = [];
        for (const { g, combo } of variants) {
          const row = await repo.create({
            userId: user.id,
            strategyId,
            sweepId,
            snapshot: g,
            symbol: req.body.symbol,
            interval: req.body.interval,
            parameters: { ...paramsOf(req.body), combo, rankBy: req.body.rankBy },
          });
          await rt.queue.add(BACKTEST_QUEUE, { backtestId: row.id }, { jobId: row.id });
          ids.push(row.id);
        }
        return reply.status(202).send({ sweepId, jobs: ids.length, ids, rankBy: req.body.rankBy });
      });

      r.get('/sweeps/:id', { schema: { tags: ['backtest'], params: Id } }, async (req) => {
        const rows = await repo.list(userOf(req).id, { sweepId: req.params.id, limit: MAX_SWEEP });
        if (!rows.length) throw notFound('sweep');
        const rankBy = (rows[0]!.parameters.rankBy as string) ?? 'sharpe';
        const done = rows.filter((x) => x.status === 'done');
        const score = (x: BacktestRow) => {
          const v = x.metrics?.[rankBy];
          return typeof v === 'number' ? v : -Infinity;
        };
        const ranked = done
          .sort((a, b) => score(b) - score(a))
          .map((x, i) => ({
            rank: i + 1,
            id: x.id,
            combo: x.parameters.combo,
            [rankBy]: x.metrics?.[rankBy] ?? null,
            metrics: x.metrics,
          }));
        return {
          sweepId: req.params.id,
          rankBy,
          total: rows.length,
          done: done.length,
          progress:
            rows.reduce((s, x) => s + (x.status === 'done' || x.status === 'failed' ? 1 : x.progress), 0) / rows.length,
          ranked,
        };
      });

      r.get('/:id', { schema: { tags: ['backtest'], params: Id } }, async (req) =>
        view(await mine(req, userOf(req).id)),
      );

      r.post('/:id/cancel', { schema: { tags: ['backtest'], params: Id } }, async (req) => {
        const row = await mine(req, userOf(req).id);
        if (row.status !== 'queued' && row.status !== 'running')
          throw new AppError('CONFLICT', `the backtest is already ${row.status}`);
        await rt.queue.cancel(BACKTEST_QUEUE, row.id);
        await repo.update(row.id, { status: 'cancelled', finishedAt: new Date() });
        return { id: row.id, status: 'cancelled' };
      });

      r.delete('/:id', { schema: { tags: ['backtest'], params: Id } }, async (req, reply) => {
        const row = await mine(req, userOf(req).id);
        await rt.queue.cancel(BACKTEST_QUEUE, row.id).catch(() => false);
        if (row.artifactKey) await rt.store.delete(row.artifactKey).catch(() => {});
        await repo.delete(row.id, userOf(req).id);
        return reply.status(204).send();
      });

      r.get(
        '/:id/trades',
        { schema: { tags: ['backtest'], params: Id } },
        async (req) => (await artifact(await mine(req, userOf(req).id))).trades,
      );

      r.get('/:id/equity', { schema: { tags: ['backtest'], params: Id } }, async (req) => {
        const a = await artifact(await mine(req, userOf(req).id));
        let peak = -Infinity;
        return a.equity.ts.map((t, i) => {
          const e = a.equity.equity[i]!;
          peak = Math.max(peak, e);
          return { ts: new Date(t).toISOString(), equity: e, drawdownPct: -(1 - e / peak) * 100 };
        });
      });

      r.get('/:id/report', { schema: { tags: ['backtest'], params: Id } }, async (req, reply) => {
        const row = await mine(req, userOf(req).id);
        const a = await artifact(row);
        const cols = toColumns(await candlesOf(rt, row));
        const { computeStats } = await import('@algotrade/core');
        const trades = (a.trades as { entryTime: string; exitTime: string }[]).map((t) => ({
          ...t,
          entryTime: Date.parse(t.entryTime),
          exitTime: Date.parse(t.exitTime),
        })) as never[];
        const stats = {
          ...computeStats({ equity: a.equity.equity, time: a.equity.ts, close: cols.close, trades }),
          ...(row.metrics ?? {}),
        } as never;
        const html = renderReport({
          title: `Backtest ${row.symbol} ${row.interval} (${row.id.slice(0, 8)})`,
          time: cols.ts,
          open: cols.open,
          high: cols.high,
          low: cols.low,
          close: cols.close,
          equity: a.equity.equity,
          trades,
          stats,
        });
        return reply.type('text/html; charset=utf-8').send(html);
      });
    },
    { prefix: '/api/backtests' },
  );
};
