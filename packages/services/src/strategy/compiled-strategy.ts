import { AppError, notFound } from '@algotrade/core';
import type { strategiesRepo } from '@algotrade/adapters';
import type { CompileCache } from '@algotrade/strategy';

/**
 * A strategy of the user's that compiles, with its plan: a 404 when the user has no such strategy, a
 * 400 naming the first compile error when it does not compile (what runs it needs a plan).
 */
export async function compiledStrategy(
  strategies: ReturnType<typeof strategiesRepo>,
  cache: CompileCache,
  userId: string,
  id: string,
) {
  const strategy = await strategies.get(userId, id);
  if (!strategy) throw notFound('strategy');
  const compiled = cache.compile(strategy.graph);
  if (!compiled.plan)
    throw new AppError(
      'VALIDATION_FAILED',
      `the strategy does not compile: ${compiled.report.errors[0]?.message}`,
      compiled.report.errors,
    );
  return { strategy, plan: compiled.plan };
}
