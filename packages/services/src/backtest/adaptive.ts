import { backtestsRepo, type BacktestRow, type Runtime, type SweepPoint } from '@algotrade/adapters';
import {
  comboKey,
  comboVariants,
  expandGrid,
  sweepStanding,
  type Plateau,
  proposalRandom,
  proposeTpe,
  scoreOf,
  type Combo,
  type Graph,
  type ParamGrid,
  type Trial,
} from '@algotrade/strategy';

/** An adaptive sweep, as each of its backtests keeps it in `parameters.sample`. */
export interface AdaptiveSearch {
  method: 'tpe';
  /** backtests in all (no more than the grid has points) */
  count: number;
  seed: number;
  /** the grid's size */
  of: number;
  /** the first points, drawn at random before the model proposes any */
  startup: number;
  /** backtests queued or running at once */
  parallel: number;
}

/** A backtest's adaptive search, or null for a plain backtest, a grid sweep or a random search. */
export function adaptiveOf(parameters: Record<string, unknown>): AdaptiveSearch | null {
  const s = parameters.sample as Partial<AdaptiveSearch> | undefined;
  return s?.method === 'tpe' ? (s as AdaptiveSearch) : null;
}

/** What a sweep ranks by, as each of its backtests keeps it: the measure, and the fewest trades a rank needs (0: any). */
export const rankingOf = (parameters: Record<string, unknown>) => ({
  rankBy: String(parameters.rankBy ?? 'sharpe'),
  minTrades: Number(parameters.minTrades ?? 0),
});

const finished = (r: SweepPoint) => r.status === 'done' || r.status === 'failed';

/**
 * A sweep's finished backtests as trials in the order they were proposed, each scored by the
 * measure it is ranked by (a failed one, or one without the measure, scores -Infinity); with
 * `minTrades`, a backtest of fewer closed trades scores -Infinity too.
 */
export function trialsOf(rows: readonly SweepPoint[], rankBy: string, minTrades = 0): Trial[] {
  return rows
    .filter(finished)
    .sort((a, b) => (a.sweepSeq ?? 0) - (b.sweepSeq ?? 0))
    .map((r) => ({
      combo: r.parameters.combo as Combo,
      score: r.status === 'done' ? scoreOf(r.metrics, rankBy, minTrades) : -Infinity,
    }));
}

/** Per runtime: each adaptive sweep's backtests that are done or cancelled (they change no more), by sweep. */
const settledPoints = new WeakMap<Runtime, Map<string, { used: number; byId: Map<string, SweepPoint> }>>();
/** How long a sweep's settled points are kept after their last use, and for how many sweeps at most. */
const SETTLED_MS = 10 * 60_000;
const SETTLED_SWEEPS = 16;

/**
 * An adaptive sweep's backtests as repo.sweepPoints gives them (each one's combination and the figures
 * its score reads), read after every result: the done and cancelled ones (final) are kept in the
 * process, so each read asks only for the rest, the few unfinished and those ended since the last
 * (a result of another worker process included). Without it every result read every row: O(n²). The
 * read also counts the held ones still there: once one was deleted (by its user, on any process), the
 * sweep is read whole again.
 */
async function sweepPointsOf(rt: Runtime, userId: string, sweepId: string, fields: string[]): Promise<SweepPoint[]> {
  let sweeps = settledPoints.get(rt);
  if (!sweeps) settledPoints.set(rt, (sweeps = new Map()));
  const now = Date.now();
  for (const [k, v] of sweeps) if (now - v.used > SETTLED_MS) sweeps.delete(k);
  const key = `${sweepId} ${fields.join(' ')}`;
  let held = sweeps.get(key);
  if (!held) {
    if (sweeps.size >= SETTLED_SWEEPS) sweeps.delete(sweeps.keys().next().value!);
    sweeps.set(key, (held = { used: now, byId: new Map() }));
  }
  held.used = now;
  const repo = backtestsRepo(rt.db.db);
  const read = await repo.sweepPoints(userId, sweepId, fields, [...held.byId.keys()]);
  let fresh = read.points;
  // one held was deleted since (a user's delete, on any process): what is held is stale, read it all again
  if (read.kept < held.byId.size) {
    held.byId.clear();
    fresh = (await repo.sweepPoints(userId, sweepId, fields)).points;
  }
  for (const p of fresh) if (p.status === 'done' || p.status === 'cancelled') held.byId.set(p.id, p);
  return [...held.byId.values(), ...fresh.filter((p) => !held.byId.has(p.id))];
}

/**
 * The points an adaptive sweep proposes next from its backtests so far, each with its number. Point n is proposed by the Tree-structured Parzen
 * Estimator from the results of points 0 to max(startup, n - parallel + 1) - 1 alone, once all of those
 * have finished, away from every point made; with the seed's draw for n. So the points depend on the
 * seed and the results alone, not on which backtests ended first: a seed proposes the same points
 * again with any `parallel`, and two workers proposing a number at once propose the same point. Up to
 * `parallel` backtests run at once (fewer while an early one is slower than those after it). Nothing is
 * proposed once a backtest was cancelled (the user stopped the sweep).
 */
