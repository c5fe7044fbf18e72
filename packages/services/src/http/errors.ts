import { AppError } from '@algotrade/core';
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

const body = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined ? { code, message } : { code, message, details },
});

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
