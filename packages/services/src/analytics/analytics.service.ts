import {
  AppError,
  notFound,
  paysFunding,
  monteCarlo,
  storedLedger,
  type PaperConfig,
  riskExtras,
  riskReport,
  roundTrips,
  sampledExcursions,
  sessionActivity,
  type Fill,
  type TradeRecord,
} from '@algotrade/core';
import { backtestsRepo, forwardTestsRepo, type SessionRow } from '@algotrade/adapters';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';
import { userOf } from '../http/auth.ts';
import type { ForwardTestEngine } from '../forward-test/engine.ts';

const Id = z.object({ id: z.string().max(64) });

/** JSON has no NaN or Infinity: undefined ratios (no losses, too few returns) become null. */
const finite = <T>(o: T): T =>
  JSON.parse(JSON.stringify(o, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as T;

/**
 * Analytics: the user's portfolio over all forward-test sessions, and a full risk and performance
 * report (the statistics table plus VaR/CVaR, skew, kurtosis, Omega, streaks, long/short) for one
 * session or one backtest. Reads what forward testing and backtesting stored; live values come from
 * the in-process engine when there is one.
 */
export const analyticsService: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const { rt } = ctx;
  const sessions = forwardTestsRepo(rt.db.db);
  const backtests = backtestsRepo(rt.db.db);
  const engine = () => ctx.shared.forwardTestEngine as ForwardTestEngine | undefined;

  const summary = (r: SessionRow) => {
    const live = engine()?.sessions.get(r.id);
    const cfg = r.config as { startingBalance: number };
    const l = live?.ledger ?? storedLedger(cfg as PaperConfig, r.state);
    const price = l.lastPrice || l.avgPrice;
    const equity = l.cash + l.qty * price;
    return {
      id: r.id,
      symbol: r.symbol,
      status: live?.status ?? r.status,
      startingBalance: cfg.startingBalance,
      equity,
      pnl: equity - cfg.startingBalance,
      returnPct: ((equity - cfg.startingBalance) / cfg.startingBalance) * 100,
      realizedPnl: l.realizedPnl,
      fees: l.fees,
      positionValue: l.qty * price,
      maxDrawdownPct: l.maxDrawdownPct,
      trades: l.fills,
    };
  };

  const routes = async (plain: typeof app) => {
    const r = plain.withTypeProvider<ZodTypeProvider>();
    r.addHook('preHandler', app.requireUser);

    r.get('/portfolio', { schema: { tags: ['analytics'] } }, async (req) => {
      const rows = await sessions.list(userOf(req).id, 10_000);
      const list = rows.map(summary);
      const sum = (f: (s: (typeof list)[number]) => number) => list.reduce((a, s) => a + f(s), 0);
      const start = sum((s) => s.startingBalance);
      const equity = sum((s) => s.equity);
      const byStatus: Record<string, number> = {};
      for (const s of list) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
      const ranked = [...list].sort((a, b) => b.returnPct - a.returnPct);
      return finite({
        sessions: list.length,
        byStatus,
        startingBalance: start,
        equity,
        pnl: equity - start,
        returnPct: start ? ((equity - start) / start) * 100 : 0,
        realizedPnl: sum((s) => s.realizedPnl),
        fees: sum((s) => s.fees),
        exposure: sum((s) => Math.abs(s.positionValue)),
        trades: sum((s) => s.trades),
        best: ranked[0] ?? null,
        worst: ranked[ranked.length - 1] ?? null,
        perSession: list,
      });
    });

    r.get('/sessions/:id', { schema: { tags: ['analytics'], params: Id } }, async (req) => {
      const row = await sessions.get(req.params.id, userOf(req).id);
      if (!row) throw notFound('forward test');
      const [trades, points, events] = await Promise.all([
        sessions.trades(row.id, { limit: 100_000 }),
        sessions.equity(row.id, 100_000),
        sessions.events(row.id, 10_000),
      ]);
      // how much of its life it traded, to its latest mark or change (market time)
      const activity = sessionActivity(
        events,
        Math.max(points.at(-1)?.ts ?? 0, ...events.map((e) => Date.parse(e.ts ?? e.at))),
      );
      if (points.length < 2)
        return {
          sessionId: row.id,
          symbol: row.symbol,
          status: row.status,
          summary: finite(summary(row)),
          activity: finite(activity),
          report: null,
          reason: 'fewer than two equity points yet: the report starts once the session has run a while',
        };
      const fills: Fill[] = trades.map((t) => ({ ...t, ts: Date.parse(t.ts) }));
      // with funding: what each fill's ledger had paid in all, so each round trip carries its position's
      if (paysFunding(row.config as { fundingRatePct?: number; borrowRatePct?: number })) {
        const paid = await sessions.fundingAfterFills(row.id, 100_000);
        fills.forEach((f, i) => (f.fundingAfter = paid[i]));
      }
      const time = points.map((p) => p.ts);
      const prices = points.map((p) => p.price ?? NaN);
      const report = riskReport({
        equity: points.map((p) => p.equity),
        time,
        close: points.map((p) => p.price ?? p.equity),
        // excursions from the prices the equity points were taken at (every equity interval)
        trades: sampledExcursions(roundTrips(fills), time, prices),
        totalFees: fills.reduce((a, f) => a + f.fee, 0),
      });
      return finite({
        sessionId: row.id,
        symbol: row.symbol,
        status: row.status,
        summary: summary(row),
        activity,
        report,
      });
    });

    /** a done backtest of the caller's, with its stored trades and equity */
    async function storedRun(id: string, userId: string) {
      const row = await backtests.get(id, userId);
      if (!row) throw notFound('backtest');
      if (row.status !== 'done' || !row.artifactKey)
        throw new AppError('CONFLICT', `the backtest is ${row.status}; its report exists once it is done`);
      const bytes = await rt.store.get(row.artifactKey);
      if (!bytes) throw new AppError('INTERNAL', 'the stored results are missing');
      const art = JSON.parse(new TextDecoder().decode(bytes)) as {
        trades: (Omit<TradeRecord, 'entryTime' | 'exitTime'> & { entryTime: string; exitTime: string })[];
        equity: { ts: number[]; equity: number[] };
      };
      const trades: TradeRecord[] = art.trades.map((t) => ({
        ...t,
        entryTime: Date.parse(t.entryTime),
        exitTime: Date.parse(t.exitTime),
      }));
      return { row, art, trades };
    }

    r.get('/backtests/:id', { schema: { tags: ['analytics'], params: Id } }, async (req) => {
      const { row, art, trades } = await storedRun(req.params.id, userOf(req).id);
      const extras = riskExtras({ equity: art.equity.equity, time: art.equity.ts, trades });
      return finite({
        backtestId: row.id,
        symbol: row.symbol,
        interval: row.interval,
        report: { ...row.metrics, ...extras },
      });
    });

    r.get(
      '/backtests/:id/monte-carlo',
      {
        schema: {
          tags: ['analytics'],
          params: Id,
          querystring: z.strictObject({
            runs: z.coerce.number().int().min(10).max(100_000).default(1000),
            method: z.enum(['shuffle', 'bootstrap']).default('bootstrap'),
            seed: z.coerce
              .number()
              .int()
              .min(0)
              .max(2 ** 31)
              .default(1),
          }),
        },
      },
      async (req) => {
        const { row, art, trades } = await storedRun(req.params.id, userOf(req).id);
        if (trades.length < 2)
          throw new AppError(
            'UNPROCESSABLE',
            `the backtest made ${trades.length} trades; a Monte Carlo needs two or more`,
          );
        const { runs, method, seed } = req.query;
        if (runs * trades.length > 50_000_000)
          throw new AppError(
            'VALIDATION_FAILED',
            `${runs} runs of ${trades.length} trades is too much work; at most ${Math.floor(50_000_000 / trades.length)} runs for this backtest`,
          );
        // the cash the run started with (its equity curve's first point is after the first bar)
        const start = Number((row.parameters as { startingBalance?: number }).startingBalance ?? art.equity.equity[0]);
        return finite({
          backtestId: row.id,
          ...monteCarlo(
            start,
            trades.map((t) => t.pnl),
            { runs, method, seed },
          ),
        });
      },
    );
  };
  await app.register(routes, { prefix: '/api/analytics' });
};
