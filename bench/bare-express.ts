/**
 * The ceiling for the HTTP side: a bare Express 5 JSON endpoint (express.json + res.json) that
 * answers an ingest body the way the sidecar does, without auth, logging, validation or a
 * database. Started as a child process by run.ts; prints "listening" when ready.
 */
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '5mb' }));
app.post('/api/v1/ingest/events', (req, res) => {
  const body = req.body as { events?: { event_id?: unknown }[] };
  const events = Array.isArray(body.events) ? body.events : [];
  res.json({
    results: events.map((event) => ({ event_id: event.event_id, status: 'recorded' })),
    recorded: events.length,
    duplicates: 0,
  });
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
