import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppDeps } from '../../deps.js';
import type { Authenticator } from '../../http/auth.js';
import { requireKind } from '../../http/auth.js';
import { clientErrorReply, internalErrorReply } from '../../http/errors.js';
import { readJsonBody } from '../../http/json-body.js';
import { startRequestLog } from '../../http/request-log.js';
import { ingestBody } from './ingest.schema.js';
import { ledgerInputOf } from './ingest.service.js';

/** The path of the filter's only write, POST /api/v1/ingest/events. */
export const INGEST_PATH = '/api/v1/ingest/events';

const BODY_LIMIT_BYTES = 5 * 1024 * 1024;

export type IngestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Records a batch and answers each event's status. The sidecar's hottest route, so it is served
 * on node:http itself (app.ts hands it the requests): Express's router, express.json and a chain
 * of five middlewares cost more CPU per request than validating and recording the event
 * (bench/README.md). It does what that chain did: a request id and log line, the ingest token
 * and nothing else, the JSON body, validation naming the field, the one error shape. Never
 * rate-limited (usage is never refused), no CORS (server to server).
 */
export function createIngestListener(
  deps: Pick<AppDeps, 'ledger' | 'metrics' | 'logger'>,
  identify: Authenticator['identify'],
): IngestListener {
  async function record(req: IncomingMessage): Promise<{ answer: string; replayed: number }> {
    requireKind(await identify(req), ['ingest']);
    const body = await readJsonBody(req, BODY_LIMIT_BYTES);
    const { events } = ingestBody.parse(body);
    // Only the ids and a count outlive the commit: what the request parsed is garbage before
    // the wait, so the collector need not carry a batch's objects through it.
    const replayed = replayedIn(body);
    const inputs = events.map(ledgerInputOf);
    const ids = events.map((event) => event.event_id);
    const statuses = await deps.ledger.record(inputs);
    const results = ids.map((id, index) => ({ event_id: id, status: statuses[index] }));
    const recorded = statuses.filter((status) => status === 'recorded').length;
    return { answer: JSON.stringify({ results, recorded, duplicates: statuses.length - recorded }), replayed };
  }

  return (req, res) => {
    const started = performance.now();
    const log = startRequestLog(deps.logger, req, res, req.url ?? INGEST_PATH);
    const send = (status: number, json: string) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(json);
      log.answered();
    };
    record(req)
      .then(
        ({ answer, replayed }) => {
          send(200, answer);
          return replayed;
        },
        (error: unknown) => {
          const { status, code, message } =
            clientErrorReply(error) ??
            internalErrorReply(deps.logger, error, { id: log.id, method: req.method, url: req.url });
          send(status, JSON.stringify({ error: { code, message } }));
          return 0;
        },
      )
      .then((replayed) => deps.metrics.observeIngestRequest((performance.now() - started) / 1000, replayed))
      // Answering itself failed (the socket is gone): nothing left to tell the caller.
      .catch((error: unknown) => deps.logger.warn({ err: error, reqId: log.id }, 'could not answer an ingest request'));
  };
}

/** Events the filter marks as replayed from its spool (a field the ledger itself ignores). */
function replayedIn(body: unknown): number {
  const events = (body as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) return 0;
  let replayed = 0;
  for (const event of events) if ((event as { replayed?: unknown } | null)?.replayed === true) replayed += 1;
  return replayed;
}
