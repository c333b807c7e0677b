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
    res.json({ results, recorded, duplicates: statuses.length - recorded });
  };
}
