import {
  AppError,
  computeStats,
  newLedger,
  notFound,
  roundTrips,
  storedLedger,
  TOPICS,
  type Fill,
} from '@algotrade/core';
import { forwardTestsRepo, strategiesRepo, symbolsRepo, type SessionRow } from '@algotrade/adapters';
import { CompileCache, normaliseWeights, renderReport, timelineSpans, type Graph } from '@algotrade/strategy';
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EvaluationBody, evaluationOf } from './evaluation.ts';
import type { ServiceContext } from '../context.ts';
import { userOf } from '../http/auth.ts';
import { sendCsv } from '../http/csv.ts';
import { describeSymbol } from '../market-data/feed-manager.ts';
import { DEFAULT_KUBERNETES_RUNNER, externalLauncher, kubernetesLauncher } from './launcher.ts';
import { ForwardTestEngine, ledgerFigures } from './engine.ts';
import type { SessionSettings } from './live-session.ts';
import { hasBracket, openOrderView, readOpenOrders, type OpenOrder } from './open-orders.ts';
import { mergeEquity, PortfolioWatch, type PortfolioLimits } from './paper-portfolio.ts';
import { compiledStrategy } from '../strategy/compiled-strategy.ts';
import { SymbolInput } from '../http/symbol.ts';
import { linkNext, PageQuery } from '../http/pages.ts';
import { ExchangeInput, exchangeOf, SymbolRulesInput, checkSymbolRules } from '../http/exchange.ts';
import { MarginInput, marginOf } from '../http/margin.ts';
import { PortfolioRiskInput, RiskInput } from '../http/risk.ts';

const Id = z.object({ id: z.string().max(64) });
const ListQuery = z.strictObject({
  ...PageQuery(500, 1000),
  status: z.enum(['created', 'running', 'paused', 'stopped', 'failed']).optional(),
  symbol: SymbolInput.optional(),
  strategyId: z.string().max(64).optional(),
});
const OpenOrderId = z.object({ id: z.string().max(64), orderId: z.string().min(1).max(64) });
const SessionBody = {
  strategyId: z.string().uuid(),
  name: z.string().max(200).optional(),
  startingBalance: z.number().positive().max(1e12).default(100_000),
  feeRate: z.number().min(0).max(0.1).default(0),
  feeFixed: z.number().min(0).max(1e6).default(0),
  /** an exchange's rules: a maker's fee rate, a lot size, a minimum order value, a short's borrow rate */
  ...ExchangeInput,
  slippageBps: z.number().min(0).max(1000).default(0),
  allowShort: z.boolean().default(false),
  /** whole units; default: fractional for crypto pairs, whole for everything else */
  wholeUnits: z.boolean().optional(),
  ...MarginInput,
  evaluation: EvaluationBody,
  risk: RiskInput.default({}),
  /** start at once (default) or stay `created` until POST .../start */
  start: z.boolean().default(true),
};
const CreateBody = z.strictObject({ ...SessionBody, symbol: SymbolInput });
/** A session's place in its paper portfolio (its config's `portfolio`), with the portfolio's limits. */
interface PortfolioConfig {
  id: string;
  weight: number;
  leg: number;
  risk?: PortfolioLimits;
  /** each change of `risk` while it ran, oldest first (the last 100) */
  riskChanges?: { at: string; risk: PortfolioLimits | null }[];
}
/** a paper portfolio: the strategy on each symbol, each session with its weight's share of the money */
const PortfolioBody = z
  .strictObject({
    ...SessionBody,
    symbols: z.array(SymbolInput).min(2).max(20),
    weights: z.array(z.number().positive().max(1e6)).max(20).optional(),
    /** each symbol's lot size and minimum order value, over qtyStep and minNotional (http/exchange.ts) */
    symbolRules: SymbolRulesInput.optional(),
    /** limits on the summed equity, on top of each session's own `risk` */
    portfolioRisk: PortfolioRiskInput.optional(),
  })
  .refine((b) => new Set(b.symbols).size === b.symbols.length, { message: 'each symbol once', path: ['symbols'] })
  .refine((b) => !b.weights || b.weights.length === b.symbols.length, {
    message: 'one weight per symbol',
    path: ['weights'],
  })
  .superRefine(checkSymbolRules);
const PortfolioVerb = z.object({ id: z.string().uuid(), verb: z.enum(['start', 'pause', 'resume', 'stop']) });
const PortfolioId = z.object({ id: z.string().uuid() });
const AsCsv = z.enum(['json', 'csv']).default('json');
const TradesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  offset: z.coerce.number().int().min(0).default(0),
  // in the order applied (the ledger's), or newest first
  order: z.enum(['asc', 'desc']).default('asc'),
  format: AsCsv,
});
const OrdersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).default(500),
  status: z.enum(['filled', 'refused', 'noop']).optional(),
  format: AsCsv,
});
/** the market minutes a limit or stop order by hand rests, 1 to 90 days */
const ValidMinutes = z
  .number()
  .int()
  .min(1)
  .max(60 * 24 * 90);
