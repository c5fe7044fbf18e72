import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { candlesFromCsvBytes, candlesRepo, createRuntime, loadConfig, symbolsRepo } from '@algotrade/adapters';
import {
  compileGraph,
  barSecondsOf,
  firstTradingBar,
  haltText,
  legsTable,
  haltSpans,
  limitsTable,
  normaliseWeights,
  renderReport,
  runBacktest,
  runPortfolio,
  statsRows,
  templateById,
  templates,
  toColumns,
  viewBars,
  type BarColumns,
} from '@algotrade/strategy';
import {
  DEFAULT_MAINTENANCE_MARGIN_PCT,
  marginProblem,
  marginSettings,
  monteCarlo,
  SYMBOL_PATTERN,
  tradesByReason,
  type MarginSettings,
  type PortfolioLimits,
  type RiskLimits,
} from '@algotrade/core';
import { ExchangeInput, type ExchangeSettings, type SymbolRules } from '@algotrade/services/http/exchange';
import { PortfolioRiskInput, RiskInput } from '@algotrade/services/http/risk';
import { parseArgs, progressBar, UsageError } from './args.ts';

/** the flags that name a strategy, its data and the engine's options (`backtest` and `walk-forward`) */
export const RUN_FLAGS = {
  strategy: 'string',
  data: 'string',
  from: 'string',
  to: 'string',
  interval: 'string',
  cash: 'string',
  fee: 'string',
  'fee-fixed': 'string',
  'maker-fee': 'string',
  'qty-step': 'string',
  'min-notional': 'string',
  'borrow-rate': 'string',
  slippage: 'string',
  short: 'boolean',
  'on-close': 'boolean',
  asset: 'string',
  leverage: 'string',
  'maintenance-margin': 'string',
  funding: 'string',
  detail: 'string',
  'max-drawdown': 'string',
  'max-daily-loss': 'string',
  'max-position-pct': 'string',
  'max-position-value': 'string',
  'max-order-qty': 'string',
  'max-orders-per-minute': 'string',
  'resume-next-day': 'boolean',
  // a portfolio's limits on its summed equity, as a paper portfolio's portfolioRisk
  'portfolio-drawdown': 'string',
  'portfolio-daily-loss': 'string',
} as const;
/** the risk limit flags and the paper sessions' `risk` fields they set (their bounds are the API's: RiskInput) */
const RISK_FLAGS = [
  ['max-drawdown', 'maxDrawdownPct'],
  ['max-daily-loss', 'maxDailyLossPct'],
  ['max-position-pct', 'maxPositionPct'],
  ['max-position-value', 'maxPositionValue'],
  ['max-order-qty', 'maxOrderQty'],
  ['max-orders-per-minute', 'maxOrdersPerMinute'],
] as const satisfies readonly [keyof typeof RUN_FLAGS, keyof RiskLimits][];
const SPEC = {
  ...RUN_FLAGS,
  report: 'string',
  json: 'boolean',
  'monte-carlo': 'string',
  'mc-method': 'string',
  weights: 'string',
} as const;

const num = (v: string | boolean | undefined, name: string, def: number): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number (got ${v})`);
  return n;
};

/** A strategy file's graph; undefined when there is no such file; a UsageError when it is not JSON. */
function readJsonFile(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file} is not a JSON strategy file: ${(e as Error).message}`);
  }
}

/** The common options of `backtest` and `walk-forward`, checked before any data is read. */
export function engineOptions(flags: Record<string, string | boolean>) {
  return {
    cash: num(flags.cash, 'cash', 100_000),
    feeRate: num(flags.fee, 'fee', 0),
    feeFixed: num(flags['fee-fixed'], 'fee-fixed', 0),
    ...exchangeFlags(flags).settings,
    slippageBps: num(flags.slippage, 'slippage', 0),
    allowShort: !!flags.short,
    fillOn: flags['on-close'] ? ('close' as const) : ('next_open' as const),
    ...leverageOf(flags),
    ...riskOf(flags),
  };
}

