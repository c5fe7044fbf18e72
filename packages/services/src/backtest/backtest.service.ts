import { randomInt, randomUUID } from 'node:crypto';
import { AppError, bestDeflated, notFound, pboCscvAsync, returnsOf, type PortfolioLimits } from '@algotrade/core';
import {
  backtestsRepo,
  INTERVALS,
  parseCursor,
  strategiesRepo,
  type BacktestRow,
  type SweepSummaryRow,
} from '@algotrade/adapters';
import {
  comboVariants,
  compileGraph,
  EnginePool,
  expandGrid,
  foldsTable,
  gridSize,
  gridVariants,
  legsTable,
  haltSpans,
  limitsTable,
  normaliseWeights,
  RANK_BY,
  sampleGrid,
  scoreOf,
  DEFAULT_STARTUP,
  sweepEffects,
  sweepFront,
  measurePair,
  normaliseGraph,
  GraphSchema,
  renderReport,
  toColumns,
  type Combo,
  type Graph,
  type ParamGrid,
} from '@algotrade/strategy';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServiceContext } from '../context.ts';
import { userOf } from '../http/auth.ts';
import { ExchangeInput, exchangeOf, SymbolRulesInput, checkSymbolRules, type SymbolRules } from '../http/exchange.ts';
import { MarginInput, marginOf } from '../http/margin.ts';
import { PortfolioRiskInput, RiskInput } from '../http/risk.ts';
import { sendCsv } from '../http/csv.ts';
import { linkNext, PageQuery } from '../http/pages.ts';
import { SymbolInput } from '../http/symbol.ts';
import { artifactKeyOf, BACKTEST_QUEUE, candlesOf, processBacktest, queueBacktest } from './worker.ts';
import { adaptiveOf, rankingOf, resumeStalledSearches, standingOf, trialsOf, type AdaptiveSearch } from './adaptive.ts';

/** what a user calls a run, and notes of it */
const Name = z.string().trim().min(1).max(200);
const Note = z.string().trim().max(2000);
const Id = z.object({ id: z.string().max(64) });
const AsCsv = z.strictObject({ format: z.enum(['json', 'csv']).default('json') });
const ListQuery = z.strictObject({
  ...PageQuery(200, 500),
  kind: z.enum(['single', 'portfolio', 'walk-forward', 'sweep']).optional(),
  symbol: SymbolInput.optional(),
  strategyId: z.string().max(64).optional(),
  status: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']).optional(),
  q: z.string().trim().min(1).max(200).optional(),
  // csv: every run the filters match, newest first, as a file (limit aside)
  format: z.enum(['json', 'csv']).default('json'),
});
const SweepsQuery = z.strictObject({
  ...PageQuery(50, 200),
  symbol: SymbolInput.optional(),
  strategyId: z.string().max(64).optional(),
  q: z.string().trim().min(1).max(200).optional(),
});
const LabelBody = z
  .strictObject({ name: Name.nullable().optional(), note: Note.nullable().optional() })
  .refine((b) => b.name !== undefined || b.note !== undefined, 'give a name or a note (null clears one)');
const SweepNameBody = z.strictObject({ name: Name.nullable() });
const When = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);
const Base = {
  name: Name.optional(),
  note: Note.optional(),
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
  /** an exchange's rules: a maker's fee rate, a lot size, a minimum order value, a short's borrow rate */
  ...ExchangeInput,
  slippageBps: z.number().min(0).max(1000).default(0),
  allowShort: z.boolean().default(false),
  fillOn: z.enum(['next_open', 'close']).default('next_open'),
  /** a detail timeframe: stops and targets checked on these finer candles inside each bar */
  detailInterval: z.enum(Object.keys(INTERVALS) as [string, ...string[]]).optional(),
  ...MarginInput,
  /** a paper session's risk limits, applied as the session applies them (docs/backtesting.md#risk-limits) */
  risk: RiskInput.optional(),
};
const CreateBody = z.strictObject(Base);
const Finite = z.number().finite();
/**
 * A detail timeframe as the backtest keeps it: none, or one finer than the bars that divides them (1m
 * under 1h); anything else is a 400 naming both.
 */
function detailOf(interval: string, detail: string | undefined): { detailInterval?: string } {
  if (detail === undefined) return {};
  const bar = INTERVALS[interval]!;
  const fine = INTERVALS[detail]!;
  if (!(fine < bar) || bar % fine !== 0)
    throw new AppError(
      'VALIDATION_FAILED',
      `detailInterval: ${detail} must be finer than the interval (${interval}) and divide it, as 1m does 1h`,
    );
  return { detailInterval: detail };
}

/** a key's values: a list, or a range `{from, to, step}` (a random sample then picks among its values) */
const Grid = z.record(
  z.string().regex(/^[^.]+\.[^.]+$/, 'keys look like "nodeId.param"'),
  z.union([
    z
      .array(z.union([z.number(), z.string()]))
      .min(1)
      .max(100),
    z.strictObject({ from: Finite, to: Finite, step: Finite.positive() }),
  ]),
);
/** a random search: this many distinct points of the grid, drawn with the seed (one is chosen and returned if absent) */
const Sample = z.strictObject({
  count: z.number().int().min(1).max(500),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
});
/**
 * A sweep's search: at random (as Sample), or adaptive (`method: "tpe"`): `startup` points at random,
 * then each next one proposed from the results so far, `parallel` backtests queued or running at once
 */
