import { AppError } from '@algotrade/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

const body = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined ? { code, message } : { code, message, details },
});

/**
 * Fastify's router answers some malformed paths itself, before any hook or error handler (a path that
 * is not percent-encoded UTF-8, a route parameter over 100 characters); passed as `frameworkErrors`,
 * this gives those answers the same `{error:{code,message}}` body as every other error.
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const path = req.raw.url?.split('?')[0] ?? '';
  const shown = path.length > 120 ? `${path.slice(0, 120)}...` : path;
  void reply.header('x-request-id', req.id); // these answers skip the hooks that set it
  if (err.code === 'FST_ERR_BAD_URL')
    void reply.status(400).send(body('BAD_REQUEST', `the path ${shown} is not valid percent-encoded UTF-8`));
  else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH')
    void reply
      .status(414)
      .send(body('URI_TOO_LONG', `a part of the path ${shown} is longer than 100 characters: no id is that long`));
  else {
    req.log.error({ err }, 'router error');
    void reply.status(500).send(body('INTERNAL', `internal error (request id ${req.id})`));
  }
}

/** Maps every failure to `{error:{code,message,details}}`: 4xx for the caller's mistakes, never a stack trace. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) req.log.error({ err }, err.message);
      return reply.status(err.status).send(body(err.code, err.message, err.details));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const details = err.validation.map((v) => ({
        path: `${err.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`.replace(/\.$/, ''),
        message: v.message,
      }));
      const first = details[0];
      return reply
        .status(400)
        .send(body('VALIDATION_FAILED', first ? `${first.path}: ${first.message}` : 'invalid request', details));
    }
    // the database refused the text itself (a NUL or a character its encoding lacks): the caller's data,
    // not a fault here. Requests are checked for such text first (text-input.ts); this catches the rest
    const sqlState = (err as { code?: unknown }).code;
    if (sqlState === '22021' || sqlState === '22P05')
      return reply.status(400).send(body('VALIDATION_FAILED', `text the database cannot store: ${err.message}`));
    const fe = err as FastifyError;
    if (fe.validation) return reply.status(400).send(body('VALIDATION_FAILED', fe.message, fe.validation));
    const status = fe.statusCode ?? 500;
    if (status === 429) return reply.status(429).send(body('RATE_LIMITED', fe.message));
    if (status >= 400 && status < 500) {
      const code =
        status === 413
          ? 'PAYLOAD_TOO_LARGE'
          : status === 415
            ? 'UNSUPPORTED_MEDIA_TYPE'
            : status === 401
              ? 'UNAUTHORIZED'
              : status === 404
                ? 'NOT_FOUND'
                : 'BAD_REQUEST';
      return reply.status(status).send(body(code, fe.message));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(body('INTERNAL', `internal error (request id ${req.id})`));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send(body('NOT_FOUND', `route ${req.method} ${req.url.split('?')[0]} not found`)),
  );
}
