import type { NodeType } from '@algotrade/strategy';

/**
 * A node type as `type` with a look-ahead bug planted in its block evaluator: each output value is the
 * next bar's within a block, so every bar but a block's last sees the bar after it. One bar at a time it
 * cannot see ahead. What the strategy check must catch.
 */
export function peeking(type: NodeType): NodeType {
  return {
    ...type,
    create: (p, io) => {
      const inner = type.create!(p, io);
      const o = io.outputs[0]!;
      return (c, n) => {
        inner(c, n);
        for (let j = 0; j < n - 1; j++) c[o]![j] = c[o]![j + 1]!;
      };
    },
  };
}