const SweepSample = z
  .strictObject({
    ...Sample.shape,
    method: z.enum(['random', 'tpe']).default('random'),
    startup: z.number().int().min(2).max(100).optional(),
    parallel: z.number().int().min(1).max(32).optional(),
  })
  .refine((s) => s.method === 'tpe' || (s.startup === undefined && s.parallel === undefined), {
    message: 'startup and parallel belong to an adaptive search (method: "tpe")',
  });
/** a combination of fewer closed trades ranks last, below every one with enough */
const MinTrades = z.number().int().min(0).max(1_000_000).optional();
/** one symbol, or a portfolio of 2-20 (`symbols`, `weights` as a portfolio backtest's) */
const OneOrPortfolio = {
  symbol: Base.symbol.optional(),
  symbols: z.array(Base.symbol).min(2).max(20).optional(),
  weights: z.array(z.number().positive().max(1e6)).max(20).optional(),
  /** each symbol's lot size and minimum order value, over qtyStep and minNotional (http/exchange.ts) */
  symbolRules: SymbolRulesInput.optional(),
  /** limits on the summed equity, as a paper portfolio's (each point's backtest, each window, applies them) */
  portfolioRisk: PortfolioRiskInput.optional(),
};
/**
 * the rule of OneOrPortfolio: a symbol or symbols, each once, a weight for each, rules only for them, no
 * detail timeframe with them
 */
const oneOrPortfolio =
  (what: string) =>
  (
    b: {
      symbol?: string;
      symbols?: string[];
      weights?: number[];
      symbolRules?: SymbolRules;
      portfolioRisk?: object;
      detailInterval?: string;
    },
    ctx: z.RefinementCtx,
  ) => {
    const wrong = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    checkSymbolRules(b, ctx);
    if (b.portfolioRisk && !b.symbols) wrong('portfolioRisk', "a portfolio's limits: give symbols");
    if ((b.symbol === undefined) === (b.symbols === undefined))
      wrong('symbol', `a symbol, or symbols for a portfolio ${what} (one of the two)`);
    if (b.symbols && new Set(b.symbols).size !== b.symbols.length) wrong('symbols', 'each symbol once');
    if (b.weights && b.weights.length !== b.symbols?.length) wrong('weights', 'one weight per symbol of `symbols`');
    if (b.symbols && b.detailInterval)
      wrong('detailInterval', `a detail timeframe is one symbol's: a portfolio ${what} has none`);
  };
/** a sweep on one symbol, or on a portfolio: each point one such backtest */
const SweepBody = z
  .strictObject({
    ...Base,
    ...OneOrPortfolio,
    params: Grid,
    sample: SweepSample.optional(),
    rankBy: z.enum(RANK_BY).default('sharpe'),
    minTrades: MinTrades,
  })
  .superRefine(oneOrPortfolio('sweep'));
/** a walk-forward on one symbol, or on a portfolio: each window's backtests portfolio backtests */
const WalkForwardBody = z
  .strictObject({
    ...Base,
    ...OneOrPortfolio,
    params: Grid,
    // drawn at random once for every window, or an adaptive search in each window (one after another)
    sample: z
      .strictObject({
        ...Sample.shape,
        method: z.enum(['random', 'tpe']).default('random'),
        startup: z.number().int().min(2).max(100).optional(),
      })
      .refine((s) => s.method === 'tpe' || s.startup === undefined, {
        message: 'startup belongs to an adaptive search (method: "tpe")',
      })
      .optional(),
    rankBy: z.enum(RANK_BY).default('sharpe'),
    minTrades: MinTrades,
    folds: z.number().int().min(2).max(20).default(5),
    outOfSamplePct: z.number().min(5).max(50).default(25),
    anchored: z.boolean().default(false),
    // each fold's pick in sample: the best, or the best with its neighbours in the grid
    pick: z.enum(['best', 'robust']).default('best'),
  })
  .superRefine(oneOrPortfolio('walk-forward'));
// a portfolio's legs are each a symbol of its own: no one detail series (each would need its own)
const { symbol: _symbol, detailInterval: _detail, ...BaseNoSymbol } = Base;
const Symbol = Base.symbol;
const PortfolioBody = z
  .strictObject({
    ...BaseNoSymbol,
    symbols: z.array(Symbol).min(2).max(20),
    weights: z.array(z.number().positive().max(1e6)).max(20).optional(),
    symbolRules: OneOrPortfolio.symbolRules,
    portfolioRisk: OneOrPortfolio.portfolioRisk,
  })
  .refine((b) => new Set(b.symbols).size === b.symbols.length, {
    message: 'each symbol once',
    path: ['symbols'],
  })
  .superRefine(checkSymbolRules)
  .refine((b) => !b.weights || b.weights.length === b.symbols.length, {
    message: 'one weight per symbol',
    path: ['weights'],
  });
/**
 * A portfolio as its backtests keep it: its symbols, their weights normalised, their rules and its limits
 * on the summed equity (`risk`) when given.
 */
const portfolioSpec = (b: {
  symbols: string[];
  weights?: number[];
  symbolRules?: SymbolRules;
  portfolioRisk?: PortfolioLimits;
}) => ({
  symbols: b.symbols,
  weights: normaliseWeights(b.symbols, b.weights),
  ...(b.symbolRules && Object.keys(b.symbolRules).length ? { rules: b.symbolRules } : {}),
  ...(b.portfolioRisk ? { risk: b.portfolioRisk } : {}),
});
const MAX_SWEEP = 500;
/** a sweep's CSV: the figures each backtest gets a column for, after its parameters */
const SWEEP_CSV_FIGURES = [
  'returnPct',
  'returnAnnPct',
  'sharpe',
  'sortino',
  'calmar',
  'maxDrawdownPct',
  'trades',
  'winRatePct',
  'profitFactor',
  'sqn',
  'exposureTimePct',
  'totalFees',
] as const;

