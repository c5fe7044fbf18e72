import { AppError } from '@algotrade/core';
import type { FastifyInstance } from 'fastify';

/**
 * Text PostgreSQL cannot hold: the NUL character (text and jsonb refuse U+0000), and UTF-16 halves
 * with no partner (lone surrogates are not Unicode: jsonb refuses them, and a text column would get
 * U+FFFD in their place, silently). Both are refused at the edge with a 400 naming where they are,
 * instead of failing at the database as a 500 or being stored changed.
 */
export function badText(s: string): string | null {
  if (s.includes('\u0000')) return 'text may not contain the NUL character (U+0000)';
  if (!s.isWellFormed()) return 'text may not contain an unpaired UTF-16 surrogate';
  return null;
}

/** The first string in `v` (walked depth first) that `badText` refuses, with its path; null when none. */
export function findBadText(v: unknown, path: string, depth = 0): { path: string; message: string } | null {
  if (typeof v === 'string') {
    const message = badText(v);
    return message ? { path, message } : null;
  }
  if (v === null || typeof v !== 'object' || depth > 64) return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = findBadText(v[i], `${path}.${i}`, depth + 1);
      if (bad) return bad;
    }
    return null;
  }
  // parsed JSON, query strings and route parameters (a stream, a buffer or a date is not walked)
  if (ArrayBuffer.isView(v) || v instanceof Date || typeof (v as { pipe?: unknown }).pipe === 'function') return null;
  for (const k of Object.keys(v)) {
    const inKey = badText(k);
    if (inKey) return { path: `${path}.${k}`, message: `property name: ${inKey}` };
    const bad = findBadText((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
    if (bad) return bad;
  }
  return null;
}

/**
 * Every request's route parameters, query and JSON body are checked for text the database cannot hold,
 * before schema validation: a 400 VALIDATION_FAILED with the field's path, as schema errors are. (Text
 * bodies, such as CSV imports, are left to their own parsers, which report bad rows.)
 */
export function installTextInputRule(app: FastifyInstance): void {
  app.addHook('preValidation', (req, _reply, done) => {
    const bad =
      findBadText(req.params, 'params') ??
      findBadText(req.query, 'querystring') ??
      (typeof req.body === 'object' ? findBadText(req.body, 'body') : null);
    if (!bad) return done();
    done(new AppError('VALIDATION_FAILED', `${bad.path}: ${bad.message}`, [bad]));
  });
}
