import { createRuntime, loadConfig, SERVICE_NAMES, type ServiceName } from '@algotrade/adapters';
import { templates } from '@algotrade/strategy';
import { UsageError } from './args.ts';
import { backtestCommand } from './backtest.command.ts';
import { checkCommand } from './check.command.ts';
import { downloadCommand, importCommand, importExamplesCommand } from './data.command.ts';
import { runServer } from './server.ts';
import { sweepCommand } from './sweep.command.ts';
import { walkForwardCommand } from './walk-forward.command.ts';

type Command = (args: string[]) => Promise<number>;

export const commands: Record<string, Command> = {
  start: async () => runServer(SERVICE_NAMES, 'gateway'),
  serve: async ([svc]) => {
    if (!svc || !(SERVICE_NAMES as readonly string[]).includes(svc)) {
      console.error(`serve needs one of: ${SERVICE_NAMES.join(', ')}`);
      return 2;
    }
    return runServer([svc as ServiceName], svc as ServiceName);
  },
  migrate: async () => {
    const rt = await createRuntime(loadConfig());
    console.log(`database (${rt.db.backend}) is at the latest migration`);
    await rt.close();
    return 0;
  },
  backtest: backtestCommand,
  sweep: sweepCommand,
  'walk-forward': walkForwardCommand,
  check: checkCommand,
  import: importCommand,
  'import-examples': importExamplesCommand,
  download: downloadCommand,
  templates: async () => {
    for (const t of templates) console.log(`${t.id.padEnd(22)} ${t.description}`);
    return 0;
  },
  kafka: async ([sub]) => {
    if (sub !== 'setup') {
      console.error('usage: algotrade kafka setup   (needs KAFKA_BROKERS)');
      return 2;
    }
    const cfg = loadConfig();
    if (cfg.bus.backend !== 'kafka') throw new UsageError('KAFKA_BROKERS is not set');
    const { KafkaBus } = await import('@algotrade/adapters/bus-kafka/kafka-bus');
    const bus = new KafkaBus({ brokers: cfg.bus.brokers, clientId: cfg.bus.clientId });
    const r = await bus.setupTopics();
    await bus.close();
    console.log(`topics created: ${r.created.join(', ') || 'none'}; updated: ${r.updated.join(', ') || 'none'}`);
    return 0;
  },
  runner: async (argv) => {
    const { runRunner } = await import('./runner.command.ts');
    return runRunner(argv);
  },
  worker: async () => {
    const { runWorker } = await import('./worker.command.ts');
    return runWorker();
  },
};
