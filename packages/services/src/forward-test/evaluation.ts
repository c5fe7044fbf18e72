import { INTERVALS } from '@algotrade/adapters';
import { z } from 'zod';
import type { SessionSettings } from './live-session.ts';

/** How a strategy on live data is evaluated, as requests give it: on every tick, or on each closed candle. */
export const EvaluationBody = z
  .discriminatedUnion('mode', [
    z.strictObject({ mode: z.literal('tick') }),
    z.strictObject({
      mode: z.literal('candle'),
      interval: z.enum(Object.keys(INTERVALS) as [string, ...string[]]).default('1m'),
    }),
  ])
  .default({ mode: 'tick' });

/** The evaluation as sessions and strategy alerts store it (a candle interval with its length). */
export function evaluationOf(b: z.infer<typeof EvaluationBody>): SessionSettings['evaluation'] & { interval?: string } {
  return b.mode === 'tick'
    ? { mode: 'tick' }
    : { mode: 'candle', interval: b.interval, intervalMs: INTERVALS[b.interval]! };
}
