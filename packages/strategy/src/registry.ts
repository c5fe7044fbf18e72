import { actionNodes, riskNodes } from './nodes/actions-risk.ts';
import { logicNodes, mathNodes } from './nodes/math-logic.ts';
import { momentumNodes } from './nodes/momentum.ts';
import { movingAverageNodes } from './nodes/moving-averages.ts';
import { oscillatorNodes } from './nodes/oscillators.ts';
import { sourceNodes } from './nodes/sources.ts';
import { trendNodes } from './nodes/trend.ts';
import { volatilityNodes, volumeNodes } from './nodes/volatility.ts';
import { SYMBOL_PATTERN } from '@algotrade/core';
import type { NodeType, ParamSpec } from './types.ts';

/** Registered from an explicit list; a duplicate type is a programming error and throws at load. */
export function buildRegistry(types: readonly NodeType[]): ReadonlyMap<string, NodeType> {
  const m = new Map<string, NodeType>();
  for (const t of types) {
    if (m.has(t.type)) throw new Error(`duplicate node type ${t.type}`);
    m.set(t.type, Object.freeze(t));
  }
  return m;
}

export const registry = buildRegistry([
  ...sourceNodes,
  ...movingAverageNodes,
  ...oscillatorNodes,
  ...momentumNodes,
  ...trendNodes,
  ...volatilityNodes,
  ...volumeNodes,
  ...mathNodes,
  ...logicNodes,
  ...actionNodes,
  ...riskNodes,
]);

function paramSchema(p: ParamSpec): Record<string, unknown> {
  if (p.type === 'enum') return { type: 'string', enum: [...p.values], default: p.default, title: p.label ?? p.name };
  if (p.type === 'symbol')
    return {
      type: 'string',
      pattern: SYMBOL_PATTERN.source,
      default: p.default,
      title: p.label ?? p.name,
      format: 'symbol',
    };
  return { type: p.type, minimum: p.min, maximum: p.max, default: p.default, title: p.label ?? p.name };
}

/** The palette as the API serves it: ports and a JSON Schema of the parameters. */
export function describeNodeTypes() {
  return [...registry.values()].map((t) => ({
    type: t.type,
    version: t.version,
    category: t.category,
    label: t.label,
    description: t.description,
    ...(t.convention ? { convention: t.convention } : {}),
    inputs: t.inputs,
    outputs: t.outputs,
    params: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(t.params.map((p) => [p.name, paramSchema(p)])),
    },
  }));
}
