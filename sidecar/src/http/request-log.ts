import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

const GIVEN_ID = /^[\w.-]{1,100}$/;

/** One request's log: its id, and the line written once it is answered. */
export type RequestLog = {
  id: string;
  /** Writes the request's line with the status it was answered with; call once. */
  answered(): void;
};

/**
 * A request id (the caller's X-Request-Id, else a new one) echoed back and put on every log line,
 * and one line per answered request: errors always, successes only at debug. Built for ingest's
 * thousands of requests a minute: nothing is allocated for a success unless debug is on.
 */
export function startRequestLog(logger: Logger, req: IncomingMessage, res: ServerResponse, url: string): RequestLog {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  const started = performance.now();
  return {
    id,
    answered() {
      const status = res.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'debug';
      if (!logger.isLevelEnabled(level)) return;
      const ms = Math.round((performance.now() - started) * 10) / 10;
      logger[level]({ reqId: id, method: req.method, url, status, ms }, 'request');
    },
  };
}

/** startRequestLog for Express routes: the line is written when the response has finished. */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const log = startRequestLog(logger, req, res, req.originalUrl);
    res.locals.requestId = log.id;
    res.on('finish', log.answered);
    next();
  };
}

export function requestIdOf(res: Response | undefined): string | null {
  const id: unknown = res?.locals.requestId;
  return typeof id === 'string' ? id : null;
}
