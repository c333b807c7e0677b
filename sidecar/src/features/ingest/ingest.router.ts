import { Router } from 'express';
import type { AppDeps } from '../../deps.js';
import { allow } from '../../http/auth.js';
import { ingestBody } from './ingest.schema.js';
import { ledgerInputOf } from './ingest.service.js';

/** POST /api/v1/ingest/events — the filter's only write. Never rate-limited. */
export function createIngestRouter(deps: AppDeps): Router {
  const router = Router();

  router.post('/events', allow('ingest'), async (req, res) => {
    const { events } = ingestBody.parse(req.body);
    const statuses = await deps.ledger.record(events.map(ledgerInputOf));
    const results = events.map((event, index) => ({ event_id: event.event_id, status: statuses[index] }));
    const recorded = statuses.filter((status) => status === 'recorded').length;
    res.json({ results, recorded, duplicates: statuses.length - recorded });
  });

  return router;
}