/** A sweep's or walk-forward's grid, its ranges written out as values. */
const gridOf = (b: { params: Parameters<typeof expandGrid>[0] }) => expandGrid(b.params);

/**
 * The points a random search runs (none asked: the whole grid) and what to record of it: how many of
 * how many, and the seed that draws them again.
 */
function pointsOf(
  grid: ParamGrid,
  asked: { count: number; seed?: number; method?: string } | undefined,
): { combos?: Combo[]; sample?: { count: number; seed: number; of: number } } {
  if (!asked) return {};
  const seed = asked.seed ?? randomInt(0, 0xffffffff);
  const combos = sampleGrid(grid, asked.count, seed);
  return { combos, sample: { count: combos.length, seed, of: gridSize(grid) } };
}
/** what a sweep ranks by, as its backtests keep it: the measure, and the fewest trades a rank needs (when asked) */
const ranking = (b: { rankBy: string; minTrades?: number }) => ({
  rankBy: b.rankBy,
  ...(b.minTrades ? { minTrades: b.minTrades } : {}),
});

/**
 * An adaptive search as asked (a sweep's, or each walk-forward window's): its count, no more than the
 * grid's points; its seed, chosen when not given; its random start, no longer than the count.
 */
function adaptiveSpec(grid: ParamGrid, asked: { count: number; seed?: number; startup?: number }) {
  const of = gridSize(grid);
  const count = Math.min(asked.count, of);
  return {
    method: 'tpe' as const,
    count,
    seed: asked.seed ?? randomInt(0, 0xffffffff),
    of,
    startup: Math.min(count, asked.startup ?? DEFAULT_STARTUP),
  };
}

/** an adaptive sweep's backtests queued or running at once, unless asked */
const DEFAULT_PARALLEL = 4;

/**
 * An adaptive sweep proposes points of its grid as it goes, so every value of the grid is checked up
 * front: each key's values, one key at a time, applied to the graph must compile (a 400 naming the
 * first that does not).
 */
function checkValues(graph: Graph, grid: ParamGrid) {
  for (const [key, values] of Object.entries(grid))
    comboVariants(
      graph,
      values.map((v) => ({ [key]: v })),
    );
}

/** Logits in half-unit bins from -4 to 4 (the ends take everything beyond). */
const histogramOf = (xs: number[]) => {
  const edges = Array.from({ length: 17 }, (_, i) => -4 + i / 2);
  const counts = new Array<number>(16).fill(0);
  for (const x of xs) counts[Math.min(15, Math.max(0, Math.floor((x + 4) * 2)))]!++;
  return { edges, counts };
};

/** The best score after each trial, with the trial's own. */
const convergenceOf = (trials: { score: number }[]) => {
  let best = -Infinity;
  return trials.map((t, i) => {
    best = Math.max(best, t.score);
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    return { n: i + 1, score: finite(t.score), best: finite(best) };
  });
};

/** the run settings a sweep's points share (paramsOf's, without the dates): what its page says it ran with */
const SETTINGS = [
  'startingBalance',
  'feeRate',
  'feeFixed',
  'makerFeeRate',
  'qtyStep',
  'minNotional',
  'borrowRatePct',
  'slippageBps',
  'allowShort',
  'fillOn',
  'leverage',
  'maintenanceMarginPct',
  'fundingRatePct',
  'detailInterval',
  'risk',
] as const;
const settingsOf = (p: Record<string, unknown>) =>
  Object.fromEntries(SETTINGS.filter((k) => p[k] !== undefined).map((k) => [k, p[k]]));

/** backtests one walk-forward may run: every combination in each fold and over all bars, plus one per fold */
const MAX_WALK_FORWARD_RUNS = 5_000;

/** A run's shape: a sweep's point over a portfolio is a portfolio backtest (its sweepId says whose point). */
const kindOf = (r: BacktestRow) =>
  r.parameters.walkForward ? 'walk-forward' : r.parameters.portfolio ? 'portfolio' : r.sweepId ? 'sweep' : 'single';

const view = (r: BacktestRow) => ({
  id: r.id,
  status: r.status,
  progress: r.progress,
  symbol: r.symbol,
  interval: r.interval,
  strategyId: r.strategyId,
  sweepId: r.sweepId,
  name: r.name,
  note: r.note,
  kind: kindOf(r),
  parameters: r.parameters,
  metrics: r.metrics,
  ...(r.error ? { error: r.error } : {}),
  createdAt: r.createdAt,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
});

/** the most runs one CSV of the list holds */
const MAX_CSV_RUNS = 10_000;
/** A run as a line of the list's CSV: what it is, then its figures (as a sweep's ranking has them). */
const csvLine = (r: BacktestRow) => {
  const m = (r.metrics ?? {}) as Record<string, unknown>;
  return {
    id: r.id,
    createdAt: r.createdAt,
    name: r.name,
    kind: kindOf(r),
    sweepId: r.sweepId,
    strategyId: r.strategyId,
    strategyVersion: r.parameters.strategyVersion ?? null,
    symbol: r.symbol,
    interval: r.interval,
    status: r.status,
    ...Object.fromEntries(SWEEP_CSV_FIGURES.map((f) => [f, m[f] ?? null])),
    combo: r.parameters.combo ?? null,
    note: r.note,
  };
};
const RUN_CSV_COLUMNS = Object.keys(
  csvLine({ parameters: {}, metrics: null } as unknown as BacktestRow),
) as readonly string[];

/**
 * A sweep as its list line: how it searches, what it ranks by, how far it is and its best point so
 * far (the same as the top of its ranking on GET /sweeps/:id).
 */