/** an order by hand's price or amount */
const Positive = z.number().positive().max(1e15);
/** a name of yours on an order by hand (its clientOrderId, its ocoGroup) */
const ClientId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');
/** a trailing stop by hand's distance from the best price since placed, % */
const TrailPercent = z.number().gt(0).max(50);
/** an order by hand (engine.manualOrder): at the market now, sized as an action node's */
const OrderBody = z
  .strictObject({
    action: z.enum(['buy', 'sell', 'close']),
    /** buy/sell: all the equity, a % of it, an amount of cash, or a number of units (as an action node's) */
    sizing: z.enum(['all', 'pct_equity', 'fixed_cash', 'fixed_qty']).optional(),
    amount: Positive.optional(),
    /** close: the share of the position to close, % (absent: all of it) */
    percent: z.number().gt(0).max(100).optional(),
    /** yours, to place it once: the same id again answers the order it placed (200) */
    clientOrderId: ClientId.optional(),
    /** market (the default): now; limit: at `price` or better; stop: at the market once the price reaches `price` */
    type: z.enum(['market', 'limit', 'stop', 'trailing_stop']).optional(),
    price: Positive.optional(),
    /** trailing_stop: its distance from the best price since placed, % (the price follows from it) */
    trailPercent: TrailPercent.optional(),
    /** limit or stop: market minutes it rests before it lapses (absent: until it fills or is cancelled) */
    validMinutes: ValidMinutes.optional(),
    /** buy or sell: a bracket, the prices its position's stop and target close at once it fills */
    stopLoss: Positive.optional(),
    takeProfit: Positive.optional(),
    /** buy or sell: a bracket's trailing stop, this far (%) from the fill price, following the position */
    trailingStopPercent: TrailPercent.optional(),
    /** limit, stop or trailing stop: one-cancels-the-other, its group (yours: the others in it cancelled once one triggers) */
    ocoGroup: ClientId.optional(),
  })
  .superRefine((b, ctx) => {
    const no = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const type = b.type ?? 'market';
    if (type === 'market' && b.price !== undefined)
      no('price', 'a market order takes no price (type limit or stop does)');
    if (type === 'market' && b.validMinutes !== undefined)
      no('validMinutes', 'a market order fills now: validMinutes is for a limit or stop order');
    if (type === 'market' && b.ocoGroup !== undefined)
      no('ocoGroup', 'a market order fills now: ocoGroup is for resting orders (limit, stop, trailing_stop)');
    if (type === 'trailing_stop') {
      if (b.trailPercent === undefined) no('trailPercent', 'required with type trailing_stop (its distance, %)');
      if (b.price !== undefined) no('price', 'a trailing stop follows the price: give trailPercent, not a price');
    } else if (b.trailPercent !== undefined) no('trailPercent', 'trailPercent is for type trailing_stop');
    else if (type !== 'market' && b.price === undefined) no('price', `required with type ${type}`);
    if (b.action === 'close') {
      if (b.stopLoss !== undefined) no('stopLoss', 'a bracket is for a buy or sell (a close by stop: type stop)');
      if (b.takeProfit !== undefined) no('takeProfit', 'a bracket is for a buy or sell (a close by limit: type limit)');
      if (b.trailingStopPercent !== undefined)
        no('trailingStopPercent', 'a bracket is for a buy or sell (a close by trailing stop: type trailing_stop)');
      if (b.sizing !== undefined) no('sizing', 'a close takes `percent` (of the position), not a sizing');
      if (b.amount !== undefined) no('amount', 'a close takes `percent` (of the position), not an amount');
      return;
    }
    if (b.percent !== undefined) no('percent', '`percent` is for a close; a buy or sell takes sizing and amount');
    const sizing = b.sizing ?? 'all';
    if (sizing !== 'all' && b.amount === undefined) no('amount', `required with sizing ${sizing}`);
    if (sizing === 'all' && b.amount !== undefined) no('amount', 'sizing all takes no amount');
    if (sizing === 'pct_equity' && b.amount !== undefined && b.amount > 100)
      no('amount', 'a share of the equity is at most 100 (%)');
  });
/** a resting order by hand amended: what changes (absent: stays; null: none, or until cancelled) */
const AmendBody = z
  .strictObject({
    price: Positive.optional(),
    /** market minutes from now it rests before it lapses (null: until it fills or is cancelled) */
    validMinutes: ValidMinutes.nullable().optional(),
    /** a buy's or sell's amount, in its sizing's unit */
    amount: Positive.optional(),
    /** a close's share of the position, % (null: all of it) */
    percent: z.number().gt(0).max(100).nullable().optional(),
    /** a buy's or sell's bracket (null: none) */
    stopLoss: Positive.nullable().optional(),
    takeProfit: Positive.nullable().optional(),
    trailingStopPercent: TrailPercent.nullable().optional(),
    /** a trailing stop's distance, % */
    trailPercent: TrailPercent.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, {
    message:
      'give what changes: price, validMinutes, amount, percent, stopLoss, takeProfit, trailingStopPercent or trailPercent',
  });
/** a new session like one of yours (its strategy snapshot and settings): what may differ */
const CloneBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    startingBalance: z.number().positive().max(1e12).optional(),
    start: z.boolean().default(true),
  })
  .default({ start: true });
/** a session's name and its own risk limits, changed while it runs (`risk` replaces them whole; {} none) */
const PatchBody = z
  .strictObject({ name: z.string().trim().min(1).max(200).nullable().optional(), risk: RiskInput.optional() })
  .refine((b) => b.name !== undefined || b.risk !== undefined, { message: 'give name, risk or both' });
/** a paper portfolio's limits on its summed equity, changed while it runs (null: none) */
const PortfolioPatchBody = z.strictObject({ portfolioRisk: PortfolioRiskInput.nullable() });
const EventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  format: AsCsv,
});
const EquityQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
  format: z.enum(['json', 'html', 'csv']).default('json'),
});

/**
 * Forward testing (paper trading) on live ticks: sessions CRUD and lifecycle, trades, orders (fills and
 * refusals), positions, live metrics from the shared statistics, equity series and chart.
 */