/** the exchange flags, their API keys, and what each takes (its bounds are the API's: ExchangeInput) */
const EXCHANGE_FLAGS = [
  ['maker-fee', 'makerFeeRate', 'a fee rate'], // below 0: a maker's rebate
  ['qty-step', 'qtyStep', 'a lot size'],
  ['min-notional', 'minNotional', 'an order value'],
  ['borrow-rate', 'borrowRatePct', 'a % a year'],
] as const;

/**
 * An exchange's rules from their flags, each only when given: a maker's fee rate (`--maker-fee`, a limit
 * order filled at its level), a lot size (`--qty-step`), a minimum order value (`--min-notional`) and a
 * short's borrow rate (`--borrow-rate`, % a year), each within the API's bounds. A portfolio's lot size
 * and minimum may be given by symbol (`--qty-step 1,BTCUSD=0.001`: the run's, then BTCUSD's):
 * `symbolRules`, which the legs take (legsWithRules).
 */
export function exchangeFlags(flags: Record<string, string | boolean>) {
  const settings: ExchangeSettings = {};
  const symbolRules: SymbolRules = {};
  for (const [flag, key, what] of EXCHANGE_FLAGS) {
    if (flags[flag] === undefined) continue;
    const given = String(flags[flag]);
    const bounds = ExchangeInput[key].unwrap();
    for (const part of given.split(',')) {
      const [symbol, text] = part.includes('=') ? part.split('=', 2) : [undefined, part];
      const n = text!.trim() === '' ? NaN : Number(text);
      if (!bounds.safeParse(n).success)
        throw new UsageError(`--${flag} must be ${what} from ${bounds.minValue} to ${bounds.maxValue} (got ${given})`);
      if (symbol === undefined) settings[key] = n;
      else if (key === 'qtyStep' || key === 'minNotional') (symbolRules[symbol.trim().toUpperCase()] ??= {})[key] = n;
      else throw new UsageError(`--${flag} is one for the run: a symbol's own is for --qty-step and --min-notional`);
    }
  }
  if (Object.keys(symbolRules).length && dataList(flags).length < 2)
    throw new UsageError(`a symbol's own --qty-step or --min-notional is for a portfolio (--data with several)`);
  return { settings, symbolRules };
}

/** A portfolio's legs, each with its symbol's own lot size and minimum order value (exchangeFlags). */
function legsWithRules<L extends { symbol: string }>(legs: L[], flags: Record<string, string | boolean>) {
  const { symbolRules } = exchangeFlags(flags);
  const names = legs.map((l) => l.symbol);
  const stray = Object.keys(symbolRules).filter((k) => !names.includes(k));
  if (stray.length)
    throw new UsageError(`--qty-step, --min-notional: ${stray.join(', ')} not in --data (${names.join(', ')})`);
  return legs.map((l) => (symbolRules[l.symbol] ? { ...l, rules: symbolRules[l.symbol]! } : l));
}

/** The paper sessions' risk limits from their flags (`--max-drawdown 20`...): none given, none set. */
function riskOf(flags: Record<string, string | boolean>): { risk?: RiskLimits } {
  const risk: RiskLimits = {};
  for (const [flag, key] of RISK_FLAGS) {
    if (flags[flag] === undefined) continue;
    const n = Number(flags[flag]);
    const bounds = RiskInput.shape[key].unwrap();
    if (!bounds.safeParse(n).success)
      throw new UsageError(
        `--${flag} must be ${bounds.isInt ? 'a whole number' : 'a number'} above ${bounds.minValue}, at most ${bounds.maxValue} (got ${flags[flag]})`,
      );
    risk[key] = n;
  }
  if (flags['resume-next-day']) {
    if (risk.maxDailyLossPct === undefined && flags['portfolio-daily-loss'] === undefined)
      throw new UsageError('--resume-next-day goes with --max-daily-loss or --portfolio-daily-loss');
    if (risk.maxDailyLossPct !== undefined) risk.resumeNextDay = true;
  }
  return Object.keys(risk).length ? { risk } : {};
}