const sweepView = (s: SweepSummaryRow) => {
  const p = s.parameters;
  const { rankBy, minTrades } = rankingOf(p);
  const adaptive = adaptiveOf(p);
  const c = s.counts;
  const created = c.queued + c.running + c.done + c.failed + c.cancelled;
  // an adaptive search makes its rows as it goes: it is as long as its count
  const total = adaptive && !c.cancelled ? Math.max(adaptive.count, created) : created;
  const ended = c.done + c.failed + c.cancelled;
  const status = c.cancelled ? 'cancelled' : ended < total ? 'running' : 'done';
  return {
    sweepId: s.sweepId,
    name: s.name,
    strategyId: s.strategyId,
    symbol: s.symbol,
    interval: s.interval,
    method: adaptive ? 'tpe' : p.sample ? 'random' : 'grid',
    ...(p.portfolio ? { portfolio: p.portfolio } : {}),
    rankBy,
    ...(minTrades ? { minTrades } : {}),
    status,
    total,
    ...c,
    progress: total ? ended / total : 1,
    best: s.best ? { backtestId: s.best.id, combo: s.best.combo, [rankBy]: s.best.value } : null,
    createdAt: s.createdAt,
    ...(status === 'running' ? {} : { finishedAt: s.lastFinishedAt }),
  };
};

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
  for (const r of await repo.unfinished()) await queueBacktest(rt)(r.id);
  // adaptive sweeps that stopped short of their count with nothing left to run go on: all of them now,
  // and every SWEEP_CHECK_MS those that ended in the last hour (a sweep stalls as its last result comes in)
  const resume = (endedSince?: Date) =>
    resumeStalledSearches(rt, queueBacktest(rt), endedSince).catch((e: Error) =>
      rt.log.warn({ err: e.message }, 'could not look for stalled adaptive sweeps'),
    );
  await resume();
  const sweepCheck = setInterval(() => void resume(new Date(Date.now() - 3_600_000)), rt.config.sweepCheckMs);
  ctx.onClose(() => clearInterval(sweepCheck));

  async function resolveGraph(
    userId: string,
    body: { strategyId?: string; graph?: unknown },
  ): Promise<{ graph: Graph; strategyId: string | null; strategyVersion?: number }> {
    if (body.strategyId) {
      const s = await strategies.get(userId, body.strategyId);
      if (!s) throw notFound('strategy');
      return { graph: s.graph as Graph, strategyId: s.id, strategyVersion: s.version };
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
  const paramsOf = (
    b: Omit<z.infer<typeof CreateBody>, 'symbol' | 'detailInterval'> & { detailInterval?: string },
  ) => ({
    ...marginOf(b),
    ...detailOf(b.interval, b.detailInterval),
    from: b.from,
    to: b.to,
    startingBalance: b.startingBalance,
    feeRate: b.feeRate,
    feeFixed: b.feeFixed,
    // kept only when given: a backtest without is as before they existed
    ...exchangeOf(b),
    slippageBps: b.slippageBps,
    allowShort: b.allowShort,
    fillOn: b.fillOn,
    // kept only with a limit in it: a backtest without is as before they existed
    ...(b.risk && Object.keys(b.risk).length ? { risk: b.risk } : {}),
  });
  /**
   * What a sweep or a walk-forward runs on (OneOrPortfolio): its row's symbol (a portfolio's joined by
   * commas) and interval, and for a portfolio its symbols with their weights normalised.
   */
  const targetOf = (b: {
    symbol?: string;
    symbols?: string[];
    weights?: number[];
    symbolRules?: SymbolRules;
    portfolioRisk?: PortfolioLimits;
    interval: string;
    name?: string;
    note?: string;
  }) => ({
    target: {
      symbol: b.symbols ? b.symbols.join(',') : b.symbol!,
      interval: b.interval,
      name: b.name,
      note: b.note,
    },
    portfolio: b.symbols ? { portfolio: portfolioSpec({ ...b, symbols: b.symbols }) } : undefined,
  });
  /** a backtest row, queued */
  async function enqueue(
    userId: string,
    source: { strategyId: string | null; strategyVersion?: number },
    snapshot: Graph,
    body: { symbol: string; interval: string; name?: string; note?: string },
    parameters: Record<string, unknown>,
    sweepId?: string,
    sweepSeq?: number,
  ) {
    const row = await repo.create({
      userId,
      strategyId: source.strategyId,
      name: body.name ?? null,
      note: body.note || null,
      ...(sweepId ? { sweepId } : {}),
      ...(sweepSeq !== undefined ? { sweepSeq } : {}),
      snapshot,
      symbol: body.symbol,
      interval: body.interval,
      // which saved version of the strategy this ran (its graph is in the row's snapshot either way)
      parameters: source.strategyVersion ? { ...parameters, strategyVersion: source.strategyVersion } : parameters,
    });
    await queueBacktest(rt)(row.id);
    ctx.metrics.backtests.inc({ status: 'queued' });
    return row;
  }
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
        const { graph, ...source } = await resolveGraph(user.id, req.body);
        const row = await enqueue(user.id, source, graph, req.body, paramsOf(req.body));
        return reply.status(202).send({ id: row.id, status: 'queued' });
      });

      // newest first, a page at a time (the next named in a Link header); a sweep's backtests only
      // with kind=sweep (each sweep is one line of GET /sweeps)
      r.get('/', { schema: { tags: ['backtest'], querystring: ListQuery } }, async (req, reply) => {
        const { format, ...filter } = req.query;
        if (format === 'csv') {
          // every run the filters match, a line each with its figures (at most MAX_CSV_RUNS: the Link names the rest)
          const rows: BacktestRow[] = [];
          let next: string | null = null;
          let before = filter.before;
          do {
            const page = await repo.page(userOf(req).id, {
              ...filter,
              before,
              limit: Math.min(500, MAX_CSV_RUNS - rows.length),
            });
            rows.push(...page.rows);
            next = page.next;
            before = next ? parseCursor(next)! : undefined;
          } while (next && rows.length < MAX_CSV_RUNS);
          linkNext(req, reply, next);
          return sendCsv(reply, 'backtests.csv', rows.map(csvLine), RUN_CSV_COLUMNS);
        }
        const { rows, next } = await repo.page(userOf(req).id, filter);
        linkNext(req, reply, next);
        return rows.map(view);
      });

      // the caller's sweeps, newest first, each with its progress and its best point so far
      r.get('/sweeps', { schema: { tags: ['backtest'], querystring: SweepsQuery } }, async (req, reply) => {
        const { rows, next } = await repo.sweeps(userOf(req).id, req.query);
        linkNext(req, reply, next);
        return rows.map(sweepView);
      });

      r.post('/sweep', { schema: { tags: ['backtest'], body: SweepBody } }, async (req, reply) => {
        const user = userOf(req);
        const { graph, ...source } = await resolveGraph(user.id, req.body);
        const grid = gridOf(req.body);
        const sweepId = randomUUID();
        const ids: string[] = [];
        // without a `to`, the history as it stands now: every backtest of the sweep, whenever and wherever
        // it runs, reads the bars closed by then (candlesOf)
        const { target, portfolio } = targetOf(req.body);
        const common = {
          ...paramsOf(req.body),
          ...(req.body.to ? {} : { asOf: new Date().toISOString() }),
          // a portfolio sweep: each point a portfolio backtest of these symbols
          ...portfolio,
        };
        if (req.body.sample?.method === 'tpe') {
          // an adaptive search: its random start queued now, the rest proposed as results come (adaptive.ts)
          const asked = req.body.sample;
          checkValues(graph, grid);
          const sample: AdaptiveSearch = { ...adaptiveSpec(grid, asked), parallel: asked.parallel ?? DEFAULT_PARALLEL };
          const start = comboVariants(graph, sampleGrid(grid, sample.startup, sample.seed));
          for (const [seq, { graph: g, combo }] of start.entries()) {
            const parameters = { ...common, combo, ...ranking(req.body), sample, grid: req.body.params };
            ids.push((await enqueue(user.id, source, g, target, parameters, sweepId, seq)).id);
          }
          return reply.status(202).send({ sweepId, jobs: sample.count, ids, rankBy: req.body.rankBy, sample });
        }
        const { combos, sample } = pointsOf(grid, req.body.sample);
        const variants = combos ? comboVariants(graph, combos) : gridVariants(graph, grid, MAX_SWEEP);
        for (const { graph: g, combo } of variants) {
          // the grid kept with each point: its neighbours are read from it (a sweep's plateaus)
          const parameters = {
            ...common,
            combo,
            ...ranking(req.body),
            ...(sample ? { sample } : {}),
            grid: req.body.params,
          };
          ids.push((await enqueue(user.id, source, g, target, parameters, sweepId)).id);
        }
        return reply
          .status(202)
          .send({ sweepId, jobs: ids.length, ids, rankBy: req.body.rankBy, ...(sample ? { sample } : {}) });
      });

      // the two measures of the Pareto front (higher better on both), as "x,y"
      const SweepQuery = AsCsv.extend({
        pareto: z
          .string()
          .default('returnPct,maxDrawdownPct')
          .transform((v, ctx) => {
            const pair = measurePair(v);
            if (!('error' in pair)) return pair;
            ctx.addIssue({ code: 'custom', message: pair.error });
            return z.NEVER;
          }),
      });
      r.get(
        '/sweeps/:id',
        { schema: { tags: ['backtest'], params: Id, querystring: SweepQuery } },
        async (req, reply) => {
          const rows = await repo.list(userOf(req).id, { sweepId: req.params.id, limit: MAX_SWEEP });
          if (!rows.length) throw notFound('sweep');
          const { rankBy, minTrades } = rankingOf(rows[0]!.parameters);
          const done = rows.filter((x) => x.status === 'done');
          const adaptive = adaptiveOf(rows[0]!.parameters);
          const tooFew = (x: BacktestRow) => minTrades > 0 && !(Number(x.metrics?.trades ?? 0) >= minTrades);
          const ranked = [...done]
            .sort((a, b) => scoreOf(b.metrics, rankBy, minTrades) - scoreOf(a.metrics, rankBy, minTrades))
            .map((x, i) => ({
              rank: i + 1,
              id: x.id,
              combo: x.parameters.combo,
              [rankBy]: x.metrics?.[rankBy] ?? null,
              metrics: x.metrics,
              ...(tooFew(x) ? { tooFewTrades: true } : {}),
            }));
          // the Pareto front on the two measures asked for, of the backtests that traded enough
          const [px, py] = req.query.pareto;
          const front = sweepFront(
            ranked.map((x) => x.metrics),
            px,
            py,
            minTrades,
          ).map((i) => ranked[i]!);
          const onFront = new Set(front.map((x) => x.id));
          // each point among its neighbours in the grid (those run): a plateau or a spike
          const byId = new Map(done.map((d) => [d.id, d]));
          const { plateaus, robustAt } = standingOf(
            ranked.map((x) => byId.get(x.id)!),
            rankBy,
            minTrades,
          );
          const scored = done.map((x) => ({
            combo: x.parameters.combo as Combo,
            score: scoreOf(x.metrics, rankBy, minTrades),
          }));
          const round = (v: number | null) => (v === null ? null : Number(v.toPrecision(12)));
          const standing = (i: number) => {
            const p = plateaus[i];
            return p
              ? {
                  neighbours: p.neighbours,
                  mean: round(p.mean),
                  worst: round(p.worst),
                  withNeighbours: round(p.withNeighbours),
                }
              : null;
          };
          if (req.query.format === 'csv') {
            // one line a finished backtest, in rank order: its parameters, then its figures
            const keys = Object.keys((ranked[0]?.combo as object | undefined) ?? {});
            const lines = ranked.map((x, i) => {
              const m = (x.metrics ?? {}) as Record<string, unknown>;
              const run = done.find((d) => d.id === x.id)!;
              return {
                rank: x.rank,
                ...(adaptive ? { n: (run.sweepSeq ?? 0) + 1 } : {}),
                backtestId: x.id,
                ...Object.fromEntries(keys.map((k) => [k, (x.combo as Record<string, unknown>)[k]])),
                ...Object.fromEntries(SWEEP_CSV_FIGURES.map((f) => [f, m[f] ?? null])),
                tooFewTrades: tooFew(run),
                pareto: onFront.has(x.id),
                neighbours: plateaus[i]?.neighbours ?? null,
                withNeighbours: round(plateaus[i]?.withNeighbours ?? null),
              };
            });
            return sendCsv(reply, `sweep-${req.params.id}.csv`, lines);
          }
          const sample = rows[0]!.parameters.sample;
          // an adaptive sweep is as long as its count; its rows are made as it goes
          const total = adaptive && !rows.some((x) => x.status === 'cancelled') ? adaptive.count : rows.length;
          return {
            sweepId: req.params.id,
            // its name (every backtest of a sweep carries it; null when it has none)
            name: rows[0]!.name,
            rankBy,
            ...(minTrades ? { minTrades } : {}),
            ...(sample ? { sample } : {}),
            // the history it runs on: the bars closed by then (a sweep without a `to`)
            ...(rows[0]!.parameters.asOf ? { asOf: rows[0]!.parameters.asOf } : {}),
            // a portfolio sweep's symbols and their weights
            ...(rows[0]!.parameters.portfolio ? { portfolio: rows[0]!.parameters.portfolio } : {}),
            // what every point ran with: its money, fees, exchange's rules, margin and risk limits
            settings: settingsOf(rows[0]!.parameters),
            total,
            created: rows.length,
            done: done.length,
            progress:
              rows.reduce((s, x) => s + (x.status === 'queued' || x.status === 'running' ? x.progress : 1), 0) / total,
            ranked: ranked.map((x, i) => ({
              ...x,
              ...(onFront.has(x.id) ? { pareto: true } : {}),
              ...(plateaus[i] ? { plateau: standing(i) } : {}),
            })),
            // the point with the best mean score with its neighbours (two of them run at least)
            ...(robustAt >= 0
              ? {
                  robust: {
                    id: ranked[robustAt]!.id,
                    rank: ranked[robustAt]!.rank,
                    combo: ranked[robustAt]!.combo,
                    [rankBy]: ranked[robustAt]!.metrics?.[rankBy] ?? null,
                    ...standing(robustAt),
                  },
                }
              : {}),
            // the trade-offs worth choosing from: no backtest beats one of these on both measures
            pareto: { x: px, y: py, ids: front.map((x) => x.id) },
            // which parameters the scores depend on (from three finished backtests), and which pairs of
            // them more together than each alone (the five largest above nothing)
            ...sweepEffects(scored),
            // how the best score grew, backtest by backtest in the order proposed
            ...(adaptive ? { convergence: convergenceOf(trialsOf(rows, rankBy, minTrades)) } : {}),
          };
        },
      );

      const Blocks = z.strictObject({ blocks: z.coerce.number().int().min(2).max(32).default(16) });
      r.get(
        '/sweeps/:id/overfitting',
        { schema: { tags: ['backtest'], params: Id, querystring: Blocks } },
        async (req) => {
          const rows = await repo.list(userOf(req).id, { sweepId: req.params.id, limit: MAX_SWEEP });
          if (!rows.length) throw notFound('sweep');
          const { blocks } = req.query;
          if (blocks % 2)
            throw new AppError('VALIDATION_FAILED', `blocks: ${blocks} is odd; half of them are in sample`);
          const done = rows.filter((x) => x.status === 'done' && x.artifactKey);
          if (done.length < 2)
            throw new AppError('CONFLICT', `${done.length} of the sweep's backtests are done; overfitting needs two`);
          // each backtest's per-bar returns (the sweep's backtests run on the same bars), read 16 at a
          // time (an object store's round trips overlap)
          const returns: Float64Array[] = [];
          for (let i = 0; i < done.length; i += 16)
            for (const a of await Promise.all(done.slice(i, i + 16).map(artifact)))
              returns.push(returnsOf(a.equity.equity));
          const bars = Math.min(...returns.map((r) => r.length));
          if (bars < 2 * blocks)
            throw new AppError(
              'UNPROCESSABLE',
              `${bars + 1} bars give ${bars} returns; ${blocks} blocks need at least ${2 * blocks} (ask for fewer blocks)`,
            );
          const pbo = await pboCscvAsync(returns, blocks);
          const d = bestDeflated(returns);
          const best = done[d.at]!;
          const clean = (x: number) => (Number.isFinite(x) ? x : null);
          return {
            sweepId: req.params.id,
            trials: done.length,
            bars,
            blocks,
            blockBars: pbo.blockBars,
            splits: pbo.logits.length,
            pbo: pbo.pbo,
            meanRank: pbo.meanRank,
            slope: pbo.slope,
            logits: histogramOf(pbo.logits),
            best: {
              id: best.id,
              combo: best.parameters.combo,
              sharpe: best.metrics?.sharpe ?? null,
              sharpePerBar: clean(d.sharpe),
              psr: clean(d.psr),
              dsr: clean(d.dsr),
              expectedMaxPerBar: clean(d.expectedMax),
            },
          };
        },
      );

      /** Cancels what of a sweep is queued or running; how many (404 when the caller has no such sweep). */
      const cancelSweep = async (userId: string, sweepId: string): Promise<number> => {
        let rows = await repo.list(userId, { sweepId, limit: MAX_SWEEP });
        if (!rows.length) throw notFound('sweep');
        // twice: an adaptive sweep's backtest ending as the first pass runs may have proposed one more
        // (past that, a cancelled backtest stops its proposals, and a result landing late leaves it so)
        let cancelled = 0;
        for (let pass = 0; pass < 2; pass++) {
          for (const x of rows.filter((x) => x.status === 'queued' || x.status === 'running')) {
            await rt.queue.cancel(BACKTEST_QUEUE, x.id).catch(() => false);
            await repo.update(x.id, { status: 'cancelled', finishedAt: new Date() });
            cancelled++;
          }
          if (pass === 0) rows = await repo.list(userId, { sweepId, limit: MAX_SWEEP });
        }
        return cancelled;
      };
      r.post('/sweeps/:id/cancel', { schema: { tags: ['backtest'], params: Id } }, async (req) => ({
        sweepId: req.params.id,
        cancelled: await cancelSweep(userOf(req).id, req.params.id),
      }));
      // a sweep named anew: every backtest of it (its list line and page show the name)
      r.patch('/sweeps/:id', { schema: { tags: ['backtest'], params: Id, body: SweepNameBody } }, async (req) => {
        if (!(await repo.nameSweep(userOf(req).id, req.params.id, req.body.name))) throw notFound('sweep');
        return { sweepId: req.params.id, name: req.body.name };
      });
      // a sweep and every backtest of it, with their results files (one that lands later, from a
      // backtest that was running, is removed by its worker: see processBacktest)
      r.delete('/sweeps/:id', { schema: { tags: ['backtest'], params: Id } }, async (req, reply) => {
        const user = userOf(req);
        await cancelSweep(user.id, req.params.id);
        const ids = await repo.deleteSweep(user.id, req.params.id);
        for (let i = 0; i < ids.length; i += 8)
          await Promise.all(ids.slice(i, i + 8).map((id) => rt.store.delete(artifactKeyOf(id)).catch(() => {})));
        return reply.status(204).send();
      });

      r.post('/walk-forward', { schema: { tags: ['backtest'], body: WalkForwardBody } }, async (req, reply) => {
        const user = userOf(req);
        const { graph, ...source } = await resolveGraph(user.id, req.body);
        const { rankBy, minTrades, folds, outOfSamplePct, anchored, pick } = req.body;
        const grid = gridOf(req.body);
        const asked = req.body.sample;
        // an adaptive search: `count` backtests proposed in each window, every value checked up front
        const adaptive = asked?.method === 'tpe' ? adaptiveSpec(grid, asked) : undefined;
        const { combos, sample } = adaptive ? { combos: undefined, sample: adaptive } : pointsOf(grid, asked);
        const combinations = adaptive ? adaptive.count : combos ? combos.length : gridSize(grid);
        const backtests = combinations * (folds + 1) + folds;
        if (backtests > MAX_WALK_FORWARD_RUNS)
          throw new AppError(
            'VALIDATION_FAILED',
            `${combinations} combinations over ${folds} folds make ${backtests} backtests; at most ${MAX_WALK_FORWARD_RUNS}`,
          );
        // every combination compiles, or a 400 now rather than a failed job
        if (adaptive) checkValues(graph, grid);
        else if (combos) comboVariants(graph, combos);
        else gridVariants(graph, grid, MAX_SWEEP);
        const { target, portfolio } = targetOf(req.body);
        const row = await enqueue(user.id, source, graph, target, {
          ...paramsOf(req.body),
          // a portfolio walk-forward: each of its backtests a portfolio backtest of these symbols
          ...portfolio,
          // a random search keeps its points (and the ranges as typed), not the whole grid written out
          walkForward: {
            ...(adaptive
              ? { params: req.body.params, search: adaptive, sample }
              : combos
                ? { params: req.body.params, combos, sample }
                : { grid }),
            rankBy,
            ...(minTrades ? { minTrades } : {}),
            folds,
            outOfSamplePct,
            anchored,
            ...(pick === 'robust' ? { pick } : {}),
          },
        });
        return reply.status(202).send({
          id: row.id,
          status: 'queued',
          combinations,
          folds,
          backtests,
          ...(sample ? { sample } : {}),
          ...portfolio?.portfolio,
        });
      });

      r.post('/portfolio', { schema: { tags: ['backtest'], body: PortfolioBody } }, async (req, reply) => {
        const user = userOf(req);
        const { graph, ...source } = await resolveGraph(user.id, req.body);
        const { symbols } = req.body;
        const portfolio = portfolioSpec(req.body);
        const row = await enqueue(
          user.id,
          source,
          graph,
          { symbol: symbols.join(','), interval: req.body.interval, name: req.body.name, note: req.body.note },
          { ...paramsOf(req.body), portfolio },
        );
        return reply.status(202).send({ id: row.id, status: 'queued', ...portfolio });
      });

      r.get('/:id/portfolio', { schema: { tags: ['backtest'], params: Id } }, async (req) => {
        const row = await mine(req, userOf(req).id);
        if (!row.parameters.portfolio) throw new AppError('NOT_FOUND', 'this backtest is not a portfolio backtest');
        if (row.parameters.walkForward)
          throw new AppError('NOT_FOUND', 'this is a walk-forward over a portfolio: its results are at /walk-forward');
        const a = (await artifact(row)) as { portfolio?: object };
        return { id: row.id, spec: row.parameters.portfolio, ...a.portfolio };
      });

      r.get('/:id/walk-forward', { schema: { tags: ['backtest'], params: Id } }, async (req) => {
        const row = await mine(req, userOf(req).id);
        if (!row.parameters.walkForward)
          throw new AppError('NOT_FOUND', 'this backtest is a single run, not a walk-forward');
        const a = (await artifact(row)) as { walkForward?: { basket?: number[] } };
        const { portfolio } = row.parameters;
        // a portfolio's basket (a price per out-of-sample bar) is its report's, not the summary's
        const { basket: _basket, ...summary } = a.walkForward ?? {};
        return { id: row.id, spec: row.parameters.walkForward, ...(portfolio ? { portfolio } : {}), ...summary };
      });

      r.get('/:id', { schema: { tags: ['backtest'], params: Id } }, async (req) =>
        view(await mine(req, userOf(req).id)),
      );

      // a backtest named or noted anew
      r.patch('/:id', { schema: { tags: ['backtest'], params: Id, body: LabelBody } }, async (req) => {
        const user = userOf(req);
        if (!(await repo.label(req.params.id, user.id, req.body))) throw notFound('backtest');
        return view((await repo.get(req.params.id, user.id))!);
      });
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
        await repo.delete(row.id, userOf(req).id);
        await rt.store.delete(row.artifactKey ?? artifactKeyOf(row.id)).catch(() => {});
        return reply.status(204).send();
      });

      r.get('/:id/trades', { schema: { tags: ['backtest'], params: Id, querystring: AsCsv } }, async (req, reply) => {
        const row = await mine(req, userOf(req).id);
        const trades = (await artifact(row)).trades as Record<string, unknown>[];
        return req.query.format === 'csv' ? sendCsv(reply, `backtest-${row.id}-trades.csv`, trades) : trades;
      });

      r.get('/:id/equity', { schema: { tags: ['backtest'], params: Id, querystring: AsCsv } }, async (req, reply) => {
        const row = await mine(req, userOf(req).id);
        const a = await artifact(row);
        let peak = -Infinity;
        const points = a.equity.ts.map((t, i) => {
          const e = a.equity.equity[i]!;
          peak = Math.max(peak, e);
          return { ts: new Date(t).toISOString(), equity: e, drawdownPct: -(1 - e / peak) * 100 };
        });
        return req.query.format === 'csv' ? sendCsv(reply, `backtest-${row.id}-equity.csv`, points) : points;
      });

      r.get('/:id/report', { schema: { tags: ['backtest'], params: Id } }, async (req, reply) => {
        const row = await mine(req, userOf(req).id);
        const a = await artifact(row);
        const pf = (a as { portfolio?: { legs: Parameters<typeof legsTable>[0]; basket: number[] } }).portfolio;
        const wf = (a as { walkForward?: { folds?: Parameters<typeof foldsTable>[0]; basket?: number[] } }).walkForward;
        const first = a.equity.ts[0] ?? -Infinity;
        // a portfolio (a backtest or a walk-forward over one) has no one price: its chart is the buy and
        // hold of the same allocation
        const basket = pf?.basket ?? wf?.basket;
        const cols = basket
          ? { ts: a.equity.ts, open: basket, high: basket, low: basket, close: basket }
          : toColumns((await candlesOf(rt, row)).filter((c) => c.ts >= first));
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
        const spec = row.parameters.walkForward as { rankBy?: string } | undefined;
        const kind = wf ? 'Walk-forward, out of sample' : pf ? 'Portfolio backtest' : 'Backtest';
        // what the risk limits did (stored in the metrics; a portfolio's are on its summed equity), or
        // the entries under the minimum order value
        const portfolio = row.parameters.portfolio as { risk?: object } | undefined;
        const risk = (portfolio ? portfolio.risk : row.parameters.risk) as Record<string, unknown> | undefined;
        const did = (row.metrics as { limits?: Parameters<typeof limitsTable>[1] } | null)?.limits;
        const tables = [
          ...(wf?.folds ? [foldsTable(wf.folds, spec?.rankBy ?? 'sharpe')] : []),
          ...(pf ? [legsTable(pf.legs)] : []),
          ...(did ? [limitsTable(risk ?? {}, did)] : []),
        ];
        // shaded on the charts: a walk-forward's halts are its folds'
        const halts = did?.halts ?? (wf?.folds ?? []).flatMap((f) => f.limits?.halts ?? []);
        const html = renderReport({
          ...(tables.length ? { tables } : {}),
          ...(halts.length ? { halted: haltSpans(risk ?? {}, halts) } : {}),
          // a drawdown stop's level on the drawdown (not a walk-forward's: each window's is from its start)
          ...(!wf && typeof risk?.maxDrawdownPct === 'number' ? { drawdownStopPct: risk.maxDrawdownPct } : {}),
          ...(basket ? { priceTitle: 'Buy and hold of the same allocation', markers: false } : {}),
          title: `${kind} ${row.symbol.split(',').join(', ')} ${row.interval} (${row.id.slice(0, 8)})`,
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