export const forwardTestService: FastifyPluginAsyncZod<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const { rt } = ctx;
  const repo = forwardTestsRepo(rt.db.db);
  const strategies = strategiesRepo(rt.db.db);
  const symbols = symbolsRepo(rt.db.db);
  const cache = (ctx.shared.compileCache as CompileCache | undefined) ?? new CompileCache();
  const engine = new ForwardTestEngine(rt, ctx.metrics, cache, {
    equityIntervalMs: rt.config.forwardTest.equityIntervalMs,
    runner: rt.config.forwardTest.runner,
    // on Kafka, instances of one group share the symbols' partitions: sessions follow their symbol
    ...(rt.bus.kind === 'kafka' ? { handoverMs: rt.config.forwardTest.handoverMs } : {}),
    ...(rt.config.forwardTest.threads ? { threads: rt.config.forwardTest.threads } : {}),
    ...(rt.config.forwardTest.runner === 'external' ? { launcher: externalLauncher } : {}),
    ...(rt.config.forwardTest.runner === 'kubernetes'
      ? {
          launcher: await kubernetesLauncher({
            ...DEFAULT_KUBERNETES_RUNNER,
            ...rt.config.forwardTest.kubernetes,
          }),
        }
      : {}),
  });
  ctx.shared.forwardTestEngine = engine;
  await engine.start();
  ctx.onClose(() => engine.close());

  // paper portfolios' limits on their summed equity, checked every FT_PORTFOLIO_CHECK_MS: each running
  // portfolio's sessions summed as their pages show them (the engine's figures for the sessions it holds,
  // the stored ledgers' for the others, so it works whichever instance runs them)
  const watches = new Map<string, PortfolioWatch>();
  // portfolios paused by their daily loss until the next day (resumeNextDay), with when (wall clock): their
  // watch is kept, so the day they resume counts from where the pause left the summed equity, as a
  // portfolio backtest's does (not from the stored series' last point, as old as its last flush). One
  // stopped or deleted meanwhile is forgotten after a week
  const resting = new Map<string, number>();
  const RESTING_MS = 7 * 86_400_000;
  /** the sessions' equity summed, as the portfolio's page sums it */
  const summed = (views: readonly { equity: number }[]) => views.reduce((a, v) => a + v.equity, 0);
  let guarding = false;
  const guardPortfolios = async () => {
    if (guarding) return;
    guarding = true;
    try {
      const guarded = await repo.guardedPortfolios();
      // portfolios no longer running (stopped, paused, deleted) are forgotten (one resumed starts again from
      // its series), but for those resting until the next day
      const live = new Set(guarded.map((g) => g.portfolioId));
      for (const [id, since] of resting) if (live.has(id) || Date.now() - since > RESTING_MS) resting.delete(id);
      for (const id of watches.keys()) if (!live.has(id) && !resting.has(id)) watches.delete(id);
      for (const { userId, portfolioId } of guarded) {
        const rows = await repo.portfolio(userId, portfolioId);
        const limits = portfolioOf(rows[0]!)?.risk;
        if (!limits) continue;
        // changed while it runs (PATCH): the watch keeps its peak and its day, checked against these
        watches.get(portfolioId)?.setLimits(limits);
        const views = rows.map(view);
        // the portfolio's clock: its symbols' latest tick (the day a daily loss counts from is the market's),
        // the engine's where it has one (a tick that resumes a paused session is not its mark), else the
        // session's last mark
        const now =
          Math.max(
            0,
            ...views.map((v, i) =>
              Math.max(v.updatedAt ? Date.parse(v.updatedAt) : 0, engine.quote(rows[i]!.symbol)?.ts ?? 0),
            ),
          ) || Date.now();
        let watch = watches.get(portfolioId);
        if (!watch) {
          const { merged } = await portfolioSeries(rows);
          watch = new PortfolioWatch(
            limits,
            rows.reduce((a, row) => a + startOf(row), 0),
            merged,
            now,
          );
          watches.set(portfolioId, watch);
        }
        const breach = watch.check(summed(views), now);
        if (!breach) continue;
        // as a session's own limits: a drawdown stops, a day's loss pauses; either closes the positions
        const to = breach.limit === 'max_drawdown' ? 'stopped' : 'paused';
        const what = breach.limit === 'max_drawdown' ? 'of the summed equity' : 'of the summed equity today';
        app.log.info({ portfolioId, ...breach }, `paper portfolio: ${breach.limit} reached, its sessions ${to}`);
        for (let i = 0; i < rows.length; i++)
          if ((to === 'stopped' ? ['created', 'running', 'paused'] : ['running']).includes(views[i]!.status))
            await engine
              .transition(rows[i]!, to, {
                source: `portfolio_${breach.limit}`,
                reason: `portfolio risk limit: ${breach.limit} (${breach.pct.toFixed(2)} % ${what}, limit ${breach.of} %)`,
              })
              // another instance may have acted first
              .catch((e: unknown) => {
                if (!(e instanceof AppError && e.code === 'CONFLICT')) throw e;
              });
        if (to === 'paused' && limits.resumeNextDay) {
          // where the pause leaves the summed equity (the positions closed; a session another instance
          // holds as its row was) is where the next day starts
          watch.dailyLoss(summed(rows.map(view)), now);
          resting.set(portfolioId, Date.now());
        } else watches.delete(portfolioId);
      }
    } catch (e) {
      app.log.warn({ err: e }, 'paper portfolio limits: a check failed; trying again at the next');
    } finally {
      guarding = false;
    }
  };
  // the same check at once, outside the timer: a test drives it bar by bar
  ctx.shared.checkPortfolios = guardPortfolios;
  const guard = setInterval(() => void guardPortfolios(), rt.config.forwardTest.portfolioCheckMs);
  guard.unref();
  ctx.onClose(() => clearInterval(guard));

  const view = (r: SessionRow) => {
    const live = engine.sessions.get(r.id);
    const settings = r.config as unknown as SessionSettings & { name?: string; interval?: string };
    const base = {
      id: r.id,
      name: settings.name ?? null,
      strategyId: r.strategyId,
      symbol: r.symbol,
      status: live?.status ?? r.status,
      failureReason: r.failureReason,
      config: r.config,
      createdAt: r.createdAt,
      startedAt: r.startedAt,
      stoppedAt: r.stoppedAt,
    };
    const openOrders = openOrdersOf(r, live).map(openOrderView);
    // the same figures whether the engine holds the session or only the database does
    if (live) {
      const figures = engine.portfolio(live);
      // a remote runner's resting order is on the row, where it saves it
      if (engine.remote) figures.restingOrder = live.savedRestingOrder(r.resting);
      return { ...base, ...figures, openOrders };
    }
    const l = storedLedger(settings, r.state);
    return { ...base, ...ledgerFigures(r, l, settings, markPrice(r, live)), openOrders };
  };
  /** A session's limit and stop orders by hand resting: the engine's when it holds it, else the row's. */
  // (one whose time is up by the symbol's market time is not listed: a paused session lapses it on its
  // first tick after it resumes)
  const openOrdersOf = (r: SessionRow, live = engine.sessions.get(r.id)): readonly OpenOrder[] => {
    if (r.status === 'stopped' || r.status === 'failed') return [];
    const list = live ? live.openOrders : readOpenOrders(r.openOrders);
    const now = engine.quote(r.symbol)?.ts;
    return now === undefined || list.every((o) => o.until === null || o.until > now)
      ? list
      : list.filter((o) => o.until === null || o.until > now);
  };
  /**
   * The price a session is marked at, in its view and its positions alike: the engine's for a session
   * it holds, else the last price its stored ledger saw (a session the engine does not hold sees no
   * ticks, so its figures stay as they were left).
   */
  const markPrice = (r: SessionRow, live = engine.sessions.get(r.id)): number => {
    if (live) return engine.markPrice(live);
    const l = r.state;
    return l.lastPrice || l.avgPrice || 0;
  };
  async function mine(id: string, userId: string): Promise<SessionRow> {
    const r = await repo.get(id, userId);
    if (!r) throw notFound('forward test');
    return r;
  }
  async function metricsOf(r: SessionRow) {
    const [trades, points] = await Promise.all([repo.trades(r.id, { limit: 100_000 }), repo.equity(r.id, 100_000)]);
    const fills: Fill[] = trades.map((t) => ({ ...t, ts: Date.parse(t.ts) }));
    const trips = roundTrips(fills);
    const v = view(r) as ReturnType<typeof view> & { exposurePct?: number; winRatePct?: number | null };
    const stats =
      points.length >= 2
        ? computeStats({
            equity: points.map((p) => p.equity),
            time: points.map((p) => p.ts),
            close: points.map((p) => p.price ?? p.equity),
            trades: trips,
            totalFees: fills.reduce((a, f) => a + f.fee, 0),
          })
        : null;
    return {
      sessionId: r.id,
      status: v.status,
      startingBalance: v.startingBalance,
      equity: v.equity,
      balance: v.balance,
      pnl: v.pnl,
      returnPct: v.returnPct,
      realizedPnl: v.realizedPnl,
      fees: v.fees,
      maxDrawdownPct: v.maxDrawdownPct,
      trades: fills.length,
      closedTrades: trips.length,
      winRatePct: trips.length ? (trips.filter((t) => t.pnl > 0).length / trips.length) * 100 : null,
      exposurePct: v.exposurePct ?? stats?.exposureTimePct ?? null,
      sharpe: stats?.sharpe ?? null,
      sortino: stats?.sortino ?? null,
      equityPoints: points.length,
      /** the full statistics of backtests over the stored equity points (null before two points) */
      stats,
      trips,
      points,
    };
  }

  const routes = async (plain: typeof app) => {
    const r = plain.withTypeProvider<ZodTypeProvider>();
    r.addHook('preHandler', app.requireUser);

    r.post('/', { schema: { tags: ['forward-test'], body: CreateBody } }, async (req, reply) => {
      const user = userOf(req);
      const strategy = (await compiledStrategy(strategies, cache, user.id, req.body.strategyId)).strategy;
      const row = await createSession(user.id, strategy, req.body, req.body.symbol, req.body.startingBalance);
      return reply.status(201).send(view((await repo.get(row.id, user.id))!));
    });

    // paper portfolios: one strategy's sessions on several symbols, each with its share of the money
    r.post('/portfolio', { schema: { tags: ['forward-test'], body: PortfolioBody } }, async (req, reply) => {
      const user = userOf(req);
      const b = req.body;
      const strategy = (await compiledStrategy(strategies, cache, user.id, b.strategyId)).strategy;
      const weights = normaliseWeights(b.symbols, b.weights);
      const id = randomUUID();
      for (let i = 0; i < b.symbols.length; i++)
        // each session with its symbol's lot size and minimum order value, when the portfolio gives them
        await createSession(
          user.id,
          strategy,
          { ...b, ...b.symbolRules?.[b.symbols[i]!] },
          b.symbols[i]!,
          b.startingBalance * weights[i]!,
          {
            id,
            weight: weights[i]!,
            leg: i,
            ...(b.portfolioRisk ? { risk: b.portfolioRisk } : {}),
          },
        );
      return reply.status(201).send(await portfolioView(user.id, id));
    });
    r.get('/portfolios', { schema: { tags: ['forward-test'] } }, async (req) => {
      const rows = await repo.list(userOf(req).id, 10_000);
      // newest first, as sessions are listed
      const ids = [...new Set(rows.map((row) => portfolioOf(row)?.id).filter((x): x is string => !!x))];
      return ids.map((id) => summaryOf(id, legsOf(rows, id)));
    });
    r.get('/portfolios/:id', { schema: { tags: ['forward-test'], params: PortfolioId } }, async (req) =>
      portfolioView(userOf(req).id, req.params.id),
    );
    r.get(
      '/portfolios/:id/equity',
      { schema: { tags: ['forward-test'], params: PortfolioId, querystring: EquityQuery } },
      async (req, reply) => {
        const rows = await portfolioRows(userOf(req).id, req.params.id);
        const { merged, trades } = await portfolioSeries(rows, req.query.limit);
        if (req.query.format !== 'html') {
          const out = merged.ts.map((t, i) => ({
            ts: new Date(t).toISOString(),
            equity: merged.equity[i]!,
            buyAndHold: merged.hold[i]!,
          }));
          return req.query.format === 'csv' ? sendCsv(reply, `portfolio-${req.params.id}-equity.csv`, out) : out;
        }
        if (merged.ts.length < 2)
          throw new AppError('CONFLICT', 'the portfolio has fewer than two equity points to chart yet');
        const legs = summaryOf(req.params.id, rows).sessions;
        const portfolioRisk = portfolioOf(rows[0]!)?.risk;
        const stopPct = portfolioRisk?.maxDrawdownPct;
        // the times none of its sessions traded, as its page shades them
        const halted = timelineSpans(
          await repo.eventsOf(
            rows.map((row) => row.id),
            10_000,
          ),
          { portfolioRisk: portfolioRisk ?? {} },
        );
        const html = renderReport({
          // the drawdown stop on the summed equity, dashed on its drawdown
          ...(stopPct !== undefined ? { drawdownStopPct: stopPct } : {}),
          ...(halted.length ? { halted } : {}),
          title: `Paper portfolio ${rows.map((row) => row.symbol).join(', ')} (${req.params.id.slice(0, 8)})`,
          time: merged.ts,
          open: merged.hold,
          high: merged.hold,
          low: merged.hold,
          close: merged.hold,
          equity: merged.equity,
          trades,
          priceTitle: 'Buy and hold of the same allocation',
          markers: false,
          tables: [
            {
              title: 'Sessions',
              head: ['Symbol', 'Weight', 'Status', 'Return %', 'Contribution %'],
              rows: legs.map((leg) => [
                leg.symbol,
                `${(leg.weight * 100).toFixed(1)}%`,
                leg.status,
                leg.returnPct.toFixed(2),
                leg.contributionPct.toFixed(2),
              ]),
            },
          ],
          stats: computeStats({ equity: merged.equity, time: merged.ts, close: merged.hold, trades }),
        });
        return reply.type('text/html; charset=utf-8').send(html);
      },
    );
    // its sessions' timelines as one, in the order the changes were made, each with its session and symbol
    r.get(
      '/portfolios/:id/events',
      { schema: { tags: ['forward-test'], params: PortfolioId, querystring: EventsQuery } },
      async (req, reply) => {
        const rows = await portfolioRows(userOf(req).id, req.params.id);
        const symbolOf = new Map(rows.map((row) => [row.id, row.symbol]));
        const events = (await repo.eventsOf([...symbolOf.keys()], req.query.limit)).map(({ sessionId, ...e }) => ({
          sessionId,
          symbol: symbolOf.get(sessionId)!,
          ...e,
        }));
        return req.query.format === 'csv' ? sendCsv(reply, `portfolio-${req.params.id}-events.csv`, events) : events;
      },
    );
    // its limits on the summed equity, changed while it runs (null: none); its sessions' own are each theirs
    r.patch(
      '/portfolios/:id',
      { schema: { tags: ['forward-test'], params: PortfolioId, body: PortfolioPatchBody } },
      async (req) => {
        const rows = await portfolioRows(userOf(req).id, req.params.id);
        if (rows.every((row) => ['stopped', 'failed'].includes(view(row).status)))
          throw new AppError('CONFLICT', 'every session of the portfolio has ended: its limits no longer apply');
        const { portfolioRisk } = req.body;
        await repo.setPortfolioRisk(rows[0]!.userId, req.params.id, portfolioRisk);
        for (const row of await portfolioRows(rows[0]!.userId, req.params.id))
          await engine.updated(row, { portfolioRisk });
        return portfolioView(rows[0]!.userId, req.params.id);
      },
    );
    r.post('/portfolios/:id/:verb', { schema: { tags: ['forward-test'], params: PortfolioVerb } }, async (req) => {
      const { id, verb } = req.params;
      const rows = await portfolioRows(userOf(req).id, id);
      // each session the verb applies to (the others are left as they are)
      const from = {
        start: ['created'],
        pause: ['running'],
        resume: ['paused'],
        stop: ['created', 'running', 'paused'],
      };
      const to = { start: 'running', pause: 'paused', resume: 'running', stop: 'stopped' } as const;
      for (const row of rows) {
        if (!from[verb].includes(view(row).status)) continue;
        if (to[verb] === 'running') await ensureFeed(row.symbol);
        await engine.transition(row, to[verb]);
      }
      return portfolioView(rows[0]!.userId, id);
    });
    r.delete('/portfolios/:id', { schema: { tags: ['forward-test'], params: PortfolioId } }, async (req, reply) => {
      for (const row of await portfolioRows(userOf(req).id, req.params.id)) {
        await engine.remove(row.id);
        await repo.delete(row.id, row.userId);
      }
      return reply.status(204).send();
    });

    // newest first, a page at a time (the next named in a Link header)
    r.get('/', { schema: { tags: ['forward-test'], querystring: ListQuery } }, async (req, reply) => {
      const { rows, next } = await repo.page(userOf(req).id, req.query);
      linkNext(req, reply, next);
      return rows.map(view);
    });
    r.get('/:id', { schema: { tags: ['forward-test'], params: Id } }, async (req) =>
      view(await mine(req.params.id, userOf(req).id)),
    );

    const lifecycle = { start: 'running', resume: 'running', pause: 'paused', stop: 'stopped' } as const;
    for (const [verb, to] of Object.entries(lifecycle))
      r.post(`/:id/${verb}`, { schema: { tags: ['forward-test'], params: Id } }, async (req) => {
        const row = await mine(req.params.id, userOf(req).id);
        if (verb === 'resume' && row.status !== 'paused')
          throw new AppError('CONFLICT', `only a paused session can resume; this one is ${row.status}`);
        if (verb === 'start' && row.status === 'paused')
          throw new AppError('CONFLICT', 'the session is paused: use resume');
        if (to === 'running') await ensureFeed(row.symbol);
        await engine.transition(row, to);
        return view((await repo.get(row.id, row.userId))!);
      });

    r.post('/:id/close-position', { schema: { tags: ['forward-test'], params: Id } }, async (req) => {
      const row = await mine(req.params.id, userOf(req).id);
      await engine.closePosition(row);
      return view((await repo.get(row.id, row.userId))!);
    });

    // its name and its own risk limits, changed while it runs: 200 with the session, trading under them
    // from its next tick (a limit already beyond acts then); a stopped or failed session's limits are over
    r.patch('/:id', { schema: { tags: ['forward-test'], params: Id, body: PatchBody } }, async (req) => {
      const row = await mine(req.params.id, userOf(req).id);
      const { name, risk } = req.body;
      if (risk && (row.status === 'stopped' || row.status === 'failed'))
        throw new AppError('CONFLICT', `the session is ${row.status}: its limits no longer apply`, {
          status: row.status,
        });
      const patch = { ...(name !== undefined ? { name } : {}), ...(risk ? { risk } : {}) };
      await repo.updateConfig(row.id, row.userId, patch);
      const updated = (await repo.get(row.id, row.userId))!;
      await engine.updated(updated, patch);
      return view(updated);
    });

    // the same strategy (the very graph the session trades, not the strategy's latest version) and settings
    // again, as a new session of its own: a stopped one run again, or a second beside it; a paper
    // portfolio's session becomes a session of its own
    r.post('/:id/clone', { schema: { tags: ['forward-test'], params: Id, body: CloneBody } }, async (req, reply) => {
      const row = await mine(req.params.id, userOf(req).id);
      const b = req.body ?? { start: true };
      // its settings as they are now (the history of its limits is the first session's)
      const {
        portfolio: _p,
        riskChanges: _r,
        name,
        ...settings
      } = row.config as Record<string, unknown> & { name?: string };
      const config = {
        ...settings,
        ...(b.name ? { name: b.name } : name ? { name: `${name} (again)`.slice(0, 200) } : {}),
        ...(b.startingBalance !== undefined ? { startingBalance: b.startingBalance } : {}),
        clonedFrom: row.id,
      };
      const made = await repo.create({
        userId: row.userId,
        strategyId: row.strategyId,
        snapshot: row.strategySnapshot,
        symbol: row.symbol,
        config,
        state: newLedger(config as unknown as SessionSettings),
      });
      await announced(made, b.start);
      return reply.status(201).send(view((await repo.get(made.id, made.userId))!));
    });

    // an order by hand, at the market now: 201 with the order, its fill and the session; 200 when its
    // clientOrderId placed it before; 422 refused (the order log keeps it), 409 when it would do nothing
    r.post('/:id/orders', { schema: { tags: ['forward-test'], params: Id, body: OrderBody } }, async (req, reply) => {
      const row = await mine(req.params.id, userOf(req).id);
      const b = req.body;
      const asked = {
        action: b.action,
        sizing: b.action === 'close' ? ('all' as const) : (b.sizing ?? 'all'),
        amount: b.amount ?? 0,
        ...(b.percent !== undefined ? { percent: b.percent } : {}),
        ...(b.clientOrderId !== undefined ? { clientOrderId: b.clientOrderId } : {}),
        ...(hasBracket(b)
          ? {
              bracket: {
                ...(b.stopLoss !== undefined ? { stopLoss: b.stopLoss } : {}),
                ...(b.takeProfit !== undefined ? { takeProfit: b.takeProfit } : {}),
                ...(b.trailingStopPercent !== undefined ? { trailingStopPercent: b.trailingStopPercent } : {}),
              },
            }
          : {}),
      };
      let out: { signalId: string; code?: string; replayed: boolean };
      if (b.type === 'limit' || b.type === 'stop' || b.type === 'trailing_stop') {
        // a limit, stop or trailing stop order rests: 201 with it and the session (200: its clientOrderId
        // placed it before)
        const placed = await engine.placeOpen(row, {
          ...asked,
          type: b.type,
          ...(b.price !== undefined ? { price: b.price } : {}),
          ...(b.trailPercent !== undefined ? { trailPercent: b.trailPercent } : {}),
          ...(b.ocoGroup !== undefined ? { ocoGroup: b.ocoGroup } : {}),
          ...(b.validMinutes !== undefined ? { validMinutes: b.validMinutes } : {}),
        });
        if ('open' in placed)
          return reply
            .status(placed.replayed ? 200 : 201)
            .send({ open: openOrderView(placed.open), session: view((await repo.get(row.id, row.userId))!) });
        out = placed; // placed before, and filled since: answered as the order log has it
      } else out = await engine.manualOrder(row, asked);
      // what it did, as the order log has it (a replayed clientOrderId's as placed then)
      const [logged] = await repo.orders(row.id, { signalId: out.signalId, limit: 1 });
      if (!logged) throw new AppError('CONFLICT', 'the order with this clientOrderId is being placed');
      const order = { ...logged, ...(out.code ? { code: out.code } : {}) };
      if (order.status === 'refused')
        throw new AppError('UNPROCESSABLE', `order refused: ${order.reason}`, { code: out.code ?? null, order });
      if (order.status === 'noop') throw new AppError('CONFLICT', `nothing to do: ${order.reason}`, { order });
      const [trade] = await repo.trades(row.id, { signalId: out.signalId, limit: 1 });
      return reply
        .status(out.replayed ? 200 : 201)
        .send({ order, trade: trade ?? null, session: view((await repo.get(row.id, row.userId))!) });
    });

    // its limit and stop orders by hand, resting; one cancelled (by its id or clientOrderId)
    r.get('/:id/open-orders', { schema: { tags: ['forward-test'], params: Id } }, async (req) => {
      const row = await mine(req.params.id, userOf(req).id);
      return openOrdersOf(row).map(openOrderView);
    });
    // one amended in place (its price, time, size or bracket): 200 with it and the session
    r.patch(
      '/:id/open-orders/:orderId',
      { schema: { tags: ['forward-test'], params: OpenOrderId, body: AmendBody } },
      async (req) => {
        const row = await mine(req.params.id, userOf(req).id);
        if (row.status === 'stopped' || row.status === 'failed') throw notFound('resting order'); // a stop cancelled them all
        const open = await engine.amendOpen(row, req.params.orderId, req.body);
        if (!open) throw notFound('resting order');
        return { open: openOrderView(open), session: view((await repo.get(row.id, row.userId))!) };
      },
    );
    r.delete(
      '/:id/open-orders/:orderId',
      { schema: { tags: ['forward-test'], params: OpenOrderId } },
      async (req, reply) => {
        const row = await mine(req.params.id, userOf(req).id);
        if (row.status === 'stopped' || row.status === 'failed') throw notFound('resting order'); // a stop cancelled them all
        const gone = await engine.cancelOpen(row, req.params.orderId);
        if (!gone) throw notFound('resting order');
        return reply.status(204).send();
      },
    );

    r.delete('/:id', { schema: { tags: ['forward-test'], params: Id } }, async (req, reply) => {
      const row = await mine(req.params.id, userOf(req).id);
      await engine.remove(row.id);
      await repo.delete(row.id, row.userId);
      return reply.status(204).send();
    });

    r.get(
      '/:id/trades',
      { schema: { tags: ['forward-test'], params: Id, querystring: TradesQuery } },
      async (req, reply) => {
        const row = await mine(req.params.id, userOf(req).id);
        const trades = await repo.trades(row.id, req.query);
        return req.query.format === 'csv' ? sendCsv(reply, `session-${row.id}-trades.csv`, trades) : trades;
      },
    );
    // its timeline: each change of its status, when (market time and wall clock) and why
    r.get(
      '/:id/events',
      { schema: { tags: ['forward-test'], params: Id, querystring: EventsQuery } },
      async (req, reply) => {
        const row = await mine(req.params.id, userOf(req).id);
        const events = await repo.events(row.id, req.query.limit);
        return req.query.format === 'csv' ? sendCsv(reply, `session-${row.id}-events.csv`, events) : events;
      },
    );
    r.get(
      '/:id/orders',
      { schema: { tags: ['forward-test'], params: Id, querystring: OrdersQuery } },
      async (req, reply) => {
        const row = await mine(req.params.id, userOf(req).id);
        const orders = await repo.orders(row.id, req.query);
        return req.query.format === 'csv' ? sendCsv(reply, `session-${row.id}-orders.csv`, orders) : orders;
      },
    );
    r.get('/:id/positions', { schema: { tags: ['forward-test'], params: Id } }, async (req) => {
      const row = await mine(req.params.id, userOf(req).id);
      const stored = await repo.positions(row); // the ledger `mine` read, not a second read
      // marked as the session's own view marks it (GET /:id), whether the engine holds it or not
      const price = markPrice(row);
      return stored.map((p) => ({
        ...p,
        marketPrice: price || null,
        unrealizedPnl: price ? p.quantity * (price - p.avgPrice) : null,
      }));
    });
    r.get('/:id/metrics', { schema: { tags: ['forward-test'], params: Id } }, async (req) => {
      const row = await mine(req.params.id, userOf(req).id);
      const m = await metricsOf(row);
      const { trips: _t, points: _p, ...rest } = m;
      return rest;
    });
    r.get(
      '/:id/equity',
      { schema: { tags: ['forward-test'], params: Id, querystring: EquityQuery } },
      async (req, reply) => {
        const row = await mine(req.params.id, userOf(req).id);
        if (req.query.format !== 'html') {
          const pts = await repo.equity(row.id, req.query.limit);
          const out = pts.map((p) => ({ ...p, ts: new Date(p.ts).toISOString() }));
          return req.query.format === 'csv' ? sendCsv(reply, `session-${row.id}-equity.csv`, out) : out;
        }
        const m = await metricsOf(row);
        if (!m.stats) throw new AppError('CONFLICT', 'the session has fewer than two equity points to chart yet');
        const pts = m.points;
        const prices = pts.map((p) => p.price ?? p.equity);
        const times = pts.map((p) => p.ts);
        const at = (t: number) => {
          let i = times.findIndex((x) => x >= t);
          if (i < 0) i = times.length - 1;
          return i;
        };
        const settings = row.config as unknown as SessionSettings;
        const stopPct = settings.risk?.maxDrawdownPct;
        // the times it did not trade (its limits, its paper portfolio's, or by hand), as its page shades them
        const halted = timelineSpans(await repo.events(row.id, 10_000), {
          risk: settings.risk ?? {},
          portfolioRisk: portfolioOf(row)?.risk ?? {},
        });
        const html = renderReport({
          // the session's drawdown stop, dashed on its drawdown
          ...(stopPct !== undefined ? { drawdownStopPct: stopPct } : {}),
          ...(halted.length ? { halted } : {}),
          title: `Forward test ${row.symbol} (${row.id})`,
          time: times,
          open: prices,
          high: prices,
          low: prices,
          close: prices,
          equity: pts.map((p) => p.equity),
          trades: m.trips.map((t) => ({ ...t, entryBar: at(t.entryTime), exitBar: at(t.exitTime) })),
          stats: m.stats,
        });
        return reply.type('text/html; charset=utf-8').send(html);
      },
    );
  };

  /** A session of the strategy on a symbol with this money (and its paper portfolio, if any), started when asked. */
  async function createSession(
    userId: string,
    strategy: NonNullable<Awaited<ReturnType<typeof strategies.get>>>,
    b: Omit<z.infer<typeof CreateBody>, 'symbol'>,
    symbol: string,
    startingBalance: number,
    portfolio?: PortfolioConfig,
  ): Promise<SessionRow> {
    const desc = describeSymbol(symbol, 'simulator');
    if (!(await symbols.get(symbol))) await symbols.upsert({ ...desc, active: false });
    const config = {
      name: b.name,
      // which saved version of the strategy the session trades (its graph is in the row's snapshot)
      strategyVersion: strategy.version,
      startingBalance,
      feeRate: b.feeRate,
      feeFixed: b.feeFixed,
      ...exchangeOf(b),
      slippageBps: b.slippageBps,
      allowShort: b.allowShort,
      wholeUnits: b.wholeUnits ?? desc.assetClass !== 'crypto',
      ...marginOf(b),
      evaluation: evaluationOf(b.evaluation),
      risk: b.risk,
      ...(portfolio ? { portfolio } : {}),
    };
    const row = await repo.create({
      userId,
      strategyId: strategy.id,
      snapshot: { id: strategy.id, name: strategy.name, graph: strategy.graph as Graph },
      symbol,
      config,
      state: newLedger(config as SessionSettings),
    });
    await announced(row, b.start);
    return row;
  }

  /** A new session told of (`session.created`), and started when asked. */
  async function announced(row: SessionRow, start: boolean): Promise<void> {
    await rt.bus.publish(TOPICS.forwardTestEvents.name, row.id, 'session.created', {
      sessionId: row.id,
      userId: row.userId,
      symbol: row.symbol,
    });
    if (start) {
      await ensureFeed(row.symbol);
      await engine.transition(row, 'running');
    }
  }

  const portfolioOf = (row: SessionRow) => (row.config as { portfolio?: PortfolioConfig }).portfolio;
  /** A paper portfolio's sessions among these, in the order of its symbols. */
  const legsOf = (rows: readonly SessionRow[], id: string) =>
    rows.filter((row) => portfolioOf(row)?.id === id).sort((x, y) => portfolioOf(x)!.leg - portfolioOf(y)!.leg);
  const startOf = (row: SessionRow) => (row.config as { startingBalance: number }).startingBalance;
  /** The caller's sessions of a paper portfolio, in the order they were created (404: none of theirs). */
  async function portfolioRows(userId: string, id: string): Promise<SessionRow[]> {
    const rows = await repo.portfolio(userId, id);
    if (!rows.length) throw notFound('paper portfolio');
    return rows;
  }
  /** The sessions' equity summed (with buy and hold of the same allocation), and their round trips, each with its symbol. */
  async function portfolioSeries(rows: readonly SessionRow[], limit = 100_000) {
    const legs = await Promise.all(
      rows.map(async (row) => ({ startingBalance: startOf(row), points: await repo.equity(row.id, limit) })),
    );
    const trades = (
      await Promise.all(
        rows.map(async (row) => {
          const fills = (await repo.trades(row.id, { limit: 100_000 })).map((t) => ({ ...t, ts: Date.parse(t.ts) }));
          return roundTrips(fills).map((t) => ({ ...t, symbol: row.symbol }));
        }),
      )
    )
      .flat()
      .sort((a, b) => a.exitTime - b.exitTime);
    const merged = mergeEquity(legs);
    // each trade at the summed series' points: the first at or after its entry and its exit
    const at = (t: number) => {
      let lo = 0;
      let hi = merged.ts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (merged.ts[mid]! >= t) hi = mid;
        else lo = mid + 1;
      }
      return Math.max(0, lo);
    };
    return { merged, trades: trades.map((t) => ({ ...t, entryBar: at(t.entryTime), exitBar: at(t.exitTime) })) };
  }
  /** A paper portfolio's figures: the sessions' sums, and each session's own with its weight and contribution. */
  function summaryOf(id: string, rows: readonly SessionRow[]) {
    const sessions = rows.map((row) => {
      const v = view(row);
      return {
        id: row.id,
        symbol: row.symbol,
        weight: portfolioOf(row)?.weight ?? 0,
        status: v.status,
        startingBalance: v.startingBalance,
        equity: v.equity,
        pnl: v.pnl,
        returnPct: v.returnPct,
        realizedPnl: v.realizedPnl,
        fees: v.fees,
        trades: v.trades,
      };
    });
    const sum = (f: (s: (typeof sessions)[number]) => number) => sessions.reduce((a, s) => a + f(s), 0);
    const startingBalance = sum((s) => s.startingBalance);
    const equity = sum((s) => s.equity);
    const byStatus: Record<string, number> = {};
    for (const s of sessions) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
    const first = rows[0]!;
    return {
      id,
      name: (first.config as { name?: string }).name ?? null,
      portfolioRisk: portfolioOf(first)?.risk ?? null,
      portfolioRiskChanges: portfolioOf(first)?.riskChanges ?? [],
      strategyId: first.strategyId,
      symbols: sessions.map((s) => s.symbol),
      byStatus,
      startingBalance,
      equity,
      pnl: equity - startingBalance,
      returnPct: ((equity - startingBalance) / startingBalance) * 100,
      realizedPnl: sum((s) => s.realizedPnl),
      fees: sum((s) => s.fees),
      trades: sum((s) => s.trades),
      createdAt: first.createdAt,
      sessions: sessions.map((s) => ({ ...s, contributionPct: (s.pnl / startingBalance) * 100 })),
    };
  }
  /** summaryOf with the statistics of the summed equity (null before two points). */
  async function portfolioView(userId: string, id: string) {
    const rows = await portfolioRows(userId, id);
    const { merged, trades } = await portfolioSeries(rows);
    const stats =
      merged.ts.length >= 2
        ? computeStats({ equity: merged.equity, time: merged.ts, close: merged.hold, trades })
        : null;
    return { ...summaryOf(id, rows), stats };
  }

  async function ensureFeed(symbol: string) {
    const s = await symbols.get(symbol);
    if (s && !s.active) {
      await symbols.setActive(symbol, true);
      await rt.bus.publish(TOPICS.symbolSubscriptions.name, symbol, 'subscribe', { symbol, action: 'subscribe' });
    }
  }

  await app.register(routes, { prefix: '/api/forward-tests' });
  // the seed's `GET :8003/`: the caller's sessions, when the service runs on its own
  if (!ctx.services.includes('gateway'))
    app.get('/', { preHandler: app.requireUser, schema: { tags: ['forward-test'] } }, async (req) =>
      (await repo.list(userOf(req).id)).map(view),
    );
};
