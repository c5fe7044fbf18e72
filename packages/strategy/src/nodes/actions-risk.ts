import type { NodeType } from '../types.ts';
import { bool, define, num } from './helpers.ts';

const SIZING = ['all', 'pct_equity', 'fixed_qty', 'fixed_cash', 'risk_pct'] as const;

const action = (kind: 'buy' | 'sell' | 'close', label: string, description: string): NodeType =>
  define({
    type: `action.${kind}`,
    version: 1,
    category: 'action',
    label,
    description,
    inputs: [bool('trigger')],
    outputs: [],
    params:
      kind === 'close'
        ? [
            {
              name: 'percent',
              type: 'number',
              default: 100,
              min: 0.01,
              max: 100,
              label: 'Share of the position to close (%)',
            },
          ]
        : [
            { name: 'sizing', type: 'enum', default: 'all', values: SIZING, label: 'Sizing' },
            {
              name: 'amount',
              type: 'number',
              default: 100,
              min: 0,
              max: 1e12,
              label: 'Amount (%, units, cash, or % of equity at risk)',
            },
            {
              name: 'orderType',
              type: 'enum',
              default: 'market',
              values: ['market', 'limit', 'stop'],
              label: 'Order type',
            },
            {
              name: 'offsetPct',
              type: 'number',
              default: 0,
              min: 0,
              max: 50,
              label: 'Limit/stop distance from the signal close (%)',
            },
            {
              name: 'validBars',
              type: 'integer',
              default: 1,
              min: 1,
              max: 500,
              label: 'A limit/stop order rests this many bars (1: the next bar only)',
            },
            {
              name: 'maxEntries',
              type: 'integer',
              default: 1,
              min: 1,
              max: 100,
              label: 'Entries per position (above 1: adds to an open position in its direction)',
            },
            {
              name: 'addStepPct',
              type: 'number',
              default: 0,
              min: 0,
              max: 100,
              label: 'Add only this % against the average entry (0: whenever signalled)',
            },
            {
              name: 'addScale',
              type: 'number',
              default: 1,
              min: 0.01,
              max: 10,
              label: 'Each addition this many times the size before it (1: the same size)',
            },
            {
              name: 'addStepScale',
              type: 'number',
              default: 1,
              min: 0.1,
              max: 10,
              label: 'Each addition’s step this many times the one before (1: the same step)',
            },
          ],
    warmup: () => 0,
  });

/** A risk node: a `percent` (default `def`) and any further parameters. */
const risk = (kind: string, label: string, description: string, def: number, more: NodeType['params'] = []): NodeType =>
  define({
    type: `risk.${kind}`,
    version: 1,
    category: 'risk',
    label,
    description,
    inputs: [],
    outputs: [],
    params: [{ name: 'percent', type: 'number', default: def, min: 0.01, max: 100 }, ...more],
    warmup: () => 0,
  });

export const actionNodes = [
  action(
    'buy',
    'Buy',
    'When triggered: close a short if any, then go long (sized by `sizing` and `amount`); with `maxEntries` above ' +
      '1, add to an open long (sized likewise, each addition `addScale` times the size before it) while it has ' +
      'fewer entries.',
  ),
  action(
    'sell',
    'Sell',
    'When triggered: close a long if any, then go short where the run allows shorts; with `maxEntries` above 1, ' +
      'add to an open short while it has fewer entries.',
  ),
  action(
    'close',
    'Close position',
    'When triggered: close `percent` % of whatever position is open (100: all of it; less: a partial exit).',
  ),
];

/** A duration in minutes (0.01 of a minute to a year). */
const minutes = (def: number, label: string) =>
  ({ name: 'minutes', type: 'number', default: def, min: 0.01, max: 525_600, label }) as const;

/** What starts a cooldown: any exit, a losing trade's, or a stop's (stop loss or trailing stop). */
const COOLDOWN_AFTER = ['any', 'loss', 'stop'] as const;

/** The share of the position a take profit closes at its target. */
const SHARE_PCT = {
  name: 'sharePct',
  type: 'number',
  default: 100,
  min: 0.01,
  max: 100,
  label: 'Share of the position to close at the target (%)',
} as const;

