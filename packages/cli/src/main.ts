import { ConfigError, ExchangeHistoryError } from '@algotrade/adapters';
import { AppError } from '@algotrade/core';
import { UsageError } from './args.ts';
import { commands } from './commands.ts';

const USAGE = `algotrade <command>

  start                     every service in one process (embedded defaults unless configured)
  serve <service>           one service on its seed port: ${'gateway|market-data|strategy|forward-test|backtest|notification|analytics'}
  migrate                   apply database migrations and exit
  kafka setup               create or update the Kafka topics (KAFKA_BROKERS)
  import <file.csv> --symbol S [--interval 1d] [--asset stock|crypto|fx]
                            import OHLCV history into the database
  import-examples           import the bundled real histories (GOOG, BTCUSD, EURUSD)
  download --exchange ID --market BTC/USD --since DATE [--until DATE] [--timeframe 1m] [--symbol S]
                            an exchange's candle history through CCXT (network needed)
  runner --session <id>     one forward-test session's strategy in its own process (FT_RUNNER=external|kubernetes)
  worker                    a backtest worker process (BullMQ jobs when REDIS_URL is set)
  backtest --strategy <template|file.json> --data <file.csv|symbol> [...]
                            run a backtest from the command line (see docs/backtesting.md)
  walk-forward --strategy <template|file.json> --data <file.csv|symbol> --grid "node.param=a,b;..." [...]
                            optimise on each in-sample window, test on the next (docs/backtesting.md)
  check --strategy <template|file.json> --data <file.csv|symbol> [...]
                            look-ahead, one bar at a time against blocks, and each value's warm-up (docs/strategies.md)
  templates                 list the strategy templates

Configuration comes from environment variables: see README.md#configuration.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const run = commands[cmd];
  if (!run) {
    console.error(`unknown command "${cmd}"\n\n${USAGE}`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined && code !== -1) process.exitCode = code;
  },
  (err) => {
    if (err instanceof ConfigError) console.error(`configuration error: ${err.message}`);
    else if (err instanceof UsageError) {
      console.error(`error: ${err.message}`);
      process.exit(2);
    } else if (err instanceof ExchangeHistoryError || (err instanceof AppError && err.status < 500))
      console.error(`error: ${err.message}`); // said as it is: an exchange's refusal, a rule of the platform
    else console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
