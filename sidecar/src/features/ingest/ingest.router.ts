import type { RequestHandler } from 'express';
import type { AppDeps } from '../../deps.js';
import { ingestBody } from './ingest.schema.js';
import { ledgerInputOf } from './ingest.service.js';

/** The path of the filter's only write, POST /api/v1/ingest/events. */
export const INGEST_PATH = '/api/v1/ingest/events';

/** Records a batch and answers each event's status. Mounted by app.ts behind ingest auth; never rate-limited. */
export function createIngestHandler(deps: Pick<AppDeps, 'ledger'>): RequestHandler {
  return async (req, res) => {
    const { events } = ingestBody.parse(req.body);
    const statuses = await deps.ledger.record(events.map(ledgerInputOf));
    const results = events.map((event, index) => ({ event_id: event.event_id, status: statuses[index] }));
    const recorded = statuses.filter((status) => status === 'recorded').length;
    // Not res.json: its ETag (a SHA-1 of the body) is of no use on a POST answer, and this is the
    // hottest route; Node sets the Content-Length of a body given whole to end().
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ results, recorded, duplicates: statuses.length - recorded }));
  };
}
