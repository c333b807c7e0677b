import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

const GIVEN_ID = /^[\w.-]{1,100}$/;

/**
 * A request id (the caller's X-Request-Id, else a new one) echoed back and put on every log line,
 * and one line per finished request: errors always, successes only at debug. Built for ingest's
 * thousands of requests a minute: nothing is allocated for a success unless debug is on.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('x-request-id', id);
    const started = performance.now();
    res.on('finish', () => {
      const status = res.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'debug';
      if (!logger.isLevelEnabled(level)) return;
      const ms = Math.round((performance.now() - started) * 10) / 10;
      logger[level]({ reqId: id, method: req.method, url: req.originalUrl, status, ms }, 'request');
    });
    next();
  };
}

export function requestIdOf(res: Response | undefined): string | null {
  const id: unknown = res?.locals.requestId;
  return typeof id === 'string' ? id : null;
}
