import type { NodeType } from '../types.ts';
import { bool, define } from './helpers.ts';

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
        ? []
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
          ],
    warmup: () => 0,
  });

const risk = (kind: string, label: string, description: string, def: number): NodeType =>
  define({
    type: `risk.${kind}`,
    version: 1,
    category: 'risk',
    label,
    description,
    inputs: [],
    outputs: [],
    params: [{ name: 'percent', type: 'number', default: def, min: 0.01, max: 100 }],
    warmup: () => 0,
  });

export const actionNodes = [
  action('buy', 'Buy', 'When triggered: close a short if any, then go long (sized by `sizing` and `amount`).'),
  action('sell', 'Sell', 'When triggered: close a long if any, then go short where the run allows shorts.'),
  action('close', 'Close position', 'When triggered: close whatever position is open.'),
];

export const riskNodes = [
  risk('stop_loss', 'Stop loss', 'Exit when price moves `percent` against the entry.', 2),
  risk('take_profit', 'Take profit', 'Exit when price moves `percent` in favour of the entry.', 5),
  risk('trailing_stop', 'Trailing stop', 'Exit when price falls `percent` from the best price since entry.', 3),
];
