import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { requestIdOf } from './request-log.js';

/** The one error type the app throws on purpose; anything else is a 500 and gets logged. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new AppError(400, 'bad_request', message);
export const notFound = (message: string) => new AppError(404, 'not_found', message);
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const conflict = (message: string) => new AppError(409, 'conflict', message);

/** `events[3].usage.input_tokens: Invalid input…` — names the field the client got wrong. */
export function describeZodError(error: ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid input';
  const path = issue.path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)),
    '',
  );
  return path ? `${path}: ${issue.message}` : issue.message;
}

export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new AppError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

type BodyParserError = Error & { type?: string; status?: number };

export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const send = (status: number, code: string, message: string) =>
      res.status(status).json({ error: { code, message } });
    if (error instanceof ZodError) return send(400, 'validation_error', describeZodError(error));
    if (error instanceof AppError) return send(error.status, error.code, error.message);
    const parserError = error as BodyParserError;
    if (parserError.type === 'entity.parse.failed') {
      return send(400, 'invalid_json', 'request body is not valid JSON');
    }
    if (parserError.type === 'entity.too.large') {
      return send(413, 'payload_too_large', 'request body is too large');
    }
    if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
      return send(parserError.status, 'bad_request', parserError.message);
    }
    // PostgreSQL refuses NUL in text (22021) and in JSON text (22P05); the statement failed and
    // its transaction with it, so nothing was stored. SQLite stores it.
    const code = (error as { code?: unknown } | null)?.code;
    if (code === '22021' || code === '22P05') {
      return send(400, 'invalid_text', 'a text value holds a NUL character (\\u0000), which cannot be stored');
    }
    const requestId = requestIdOf(res);
    logger.error({ err: error, reqId: requestId, method: req.method, url: req.originalUrl }, 'unhandled error');
    return send(500, 'internal_error', `internal error (request id ${requestId ?? 'unknown'})`);
  };
}
