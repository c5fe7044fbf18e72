import type { Graph } from './graph.ts';
import { GRAPH_VERSION } from './graph.ts';

interface T {
  id: string;
  name: string;
  description: string;
  graph: Graph;
}

type N = [id: string, type: string, data: Record<string, unknown>, col: number, row: number];
type E = [source: string, sourceHandle: string, target: string, targetHandle: string];

/** Builds a React Flow graph laid out in columns (sources left, actions right). */
function graph(nodes: N[], edges: E[]): Graph {
  return {
    version: GRAPH_VERSION,
    nodes: nodes.map(([id, type, data, col, row]) => ({
      id,
      type,
      data,
      position: { x: 40 + col * 240, y: 40 + row * 140 },
    })),
    edges: edges.map(([s, sh, t, th]) => ({
      id: `${s}.${sh}->${t}.${th}`,
      source: s,
      sourceHandle: sh,
      target: t,
      targetHandle: th,
    })),
  };
}

const cross = (kind: 'sma' | 'ema', fast: number, slow: number) =>
  graph(
    [
      ['close', 'price.close', {}, 0, 1],
      ['fast', `indicator.${kind}`, { period: fast }, 1, 0],
      ['slow', `indicator.${kind}`, { period: slow }, 1, 2],
      ['up', 'logic.crosses_above', {}, 2, 0],
      ['down', 'logic.crosses_below', {}, 2, 2],
      ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 3, 0],
      ['sell', 'action.sell', { sizing: 'all', amount: 100 }, 3, 2],
    ],
    [
      ['close', 'value', 'fast', 'value'],
      ['close', 'value', 'slow', 'value'],
      ['fast', 'value', 'up', 'a'],
      ['slow', 'value', 'up', 'b'],
      ['fast', 'value', 'down', 'a'],
      ['slow', 'value', 'down', 'b'],
      ['up', 'value', 'buy', 'trigger'],
      ['down', 'value', 'sell', 'trigger'],
    ],
  );

/** `g` with more nodes (risk rules, say), laid out as `graph` lays them. */
const withNodes = (g: Graph, nodes: N[]): Graph => ({ ...g, nodes: [...g.nodes, ...graph(nodes, []).nodes] });