/**
 * A portfolio's limits on its summed equity from their flags (`--portfolio-drawdown 20`,
 * `--portfolio-daily-loss 5` with `--resume-next-day`): undefined when none is given.
 */
export function portfolioLimitsOf(flags: Record<string, string | boolean>): PortfolioLimits | undefined {
  const limits: PortfolioLimits = {};
  for (const [flag, key] of [
    ['portfolio-drawdown', 'maxDrawdownPct'],
    ['portfolio-daily-loss', 'maxDailyLossPct'],
  ] as const) {
    if (flags[flag] === undefined) continue;
    const n = Number(flags[flag]);
    // the API's bounds (PortfolioRiskInput: a % above 0)
    const bounds = PortfolioRiskInput.shape[key].unwrap();
    if (!bounds.safeParse(n).success)
      throw new UsageError(
        `--${flag} must be a % above ${bounds.minValue}, at most ${bounds.maxValue} (got ${flags[flag]})`,
      );
    limits[key] = n;
  }
  if (limits.maxDailyLossPct !== undefined && flags['resume-next-day']) limits.resumeNextDay = true;
  return Object.keys(limits).length ? limits : undefined;
}

/** One symbol's run (`--data` naming one): a portfolio's limits given with it are a usage error. */
export function noPortfolioLimits(flags: Record<string, string | boolean>): void {
  if (portfolioLimitsOf(flags))
    throw new UsageError(
      "--portfolio-drawdown and --portfolio-daily-loss are a portfolio's: give --data several symbols or files",
    );
}

/**
 * `--leverage` (1-125), `--maintenance-margin` (%, below the initial margin 100 / leverage) and
 * `--funding` (perpetual futures' funding, % every 8 hours, -1 to 1).
 */
function leverageOf(flags: Record<string, string | boolean>): MarginSettings {
  const leverage = num(flags.leverage, 'leverage', 1);
  const mm = num(flags['maintenance-margin'], 'maintenance-margin', DEFAULT_MAINTENANCE_MARGIN_PCT);
  const problem = marginProblem(leverage, mm);
  if (problem) throw new UsageError(`--leverage, --maintenance-margin: ${problem}`);
  const rate = flags.funding === undefined ? 0 : Number(flags.funding);
  if (!(rate >= -1 && rate <= 1)) throw new UsageError(`--funding must be a % from -1 to 1 (got ${flags.funding})`);
  return marginSettings(leverage, mm, rate);
}

/**
 * The strategy (`--strategy`: a template or a JSON file) compiled, and the bars (`--data`: a CSV file
 * or a stored symbol, cut to `--from`/`--to`). A strategy that does not compile prints its errors and
 * gives null (exit status 1).
 */
export async function loadStrategyAndBars(flags: Record<string, string | boolean>) {
  const s = loadStrategy(flags);
  if (!s) return s;
  const bars = await loadBars(String(flags.data), flags);
  return { ...s, ...bars, detail: await loadDetail(flags, bars.cols) };
}

/**
 * `--detail`: a detail timeframe, finer bars the stops and targets are checked on: a CSV file of them
 * beside a `--data` file, or an interval (1m) of the stored symbol; cut to the bars' time.
 */
async function loadDetail(flags: Record<string, string | boolean>, cols: BarColumns) {
  if (flags.detail === undefined) return undefined;
  const detail = String(flags.detail);
  const isFile = existsSync(String(flags.data));
  if (isFile !== existsSync(detail))
    throw new UsageError(
      isFile
        ? `--detail takes a CSV file of finer bars beside a --data file (no such file: ${detail})`
        : `--detail takes an interval of the stored symbol, such as 1m (got ${detail})`,
    );
  const from = new Date(cols.ts[0]!).toISOString();
  // through the last bar's end: its open plus the bars' interval
  const to = new Date(cols.ts[cols.length - 1]! + barSecondsOf(cols.ts) * 1000 - 1).toISOString();
  const fine = await loadBars(isFile ? detail : String(flags.data), { ...flags, from, to, interval: detail });
  return fine.cols;
}

