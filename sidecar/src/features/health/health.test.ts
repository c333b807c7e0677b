import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { createTestApp, type TestApp } from '../../test-support/harness.js';

describe.each(databaseKinds)('health on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(async () => t?.close());

  it('/healthz answers without a token', async () => {
    expect((await request(t.app).get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
  });

  it('/readyz is ready with the database up and migrations done', async () => {
    const res = await request(t.app).get('/readyz').expect(200);
    expect(res.body).toMatchObject({
      status: 'ready',
      database: { client: kind === 'postgres' ? 'pg' : 'sqlite', ok: true, error: null },
      migrations: { state: 'done', error: null },
      jobs: {},
    });
    expect(res.body.migrations.version).toMatch(/^\d{14}$/);
  });

  it("/readyz reports each job's last run", async () => {
    t.deps.health.jobs.set('nbp-rates', {
      name: 'nbp-rates',
      lastRunAt: '2026-03-10T07:15:00.000Z',
      ok: false,
      durationMs: 12,
      error: 'NBP answered 500',
    });
    const res = await request(t.app).get('/readyz').expect(200);
    expect(res.body.jobs['nbp-rates']).toEqual({
      last_run_at: '2026-03-10T07:15:00.000Z',
      ok: false,
      duration_ms: 12,
      error: 'NBP answered 500',
    });
    // Every scheduled job is listed from the start, with null until its first run.
    expect(res.body.jobs['openrouter-sync']).toEqual({ last_run_at: null, ok: null, duration_ms: null, error: null });
  });

  it('/readyz is degraded (503) while migrations are not done', async () => {
    const done = t.deps.health.migrations;
    try {
      t.deps.health.migrations = { state: 'failed', error: 'lock held by another sidecar', version: done.version };
      const res = await request(t.app).get('/readyz').expect(503);
      expect(res.body).toMatchObject({
        status: 'degraded',
        migrations: { state: 'failed', error: 'lock held by another sidecar' },
      });
      // Liveness is unaffected.
      await request(t.app).get('/healthz').expect(200);
    } finally {
      t.deps.health.migrations = done;
    }
  });
});

describe('readiness without a database', () => {
  it('is degraded (503) and says why', async () => {
    const t = await createTestApp('sqlite');
    try {
      await t.db.destroy();
      const res = await request(t.app).get('/readyz').expect(503);
      expect(res.body).toMatchObject({ status: 'degraded', database: { ok: false, error: expect.any(String) } });
      await request(t.app).get('/healthz').expect(200);
    } finally {
      await t.close();
    }
  });
});