/**
 * A stop's break-even: once the best price since entry has gained this % on the (average) entry, the stop
 * is at least at the entry (0: never), as freqtrade strategies move theirs with `custom_stoploss`.
 */
const BREAK_EVEN = {
  name: 'breakEvenPct',
  type: 'number',
  default: 0,
  min: 0,
  max: 1000,
  label: 'Move the stop to the entry after a gain of (%)',
} as const;

/** A trailing stop's activation: it trails only once the best price has gained this % on the entry. */
const ACTIVATE_PCT = {
  name: 'activatePct',
  type: 'number',
  default: 0,
  min: 0,
  max: 1000,
  label: 'Active after a gain of (%)',
} as const;

/** How far a distance rule's level is: `multiplier` times the distance (default `def`). */
const multiplier = (def: number) =>
  ({ name: 'multiplier', type: 'number', default: def, min: 0.01, max: 100, label: 'Multiplier' }) as const;

/**
 * The stop loss, take profit and trailing stop at a distance in price read from the graph (an ATR, a
 * standard deviation, a swing low's distance) rather than a percent: taken on the bar of the signal that
 * opens the position and kept for its life. One of each kind of rule per graph (a percent or a distance).
 */
const distanceNodes = (): NodeType[] => [
  define({
    type: 'risk.stop_distance',
    version: 1,
    category: 'risk',
    label: 'Stop loss at a distance',
    description:
      'Exit when price moves `multiplier` × `distance` against the (average) entry: wire an ATR for a 2 × ATR ' +
      'stop. The distance is read on the bar of the signal that opens the position and kept while it is ' +
      'open; an entry whose distance is not a positive number (an indicator still warming up) has no stop. ' +
      '`breakEvenPct` as the stop loss’s.',
    inputs: [num('distance')],
    outputs: [],
    params: [multiplier(2), BREAK_EVEN],
    warmup: () => 0,
  }),
  define({
    type: 'risk.target_distance',
    version: 1,
    category: 'risk',
    label: 'Take profit at a distance',
    description:
      'Exit when price moves `multiplier` × `distance` in favour of the (average) entry (3 × ATR, or a ' +
      "reward of three times a 1 × ATR stop's risk); `sharePct` as the take profit's. The distance is read " +
      'on the bar of the signal that opens the position.',
    inputs: [num('distance')],
    outputs: [],
    params: [multiplier(3), SHARE_PCT],
    warmup: () => 0,
  }),
  define({
    type: 'risk.trailing_distance',
    version: 1,
    category: 'risk',
    label: 'Trailing stop at a distance',
    description:
      'Exit when price falls `multiplier` × `distance` from the best price since entry (a chandelier exit: ' +
      '3 × ATR under the highest high). The distance is read on the bar of the signal that opens the ' +
      'position and kept while it is open. `activatePct` as the trailing stop’s.',
    inputs: [num('distance')],
    outputs: [],
    params: [multiplier(3), ACTIVATE_PCT],
    warmup: () => 0,
  }),
];

