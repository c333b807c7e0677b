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

/** What a client is told about an error: its status and body. */
export type ErrorReply = { status: number; code: string; message: string };

/**
 * The answer to an error the client caused (bad input, auth, a body the parser refused), or
 * null for anything else: an internal error, which the caller logs and answers with 500.
 */
export function clientErrorReply(error: unknown): ErrorReply | null {
  const reply = (status: number, code: string, message: string) => ({ status, code, message });
  if (error instanceof ZodError) return reply(400, 'validation_error', describeZodError(error));
  if (error instanceof AppError) return reply(error.status, error.code, error.message);
  const parserError = error as BodyParserError;
  if (parserError.type === 'entity.parse.failed') return reply(400, 'invalid_json', 'request body is not valid JSON');
  if (parserError.type === 'entity.too.large') return reply(413, 'payload_too_large', 'request body is too large');
  if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    return reply(parserError.status, 'bad_request', parserError.message);
  }
  // PostgreSQL refuses NUL in text (22021) and in JSON text (22P05); the statement failed and
  // its transaction with it, so nothing was stored. SQLite stores it.
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '22021' || code === '22P05') {
    return reply(400, 'invalid_text', 'a text value holds a NUL character (\\u0000), which cannot be stored');
  }
  return null;
}

/** The 500 answer to an error nobody expected, logged with the request id the client is shown. */
export function internalErrorReply(
  logger: Logger,
  error: unknown,
  request: { id: string | null; method: string | undefined; url: string | undefined },
): ErrorReply {
  logger.error({ err: error, reqId: request.id, method: request.method, url: request.url }, 'unhandled error');
  return { status: 500, code: 'internal_error', message: `internal error (request id ${request.id ?? 'unknown'})` };
}

export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const { status, code, message } =
      clientErrorReply(error) ??
      internalErrorReply(logger, error, { id: requestIdOf(res), method: req.method, url: req.originalUrl });
    res.status(status).json({ error: { code, message } });
  };
}
