import { createRuntime, loadConfig } from '@algotrade/adapters';
import { startSessionRunner } from '@algotrade/services/forward-test/session-runner';
import { parseArgs } from './args.ts';

/**
 * `algotrade runner --session <id>`: one forward-test session's strategy in its own process (what a
 * Kubernetes runner Job runs). Exits 0 when the session stops or pauses, or on SIGINT/SIGTERM; 1 when
 * the session cannot run (unknown, not running, does not compile).
 */
export async function runRunner(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, { session: 'string' });
  const id = flags.session;
  if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) {
    console.error('usage: algotrade runner --session <session id (uuid)>');
    return 2;
  }
  const cfg = loadConfig();
  const rt = await createRuntime(cfg);
  let code = 0;
  try {
    const runner = await startSessionRunner(rt, id);
    const why = await Promise.race([
      runner.done,
      new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      }),
    ]);
    rt.log.info({ session: id, published: runner.published(), why }, 'strategy runner ending');
    await runner.stop();
  } catch (e) {
    rt.log.error({ session: id, err: e }, (e as Error).message);
    console.error(`runner: ${(e as Error).message}`);
    code = 1;
  }
  const deadline = setTimeout(() => process.exit(code), cfg.shutdownTimeoutMs);
  await rt.close();
  clearTimeout(deadline);
  return code;
}
