import { forwardTestsRepo, type Db, type SessionRow } from '@algotrade/adapters';
import { newLedger, type RiskLimits } from '@algotrade/core';
import { templateById } from '@algotrade/strategy';

/** A session's settings: no fixed fee, no slippage, long only, fractional units, no limits, evaluated on every tick. */
export const tickSettings = (startingBalance: number, feeRate = 0) => ({
  startingBalance,
  feeRate,
  feeFixed: 0,
  slippageBps: 0,
  allowShort: false,
  wholeUnits: false,
  risk: {},
  evaluation: { mode: 'tick' as const },
});

/**
 * A running SMA-crossover session (or of another graph; 0.1 % fees, no slippage, long only, evaluated on
 * every tick) stored for the user, as the engine's tests load it.
 */
export async function runningSession(
  db: Db,
  userId: string,
  symbol: string,
  startingBalance: number,
  graph: unknown = templateById('sma-crossover')!.graph,
  /** its risk limits (none by default) */
  risk: RiskLimits = {},
): Promise<SessionRow> {
  const config = { ...tickSettings(startingBalance, 0.001), risk };
  const repo = forwardTestsRepo(db);
  const row = await repo.create({
    userId,
    strategyId: null,
    snapshot: { graph },
    symbol,
    config,
    state: newLedger(config),
  });
  await repo.setStatus(row.id, 'running');
  return row;
}