/** `--strategy` (a template or a JSON file), compiled; null (its errors printed) when it does not compile. */
function loadStrategy(flags: Record<string, string | boolean>) {
  const strategy = String(flags.strategy);
  const graph: unknown = templateById(strategy)?.graph ?? readJsonFile(strategy);
  if (!graph)
    throw new UsageError(
      `"${strategy}" is neither a template (${templates.map((t) => t.id).join(', ')}) nor a JSON file`,
    );
  // a saved strategy ({name, graph, ...}) or a bare graph
  const bare = (graph as { graph?: unknown }).graph ?? graph;
  const { plan, report } = compileGraph(bare);
  if (!plan) {
    for (const e of report.errors)
      console.error(
        `error ${e.code}${e.nodeId ? ` at node ${e.nodeId}` : ''}${e.edgeId ? ` at edge ${e.edgeId}` : ''}: ${e.message}`,
      );
    return null;
  }
  return { strategy, graph: bare, plan };
}

/**
 * The strategy (as loadStrategyAndBars) and a portfolio's legs: each of `datas` (the symbols or files of a
 * `--data` with commas, 2-20, each once) with its weight (`--weights`, normalised; equal without).
 */
export async function loadStrategyAndLegs(flags: Record<string, string | boolean>, datas: string[]) {
  if (datas.length > 20) throw new UsageError(`${datas.length} symbols in --data; at most 20`);
  if (flags.detail !== undefined)
    throw new UsageError('--detail is for one symbol: a portfolio would need each symbol its own finer bars');
  const weights =
    flags.weights === undefined
      ? undefined
      : String(flags.weights)
          .split(',')
          .map((w) => Number(w));
  const s = loadStrategy(flags);
  if (!s) return s;
  const legs = [];
  for (const d of datas) {
    const b = await loadBars(d, flags);
    legs.push({ symbol: b.symbol, bars: b.cols, wholeUnits: b.asset === 'stock' });
  }
  const names = legs.map((l) => l.symbol);
  if (new Set(names).size !== names.length) throw new UsageError(`--data names a symbol twice (${names.join(', ')})`);
  let w: number[];
  try {
    w = normaliseWeights(names, weights);
  } catch (e) {
    throw new UsageError(`--weights: ${(e as Error).message}`);
  }
  return { ...s, legs: legsWithRules(legs, flags).map((l, i) => ({ ...l, weight: w[i]! })) };
}

/** The symbols or files of a `--data` (one, or several with commas: a portfolio). */
export const dataList = (flags: Record<string, string | boolean>) =>
  String(flags.data)
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);

/** The bars of `--data` (a CSV file or a stored symbol), cut to `--from`/`--to`, with the asset class known. */
async function loadBars(data: string, flags: Record<string, string | boolean>) {
  const from = flags.from ? Date.parse(String(flags.from)) : -Infinity;
  const to = flags.to ? Date.parse(String(flags.to)) : Infinity;
  if (Number.isNaN(from) || Number.isNaN(to)) throw new UsageError('--from and --to take ISO dates such as 2012-01-31');
  // a symbol is letters, digits and ._:- (as the API has it); anything else, or a .csv name, is a file
  const isFile = existsSync(data);
  if (!isFile && (!SYMBOL_PATTERN.test(data) || /\.csv$/i.test(data))) throw new UsageError(`no such file: ${data}`);
  let cols: BarColumns;
  let asset = flags.asset ? String(flags.asset) : undefined;
  const t0 = performance.now();
  if (isFile) {
    const parsed = await candlesFromCsvBytes(readFileSync(data));
    for (const e of parsed.errors.slice(0, 5)) console.error(`${data}:${e.line}: ${e.message} (row skipped)`);
    const c = parsed.columns;
    let a = 0;
    let b = c.length;
    while (a < b && c.ts[a]! < from) a++;
    while (b > a && c.ts[b - 1]! > to) b--;
    cols = viewBars(c, a, b);
  } else {
    const rt = await createRuntime(loadConfig({ ...process.env, LOG_LEVEL: 'error' }));
    try {
      const sym = data.toUpperCase();
      cols = toColumns(
        await candlesRepo(rt.db.db).query(
          sym,
          String(flags.interval ?? '1d'),
          Number.isFinite(from) ? new Date(from) : undefined,
          Number.isFinite(to) ? new Date(to) : undefined,
          10_000_000,
        ),
      );
      asset ??= (await symbolsRepo(rt.db.db).get(sym))?.assetClass;
    } finally {
      await rt.close();
    }
  }
  if (cols.length < 2)
    throw new UsageError(
      `no candles in ${data} for that range (import history first: algotrade import <file.csv> --symbol S)`,
    );
  // a file's symbol is its name (data/GOOG.csv: GOOG)
  const symbol = isFile
    ? basename(data)
        .replace(/\.csv$/i, '')
        .toUpperCase()
    : data.toUpperCase();
  return { cols, data, symbol, asset, loadMs: performance.now() - t0 };
}