export const templates: readonly T[] = [
  {
    id: 'sma-crossover',
    name: 'SMA crossover',
    description: 'Buy when the 10-bar SMA crosses above the 30-bar SMA; sell when it crosses below.',
    graph: cross('sma', 10, 30),
  },
  {
    id: 'ema-crossover',
    name: 'EMA crossover',
    description: 'Buy when the 12-bar EMA crosses above the 26-bar EMA; sell when it crosses below.',
    graph: cross('ema', 12, 26),
  },
  {
    id: 'rsi-mean-reversion',
    name: 'RSI mean reversion',
    description: 'Buy when RSI(14) falls below 30; close when it rises above 70. 5% stop loss.',
    graph: graph(
      [
        ['close', 'price.close', {}, 0, 1],
        ['rsi', 'indicator.rsi', { period: 14 }, 1, 1],
        ['low', 'constant', { value: 30 }, 1, 0],
        ['high', 'constant', { value: 70 }, 1, 2],
        ['oversold', 'logic.crosses_below', {}, 2, 0],
        ['overbought', 'logic.crosses_above', {}, 2, 2],
        ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 3, 0],
        ['close-pos', 'action.close', {}, 3, 2],
        ['stop', 'risk.stop_loss', { percent: 5 }, 3, 3],
      ],
      [
        ['close', 'value', 'rsi', 'value'],
        ['rsi', 'value', 'oversold', 'a'],
        ['low', 'value', 'oversold', 'b'],
        ['rsi', 'value', 'overbought', 'a'],
        ['high', 'value', 'overbought', 'b'],
        ['oversold', 'value', 'buy', 'trigger'],
        ['overbought', 'value', 'close-pos', 'trigger'],
      ],
    ),
  },
  {
    id: 'rsi-scale-in',
    name: 'RSI scale-in with a profit ladder',
    description:
      'Buy 25% of the equity each time RSI(14) falls below 30, up to four entries, each addition at least 3% under ' +
      'the average entry (the entry price is their average); close half when it rises above 60 and the rest above ' +
      '70. 10% stop loss from the average entry.',
    graph: graph(
      [
        ['close', 'price.close', {}, 0, 1],
        ['rsi', 'indicator.rsi', { period: 14 }, 1, 1],
        ['low', 'constant', { value: 30 }, 1, 0],
        ['mid', 'constant', { value: 60 }, 1, 2],
        ['high', 'constant', { value: 70 }, 1, 3],
        ['oversold', 'logic.crosses_below', {}, 2, 0],
        ['recovered', 'logic.crosses_above', {}, 2, 2],
        ['overbought', 'logic.crosses_above', {}, 2, 3],
        ['buy', 'action.buy', { sizing: 'pct_equity', amount: 25, maxEntries: 4, addStepPct: 3 }, 3, 0],
        ['take-half', 'action.close', { percent: 50 }, 3, 2],
        ['close-pos', 'action.close', {}, 3, 3],
        ['stop', 'risk.stop_loss', { percent: 10 }, 3, 4],
      ],
      [
        ['close', 'value', 'rsi', 'value'],
        ['rsi', 'value', 'oversold', 'a'],
        ['low', 'value', 'oversold', 'b'],
        ['rsi', 'value', 'recovered', 'a'],
        ['mid', 'value', 'recovered', 'b'],
        ['rsi', 'value', 'overbought', 'a'],
        ['high', 'value', 'overbought', 'b'],
        ['oversold', 'value', 'buy', 'trigger'],
        ['recovered', 'value', 'take-half', 'trigger'],
        ['overbought', 'value', 'close-pos', 'trigger'],
      ],
    ),
  },
  {
    id: 'turtle-breakout',
    name: 'Breakout with ATR stops (turtle)',
    description:
      'Buy when the close breaks above the 20-bar high before it; close when it breaks below the 10-bar low. ' +
      'Each position risks 1% of the equity: its stop is 2 × ATR(20) under the entry, and its size is what ' +
      'loses 1% there (the turtle traders’ N).',
    graph: graph(
      [
        ['high', 'price.high', {}, 0, 0],
        ['low', 'price.low', {}, 0, 1],
        ['close', 'price.close', {}, 0, 2],
        ['entry-channel', 'indicator.donchian', { period: 20 }, 1, 0],
        ['exit-channel', 'indicator.donchian', { period: 10 }, 1, 1],
        ['atr', 'indicator.atr', { period: 20 }, 1, 3],
        ['prior-high', 'math.lag', { period: 1 }, 2, 0],
        ['prior-low', 'math.lag', { period: 1 }, 2, 1],
        ['breakout', 'logic.crosses_above', {}, 3, 0],
        ['breakdown', 'logic.crosses_below', {}, 3, 1],
        ['buy', 'action.buy', { sizing: 'risk_pct', amount: 1 }, 4, 0],
        ['close-pos', 'action.close', {}, 4, 1],
        ['stop', 'risk.stop_distance', { multiplier: 2 }, 4, 3],
      ],
      [
        ['high', 'value', 'entry-channel', 'high'],
        ['low', 'value', 'entry-channel', 'low'],
        ['high', 'value', 'exit-channel', 'high'],
        ['low', 'value', 'exit-channel', 'low'],
        ['high', 'value', 'atr', 'high'],
        ['low', 'value', 'atr', 'low'],
        ['close', 'value', 'atr', 'close'],
        ['entry-channel', 'upper', 'prior-high', 'value'],
        ['exit-channel', 'lower', 'prior-low', 'value'],
        ['close', 'value', 'breakout', 'a'],
        ['prior-high', 'value', 'breakout', 'b'],
        ['close', 'value', 'breakdown', 'a'],
        ['prior-low', 'value', 'breakdown', 'b'],
        ['breakout', 'value', 'buy', 'trigger'],
        ['breakdown', 'value', 'close-pos', 'trigger'],
        ['atr', 'value', 'stop', 'distance'],
      ],
    ),
  },
  {
    id: 'rsi-roi',
    name: 'RSI dip with an ROI table',
    description:
      'Buy when RSI(14) falls below 30. Take 6% at once, 3% after five days held, 1% after ten, any gain after ' +
      "twenty (freqtrade's minimal_roi); 8% stop loss, moved to the entry once the price has been 4% up.",
    graph: graph(
      [
        ['close', 'price.close', {}, 0, 1],
        ['rsi', 'indicator.rsi', { period: 14 }, 1, 1],
        ['low', 'constant', { value: 30 }, 1, 0],
        ['oversold', 'logic.crosses_below', {}, 2, 0],
        ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 3, 0],
        [
          'roi',
          'risk.roi_table',
          { roi0: 6, after1: 7200, roi1: 3, after2: 14_400, roi2: 1, after3: 28_800, roi3: 0 },
          3,
          1,
        ],
        ['stop', 'risk.stop_loss', { percent: 8, breakEvenPct: 4 }, 3, 2],
      ],
      [
        ['close', 'value', 'rsi', 'value'],
        ['rsi', 'value', 'oversold', 'a'],
        ['low', 'value', 'oversold', 'b'],
        ['oversold', 'value', 'buy', 'trigger'],
      ],
    ),
  },
  {
    id: 'macd-signal-cross',
    name: 'MACD signal cross',
    description: 'Buy when the MACD line crosses above its signal line; sell when it crosses below.',
    graph: graph(
      [
        ['close', 'price.close', {}, 0, 1],
        ['macd', 'indicator.macd', { fast: 12, slow: 26, signal: 9 }, 1, 1],
        ['up', 'logic.crosses_above', {}, 2, 0],
        ['down', 'logic.crosses_below', {}, 2, 2],
        ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 3, 0],
        ['sell', 'action.sell', { sizing: 'all', amount: 100 }, 3, 2],
      ],
      [
        ['close', 'value', 'macd', 'value'],
        ['macd', 'macd', 'up', 'a'],
        ['macd', 'signal', 'up', 'b'],
        ['macd', 'macd', 'down', 'a'],
        ['macd', 'signal', 'down', 'b'],
        ['up', 'value', 'buy', 'trigger'],
        ['down', 'value', 'sell', 'trigger'],
      ],
    ),
  },
  {
    id: 'bollinger-breakout',
    name: 'Bollinger breakout',
    description: 'Buy when the close breaks above the upper band (20, 2σ); close when it falls back below the middle.',
    graph: graph(
      [
        ['close', 'price.close', {}, 0, 1],
        ['bb', 'indicator.bbands', { period: 20, stdDev: 2 }, 1, 1],
        ['breakout', 'logic.crosses_above', {}, 2, 0],
        ['fade', 'logic.crosses_below', {}, 2, 2],
        ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 3, 0],
        ['exit', 'action.close', {}, 3, 2],
        ['trail', 'risk.trailing_stop', { percent: 3 }, 3, 3],
      ],
      [
        ['close', 'value', 'bb', 'value'],
        ['close', 'value', 'breakout', 'a'],
        ['bb', 'upper', 'breakout', 'b'],
        ['close', 'value', 'fade', 'a'],
        ['bb', 'middle', 'fade', 'b'],
        ['breakout', 'value', 'buy', 'trigger'],
        ['fade', 'value', 'exit', 'trigger'],
      ],
    ),
  },
  {
    id: 'donchian-breakout',
    name: 'Donchian breakout',
    description:
      'Buy when the close exceeds the previous 20-bar high; close below the previous 10-bar low. 2% stop loss.',
    graph: graph(
      [
        ['high', 'price.high', {}, 0, 0],
        ['close', 'price.close', {}, 0, 1],
        ['low', 'price.low', {}, 0, 2],
        ['hh', 'indicator.highest', { period: 20 }, 1, 0],
        ['ll', 'indicator.lowest', { period: 10 }, 1, 2],
        ['hh1', 'math.lag', { period: 1 }, 2, 0],
        ['ll1', 'math.lag', { period: 1 }, 2, 2],
        ['up', 'logic.greater', {}, 3, 0],
        ['down', 'logic.less', {}, 3, 2],
        ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 4, 0],
        ['exit', 'action.close', {}, 4, 2],
        ['stop', 'risk.stop_loss', { percent: 2 }, 4, 3],
      ],
      [
        ['high', 'value', 'hh', 'value'],
        ['low', 'value', 'll', 'value'],
        ['hh', 'value', 'hh1', 'value'],
        ['ll', 'value', 'll1', 'value'],
        ['close', 'value', 'up', 'a'],
        ['hh1', 'value', 'up', 'b'],
        ['close', 'value', 'down', 'a'],
        ['ll1', 'value', 'down', 'b'],
        ['up', 'value', 'buy', 'trigger'],
        ['down', 'value', 'exit', 'trigger'],
      ],
    ),
  },
  {
    id: 'supertrend-follow',
    name: 'SuperTrend follow',
    description:
      'Long while SuperTrend(10, 3) says the trend is up: buy when it turns up, close when it turns down (the line then trails as a stop).',
    graph: graph(
      [
        ['high', 'price.high', {}, 0, 0],
        ['low', 'price.low', {}, 0, 1],
        ['close', 'price.close', {}, 0, 2],
        ['st', 'indicator.supertrend', { period: 10, multiplier: 3 }, 1, 1],
        ['zero', 'constant', { value: 0 }, 1, 3],
        ['turnsUp', 'logic.crosses_above', {}, 2, 0],
        ['turnsDown', 'logic.crosses_below', {}, 2, 2],
        ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 3, 0],
        ['exit', 'action.close', {}, 3, 2],
      ],
      [
        ['high', 'value', 'st', 'high'],
        ['low', 'value', 'st', 'low'],
        ['close', 'value', 'st', 'close'],
        ['st', 'trend', 'turnsUp', 'a'],
        ['zero', 'value', 'turnsUp', 'b'],
        ['st', 'trend', 'turnsDown', 'a'],
        ['zero', 'value', 'turnsDown', 'b'],
        ['turnsUp', 'value', 'buy', 'trigger'],
        ['turnsDown', 'value', 'exit', 'trigger'],
      ],
    ),
  },
  {
    id: 'daily-trend-filter',
    name: 'EMA crossover with a daily trend filter',
    description:
      'Buy when the 12-bar EMA crosses above the 26-bar EMA while the last daily close is above its 20-day SMA; ' +
      'close when the 12-bar EMA crosses below. For intraday bars: the daily values come from completed days only.',
    graph: graph(
      [
        ['close', 'price.close', {}, 0, 1],
        ['daily', 'timeframe.bar', { timeframe: '1d' }, 0, 3],
        ['fast', 'indicator.ema', { period: 12 }, 1, 0],
        ['slow', 'indicator.ema', { period: 26 }, 1, 1],
        ['daily-sma', 'indicator.sma', { period: 20 }, 1, 3],
        ['up', 'logic.crosses_above', {}, 2, 0],
        ['down', 'logic.crosses_below', {}, 2, 1],
        ['trend', 'logic.greater', {}, 2, 3],
        ['entry', 'logic.and', {}, 3, 0],
        ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 4, 0],
        ['exit', 'action.close', {}, 4, 1],
      ],
      [
        ['close', 'value', 'fast', 'value'],
        ['close', 'value', 'slow', 'value'],
        ['daily', 'close', 'daily-sma', 'value'],
        ['fast', 'value', 'up', 'a'],
        ['slow', 'value', 'up', 'b'],
        ['fast', 'value', 'down', 'a'],
        ['slow', 'value', 'down', 'b'],
        ['daily', 'close', 'trend', 'a'],
        ['daily-sma', 'value', 'trend', 'b'],
        ['up', 'value', 'entry', 'a'],
        ['trend', 'value', 'entry', 'b'],
        ['entry', 'value', 'buy', 'trigger'],
        ['down', 'value', 'exit', 'trigger'],
      ],
    ),
  },
  {
    id: 'ema-trend-ladder',
    name: 'EMA trend, scaled out, with a losing-streak guard',
    description:
      'Buy when EMA(20) crosses above EMA(50); sell when it crosses below. Scale out on the way: half at ' +
      '+5%, a quarter at +10%, the last quarter at +20% (a take-profit ladder). 7% stop loss. After three ' +
      'losing trades in a row, no new position for ten days.',
    graph: withNodes(cross('ema', 20, 50), [
      ['ladder', 'risk.take_profit_ladder', { pct1: 5, share1: 50, pct2: 10, share2: 25, pct3: 20, share3: 25 }, 4, 0],
      ['stop', 'risk.stop_loss', { percent: 7 }, 4, 1],
      ['guard', 'risk.cooldown', { minutes: 14_400, after: 'loss', count: 3 }, 4, 2],
    ]),
  },
  {
    id: 'rsi-position-exits',
    name: 'RSI dip with exits on its own position',
    description:
      'Buy when RSI(14) falls below 30. Close when RSI rises above 70 while the position is more than 1% up, or ' +
      'once it has been held 20 days and is still at a loss (the graph reads its own position, as freqtrade ' +
      'custom_exit). 10% stop loss.',
    graph: graph(
      [
        ['close', 'price.close', {}, 0, 1],
        ['pos', 'position.state', {}, 0, 3],
        ['rsi', 'indicator.rsi', { period: 14 }, 1, 1],
        ['low', 'constant', { value: 30 }, 1, 0],
        ['high', 'constant', { value: 70 }, 1, 2],
        ['one', 'constant', { value: 1 }, 1, 3],
        ['days', 'constant', { value: 28_800 }, 1, 4],
        ['zero', 'constant', { value: 0 }, 1, 5],
        ['oversold', 'logic.crosses_below', {}, 2, 0],
        ['recovered', 'logic.greater', {}, 2, 2],
        ['in-profit', 'logic.greater', {}, 2, 3],
        ['held-long', 'logic.greater', {}, 2, 4],
        ['at-loss', 'logic.less', {}, 2, 5],
        ['take', 'logic.and', {}, 3, 2],
        ['give-up', 'logic.and', {}, 3, 4],
        ['exit-when', 'logic.or', {}, 4, 3],
        ['buy', 'action.buy', { sizing: 'all', amount: 100 }, 5, 0],
        ['exit', 'action.close', {}, 5, 3],
        ['stop', 'risk.stop_loss', { percent: 10 }, 5, 5],
      ],
      [
        ['close', 'value', 'rsi', 'value'],
        ['rsi', 'value', 'oversold', 'a'],
        ['low', 'value', 'oversold', 'b'],
        ['rsi', 'value', 'recovered', 'a'],
        ['high', 'value', 'recovered', 'b'],
        ['pos', 'profit_pct', 'in-profit', 'a'],
        ['one', 'value', 'in-profit', 'b'],
        ['pos', 'minutes_held', 'held-long', 'a'],
        ['days', 'value', 'held-long', 'b'],
        ['pos', 'profit_pct', 'at-loss', 'a'],
        ['zero', 'value', 'at-loss', 'b'],
        ['recovered', 'value', 'take', 'a'],
        ['in-profit', 'value', 'take', 'b'],
        ['held-long', 'value', 'give-up', 'a'],
        ['at-loss', 'value', 'give-up', 'b'],
        ['take', 'value', 'exit-when', 'a'],
        ['give-up', 'value', 'exit-when', 'b'],
        ['oversold', 'value', 'buy', 'trigger'],
        ['exit-when', 'value', 'exit', 'trigger'],
      ],
    ),
  },
];

export const templateById = (id: string): T | undefined => templates.find((t) => t.id === id);