export function proposalsOf(
  rows: readonly SweepPoint[],
  search: AdaptiveSearch,
  grid: ParamGrid,
  rankBy: string,
  minTrades = 0,
): { seq: number; combo: Combo }[] {
  if (rows.some((r) => r.status === 'cancelled')) return [];
  const seqOf = (r: SweepPoint) => r.sweepSeq ?? 0;
  let next = rows.reduce((m, r) => Math.max(m, seqOf(r)), -1) + 1;
  // the lowest number not finished: the results before it are all in
  const waiting = rows.filter((r) => !finished(r)).map(seqOf);
  const complete = waiting.length ? Math.min(...waiting) : next;
  let unfinished = waiting.length;
  const taken = new Set(rows.map((r) => comboKey(grid, r.parameters.combo as Combo)));
  const out: { seq: number; combo: Combo }[] = [];
  while (next < search.count && unfinished < search.parallel) {
    const base = Math.max(search.startup, next - search.parallel + 1);
    if (base > complete) break;
    const trials = trialsOf(
      rows.filter((r) => seqOf(r) < base),
      rankBy,
      minTrades,
    );
    const combo = proposeTpe(grid, trials, taken, proposalRandom(search.seed, next));
    if (!combo) break;
    taken.add(comboKey(grid, combo));
    out.push({ seq: next, combo });
    next++;
    unfinished++;
  }
  return out;
}

/**
 * After one of an adaptive sweep's backtests has ended and is marked so (done or failed), the sweep's
 * next points (proposalsOf), queued. Each point gets its number; when
 * two workers propose the same number at once, the database keeps one.
 */
export async function continueSearch(
  rt: Runtime,
  row: BacktestRow,
  enqueue: (backtestId: string) => Promise<unknown>,
): Promise<void> {
  const search = adaptiveOf(row.parameters);
  if (!search || !row.sweepId) return;
  const repo = backtestsRepo(rt.db.db);
  const { rankBy, minTrades } = rankingOf(row.parameters);
  const rows = await sweepPointsOf(rt, row.userId, row.sweepId, [rankBy, 'trades']);
  const grid = expandGrid(row.parameters.grid as Parameters<typeof expandGrid>[0]);
  for (const { seq, combo } of proposalsOf(rows, search, grid, rankBy, minTrades)) {
    // every value of the grid compiled when the sweep was asked for; the row's graph has the same keys set
    const [variant] = comboVariants(row.strategySnapshot as Graph, [combo]);
    const created = await repo.createOnce({
      userId: row.userId,
      strategyId: row.strategyId,
      sweepId: row.sweepId,
      sweepSeq: seq,
      // named with the sweep (a name given since, to the whole sweep, is on every row)
      name: row.name,
      note: row.note,
      snapshot: variant!.graph,
      symbol: row.symbol,
      interval: row.interval,
      parameters: { ...row.parameters, combo },
    });
    if (created) await enqueue(created.id);
  }
}

/**
 * A sweep's finished points among their grid neighbours, in the order given, and the index of the most
 * robust (sweepStanding): the grid is the one the sweep kept with its points, or for a sweep made
 * before it did, the values its points took.
 */
export function standingOf(
  points: readonly Pick<BacktestRow, 'parameters' | 'metrics'>[],
  rankBy: string,
  minTrades: number,
): { plateaus: (Plateau | null)[]; robustAt: number } {
  const spec = points[0]?.parameters.grid as Parameters<typeof expandGrid>[0] | undefined;
  return sweepStanding(
    points.map((x) => ({ combo: x.parameters.combo as Combo, stats: x.metrics })),
    spec ? expandGrid(spec) : undefined,
    rankBy,
    minTrades,
  );
}

/**
 * Adaptive sweeps that stopped short of their count with nothing left to run (a worker that ended
 * before proposing, a crash between a result and its proposals) go on: each one's search continues
 * from its backtest of the highest number. With `endedSince`, only those whose last backtest ended
 * since then (the periodic check; a sweep stalls as its last result comes in). How many there were.
 */
export async function resumeStalledSearches(
  rt: Runtime,
  enqueue: (backtestId: string) => Promise<unknown>,
  endedSince?: Date,
): Promise<number> {
  const rows = await backtestsRepo(rt.db.db).stalledSearches(endedSince);
  for (const row of rows) {
    await continueSearch(rt, row, enqueue).catch((e: Error) =>
      rt.log.warn({ sweepId: row.sweepId, err: e.message }, 'a stalled adaptive sweep could not go on'),
    );
  }
  return rows.length;
}