/** `algotrade backtest`: run a strategy over a CSV file or a stored symbol; print stats like backtesting.py. */
export async function backtestCommand(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, SPEC);
  if (!flags.strategy || !flags.data) {
    console.error(
      'usage: algotrade backtest --strategy <template|file.json> --data <file.csv|SYMBOL> [--from 2010-01-01] [--to 2012-12-31]\n' +
        '         [--interval 1d] [--cash 100000] [--fee 0.001] [--fee-fixed 0] [--maker-fee 0.0002] [--slippage 5] [--short] [--on-close]\n' +
        "         [--qty-step 0.001] [--min-notional 5] [--borrow-rate 3]   (a lot size, a minimum order value, a short's borrow rate % a year)\n" +
        '         [--leverage 5] [--maintenance-margin 0.5] [--funding 0.01] [--detail <finer.csv|1m>]\n' +
        '         [--max-drawdown 20] [--max-daily-loss 5] [--max-position-pct 50] [--max-position-value 10000]\n' +
        "         [--max-order-qty 100] [--max-orders-per-minute 10] [--resume-next-day]   (a paper session's risk limits)\n" +
        '         [--asset stock|crypto] [--report out.html] [--json] [--monte-carlo 1000 [--mc-method bootstrap|shuffle]]\n' +
        '       a portfolio: --data GOOG.csv,BTCUSD.csv [--weights 3,1] (the strategy on each, each with its share of --cash)\n' +
        "                    [--qty-step 1,BTCUSD=0.001] [--min-notional BTCUSD=5]   (a symbol's own lot size and minimum)\n" +
        '                    [--portfolio-drawdown 20] [--portfolio-daily-loss 5 [--resume-next-day]]   (limits on the summed equity)\n' +
        `templates: ${templates.map((t) => t.id).join(', ')}`,
    );
    return 2;
  }
  const options = engineOptions(flags);
  const mcRuns = flags['monte-carlo'] === undefined ? 0 : Number(flags['monte-carlo']);
  if (
    !Number.isInteger(mcRuns) ||
    mcRuns < 0 ||
    mcRuns > 100_000 ||
    (flags['monte-carlo'] !== undefined && mcRuns < 10)
  )
    throw new UsageError(`--monte-carlo takes a number of runs from 10 to 100000 (got ${flags['monte-carlo']})`);
  const mcMethod = String(flags['mc-method'] ?? 'bootstrap');
  if (mcMethod !== 'bootstrap' && mcMethod !== 'shuffle')
    throw new UsageError(`--mc-method must be bootstrap or shuffle (got ${mcMethod})`);
  const datas = dataList(flags);
  if (datas.length > 1) return portfolioBacktest(flags, options, datas);
  if (flags.weights !== undefined)
    throw new UsageError('--weights is for a portfolio: give --data several symbols or files');
  noPortfolioLimits(flags);
  const loaded = await loadStrategyAndBars(flags);
  if (!loaded) return 1;
  const { strategy, plan, cols, data, asset, loadMs, detail } = loaded;
  const bar = flags.json ? undefined : progressBar('backtest');
  const t1 = performance.now();
  const res = runBacktest(plan, cols, {
    ...options,
    ...(detail ? { detail } : {}),
    wholeUnits: asset === 'stock',
    onProgress: (p) => void bar?.update(p),
  });
  bar?.done();
  const runMs = performance.now() - t1;
  const mc =
    mcRuns && res.trades.length >= 2
      ? monteCarlo(
          options.cash,
          res.trades.map((t) => t.pnl),
          { runs: mcRuns, method: mcMethod, seed: 1 },
        )
      : undefined;
  if (mcRuns && !mc) console.error(`no Monte Carlo: the run made ${res.trades.length} trades (two or more needed)`);
  if (flags.json) {
    console.log(
      JSON.stringify(
        {
          stats: res.stats,
          trades: res.trades,
          ...(res.risk ? { risk: res.risk } : {}),
          ...(mc ? { monteCarlo: mc } : {}),
        },
        (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      ),
    );
  } else {
    const rows = statsRows(res.stats);
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    // what closed the trades: a signal, a stop, a target, an ROI step, a time exit (as the risk report's exits)
    const exits = tradesByReason(res.trades, 'exitReason');
    if (exits.length) {
      console.log(`\n${'Exits'.padEnd(w)}  trades   won %  avg return %          PnL`);
      for (const g of exits)
        console.log(
          `  ${g.reason.padEnd(w - 2)}  ${String(g.trades).padStart(6)}  ${g.winRatePct.toFixed(1).padStart(6)}  ${g.avgReturnPct.toFixed(2).padStart(12)}  ${g.pnl.toFixed(2).padStart(11)}`,
        );
    }
    if (res.risk) {
      // what the risk limits did: each stop or pause of trading, and the entries refused (without limits:
      // those under the minimum order value)
      console.log(options.risk ? `\nRisk limits` : `\nOrders refused`);
      for (const h of res.risk.halts)
        console.log(
          `  ${new Date(h.time).toISOString().slice(0, 10)}  ${haltText(h.limit, options.risk ?? {})} of ${h.pct.toFixed(2)} %`,
        );
      for (const [code, n] of Object.entries(res.risk.refused)) console.log(`  ${n} entries refused: ${code}`);
      if (!res.risk.halts.length && !Object.keys(res.risk.refused).length)
        console.log(options.risk ? '  no limit was reached' : '  none');
    }
    if (mc) {
      const p = (x: number) => `${x.toFixed(2)} %`;
      console.log(
        `\nMonte Carlo, ${mc.runs} runs (${mc.method === 'shuffle' ? 'trades shuffled' : 'trades drawn with replacement'}):`,
      );
      console.log(
        `  return       5th ${p(mc.returnPct.p5)}  50th ${p(mc.returnPct.p50)}  95th ${p(mc.returnPct.p95)}  (this run ${p(mc.actual.returnPct)})`,
      );
      console.log(
        `  max drawdown 5th ${p(mc.maxDrawdownPct.p5)}  50th ${p(mc.maxDrawdownPct.p50)}  (this run ${p(mc.actual.maxDrawdownPct)}, trade to trade)`,
      );
      console.log(
        `  chance of a loss ${(mc.probabilityOfLoss * 100).toFixed(1)} %, of a deeper drawdown ${(mc.probabilityOfWorseDrawdown * 100).toFixed(1)} %`,
      );
    }
    console.error(
      `\n${cols.length} bars: loaded in ${loadMs.toFixed(0)} ms, backtest and statistics in ${runMs.toFixed(1)} ms`,
    );
  }
  if (flags.report) {
    writeFileSync(
      String(flags.report),
      renderReport({
        title: `${strategy} on ${data}`,
        time: cols.ts,
        open: cols.open,
        high: cols.high,
        low: cols.low,
        close: cols.close,
        equity: res.equity,
        trades: res.trades,
        stats: res.stats,
        ...(res.risk
          ? {
              tables: [limitsTable(options.risk ?? {}, res.risk)],
              halted: haltSpans(options.risk ?? {}, res.risk.halts),
              drawdownStopPct: options.risk?.maxDrawdownPct,
            }
          : {}),
      }),
    );
    console.error(`report written to ${flags.report}`);
  }
  return 0;
}

