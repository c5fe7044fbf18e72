import type { Envelope, EventBus, Handler } from '@algotrade/core';
import { dlqTopic } from '@algotrade/core';

export const backoffMs = (attempt: number, base = 50, cap = 5_000): number =>
  Math.min(cap, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);

/**
 * Runs a handler with retries and exponential back-off; after `maxAttempts` failures the message is
 * parked on `<topic>.dlq` with the last error, so nothing is dropped silently. Shared by every bus.
 */
export async function deliverWithRetry(
  bus: Pick<EventBus, 'publish'>,
  topic: string,
  msg: Envelope,
  handler: Handler,
  maxAttempts: number,
  onDead?: (err: unknown) => void,
  baseDelayMs = 50,
  /** attempts already made by the caller (the in-memory bus tries once before handing over) */
  alreadyTried = 0,
): Promise<void> {
  if (alreadyTried > 0) await new Promise((r) => setTimeout(r, backoffMs(alreadyTried, baseDelayMs)));
  for (let attempt = alreadyTried + 1; ; attempt++) {
    try {
      await handler(msg);
      return;
    } catch (err) {
      if (attempt >= maxAttempts) {
        onDead?.(err);
        await bus.publish(dlqTopic(topic), msg.key, 'dead-letter', {
          topic,
          error: err instanceof Error ? err.message : String(err),
          attempts: attempt,
          message: msg,
        });
        return;
      }
      await new Promise((r) => setTimeout(r, backoffMs(attempt, baseDelayMs)));
    }
  }
}