export const riskNodes = [
  risk(
    'stop_loss',
    'Stop loss',
    'Exit when price moves `percent` against the (average) entry; with `breakEvenPct`, the stop moves up to the ' +
      'entry once the best price since entry has gained that much on it.',
    2,
    [BREAK_EVEN],
  ),
  risk(
    'take_profit',
    'Take profit',
    'Exit when price moves `percent` in favour of the (average) entry; with `sharePct` below 100, close that ' +
      'share of the position there, once a position, and let the rest run (its stops still apply).',
    5,
    [SHARE_PCT],
  ),
  risk(
    'trailing_stop',
    'Trailing stop',
    'Exit when price falls `percent` from the best price since entry; with `activatePct`, only once the best ' +
      'price has gained that much on the entry (until then no trailing stop).',
    3,
    [ACTIVATE_PCT],
  ),
  ...distanceNodes(),
  define({
    type: 'risk.roi_table',
    version: 1,
    category: 'risk',
    label: 'ROI table',
    description:
      "A take profit that comes down with time held, as freqtrade's `minimal_roi`: exit once price has gained " +
      '`roi0` % on the (average) entry, or `roi1` % after `after1` minutes held, `roi2` % after `after2`, ' +
      '`roi3` % after `after3` (a step at 0 minutes is not used; 0 %: any gain; negative: a loss that far ' +
      'is taken too). Instead of a take profit.',
    inputs: [],
    outputs: [],
    params: [
      { name: 'roi0', type: 'number', default: 4, min: -100, max: 1000, label: 'Gain to exit at from the entry (%)' },
      ...[
        [30, 2],
        [60, 1],
        [120, 0],
      ].flatMap(([after, roi], k) => [
        {
          name: `after${k + 1}`,
          type: 'number' as const,
          default: after!,
          min: 0,
          max: 525_600,
          label: `Step ${k + 1}: after (minutes held; 0: unused)`,
        },
        {
          name: `roi${k + 1}`,
          type: 'number' as const,
          default: roi!,
          min: -100,
          max: 1000,
          label: `Step ${k + 1}: gain to exit at (%)`,
        },
      ]),
    ],
    warmup: () => 0,
  }),
  define({
    type: 'risk.take_profit_ladder',
    version: 1,
    category: 'risk',
    label: 'Take-profit ladder',
    description:
      'Scale out in steps: close `share1` % of the position once price has moved `pct1` % in its favour from ' +
      'the (average) entry, `share2` % at `pct2` %, `share3` % at `pct3` % (shares of the position before the ' +
      'first step; a step whose share is 0 is not used; the shares add up to at most 100; the steps go in ' +
      'order of their gains). Each step fires once a position; what the shares leave runs under the stops. ' +
      'Instead of a take profit.',
    inputs: [],
    outputs: [],
    params: [
      [2, 50],
      [4, 25],
      [6, 25],
    ].flatMap(([pct, share], k) => [
      {
        name: `pct${k + 1}`,
        type: 'number' as const,
        default: pct!,
        min: 0.01,
        max: 1000,
        label: `Step ${k + 1}: gain to exit at (%)`,
      },
      {
        name: `share${k + 1}`,
        type: 'number' as const,
        default: share!,
        min: 0,
        max: 100,
        label: `Step ${k + 1}: share of the position to close (%; 0: unused)`,
      },
    ]),
    warmup: () => 0,
  }),
  define({
    type: 'risk.time_exit',
    version: 1,
    category: 'risk',
    label: 'Time exit',
    description:
      'Close a position held for `minutes` or longer at the market: backtests at the open of the first bar ' +
      'that many minutes after the entry bar, paper sessions on the first tick that late.',
    inputs: [],
    outputs: [],
    params: [minutes(240, 'Hold at most (minutes)')],
    warmup: () => 0,
  }),
  define({
    type: 'risk.cooldown',
    version: 1,
    category: 'risk',
    label: 'Cooldown',
    description:
      'No new position for `minutes` after an exit: after any exit, a losing trade, or a stop (stop loss or ' +
      'trailing stop), as `after` says; with `count` above 1, after that many such exits in a row (a ' +
      'protection: three losing trades in a row, then a day out), or with `withinMinutes`, that many within ' +
      'that window, whatever exits come between (two stops within a day, then a day out: freqtrade’s ' +
      'StoplossGuard). Exits are never held back; a flip in the cooldown only closes. A partial exit does ' +
      'not count.',
    inputs: [],
    outputs: [],
    params: [
      minutes(60, 'No entries for (minutes)'),
      { name: 'after', type: 'enum', default: 'any', values: COOLDOWN_AFTER, label: 'After' },
      {
        name: 'count',
        type: 'integer',
        default: 1,
        min: 1,
        max: 100,
        label: 'After this many such exits in a row',
      },
      {
        name: 'withinMinutes',
        type: 'number',
        default: 0,
        min: 0,
        max: 525_600,
        label: 'Or that many within (minutes; 0: in a row)',
      },
    ],
    warmup: () => 0,
  }),
];