/** `algotrade backtest --data A,B[,...]`: the strategy on each symbol with its share of the cash, summed. */
async function portfolioBacktest(
  flags: Record<string, string | boolean>,
  options: ReturnType<typeof engineOptions>,
  datas: string[],
): Promise<number> {
  if (flags['monte-carlo'] !== undefined)
    throw new UsageError('--monte-carlo is for one symbol (the API runs it on a portfolio)');
  const loaded = await loadStrategyAndLegs(flags, datas);
  if (!loaded) return 1;
  const { legs, ...s } = loaded;
  const names = legs.map((l) => l.symbol);
  const limits = portfolioLimitsOf(flags);
  const bar = flags.json ? undefined : progressBar('portfolio');
  const pf = await runPortfolio(
    legs,
    options,
    async (bars, o, onProgress) => runBacktest(s.plan, bars, { ...o, onProgress }),
    {
      onProgress: (p) => {
        bar?.update(p);
        return false;
      },
      firstTradingBar: (b) => firstTradingBar(s.plan, barSecondsOf(b.ts)),
      ...(limits ? { limits } : {}),
    },
  );
  bar?.done();
  const table = legsTable(pf.legs);
  // what the limits on the summed equity did, as a backtest's limits say it
  const halts = pf.halts?.map((x) => ({ time: new Date(x.at).toISOString(), limit: x.limit, pct: x.pct }));
  if (flags.json) {
    console.log(
      JSON.stringify(
        {
          stats: pf.stats,
          trades: pf.trades,
          portfolio: { legs: pf.legs, correlation: pf.correlation, ...(halts ? { halts } : {}) },
        },
        (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      ),
    );
  } else {
    const widths = table.head.map((h, k) => Math.max(h.length, ...table.rows.map((r) => r[k]!.length)));
    const line = (cells: string[]) => cells.map((c, k) => c.padEnd(widths[k]!)).join('  ');
    console.log(line(table.head));
    for (const r of table.rows) console.log(line(r));
    const cw = Math.max(...names.map((n) => n.length), 6);
    console.log(`\ncorrelation of returns\n${''.padEnd(cw)}  ${names.map((n) => n.padStart(cw)).join('  ')}`);
    pf.correlation.matrix.forEach((row, i) =>
      console.log(
        `${names[i]!.padEnd(cw)}  ${row.map((v) => (v === null ? '-' : (Math.abs(v) < 0.005 ? 0 : v).toFixed(2)).padStart(cw)).join('  ')}`,
      ),
    );
    console.log('');
    if (halts) {
      console.log('Portfolio limits (the summed equity)');
      for (const x of halts)
        console.log(
          `  ${x.time.slice(0, 10)} ${x.limit === 'max_drawdown' ? 'drawdown' : 'daily loss'} of ${x.pct.toFixed(2)} %: every symbol closed, ${x.limit === 'max_daily_loss' && limits!.resumeNextDay ? 'paused until the next day' : 'trading over'}`,
        );
      if (!halts.length) console.log('  not reached');
      console.log('');
    }
    const rows = statsRows(pf.stats);
    const kw = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) console.log(`${k.padEnd(kw)}  ${v}`);
  }
  if (flags.report) {
    writeFileSync(
      String(flags.report),
      renderReport({
        title: `${s.strategy} on ${names.join(', ')}`,
        time: pf.ts,
        open: pf.basket,
        high: pf.basket,
        low: pf.basket,
        close: pf.basket,
        equity: pf.equity,
        trades: pf.trades,
        stats: pf.stats,
        // with limits on the summed equity: what they did, and their times shaded
        tables: halts ? [table, limitsTable(limits!, { halts, refused: {} })] : [table],
        ...(halts ? { halted: haltSpans(limits!, halts), drawdownStopPct: limits!.maxDrawdownPct } : {}),
        priceTitle: 'Buy and hold of the same allocation',
        markers: false,
      }),
    );
    console.error(`report written to ${flags.report}`);
  }
  return 0;
}
