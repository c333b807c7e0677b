import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../db/knex.js';
import { completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';
import { verifyRollup } from '../maintenance/maintenance.service.js';
import { backupDatabase, backupFileName, pruneBackups, restoreBackup } from './backups.service.js';

async function eventIds(path: string): Promise<Set<string>> {
  const db = createDb({ client: 'sqlite', path });
  try {
    const rows: { event_id: string }[] = await db('usage_events').select('event_id');
    return new Set(rows.map((row) => row.event_id));
  } finally {
    await db.destroy();
  }
}

describe('SQLite backup and restore', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite', { now: '2026-03-10T12:00:00Z' });
  });
  afterAll(async () => t?.close());

  it('backs up while ingest writes, restores, and the restored ledger holds every event acknowledged before', async () => {
    // A ledger big enough that the backup takes a while.
    const users = Array.from({ length: 40 }, (_, i) => ({ id: `u${i}`, email: `u${i}@x.example`, name: `U ${i}` }));
    for (let batch = 0; batch < 10; batch += 1) {
      const events = Array.from({ length: 500 }, (_, i) =>
        completionEvent({ event_id: `gen-prefill-${batch}-${i}`, user: { ...users[i % users.length]!, role: 'user' } }),
      );
      await t.ingest({ events }).expect(200);
    }

    // Writers through the real app, acknowledging batches until told to stop.
    const acknowledged = new Set<string>();
    let inFlight = 0;
    let stop = false;
    let sequence = 0;
    const writer = async (w: number) => {
      while (!stop) {
        const events = Array.from({ length: 20 }, () =>
          completionEvent({
            event_id: `gen-load-${w}-${(sequence += 1)}`,
            occurred_at: `2026-03-${String(1 + (sequence % 9)).padStart(2, '0')}T10:00:00Z`,
            user: { ...users[sequence % users.length]!, role: 'user' },
          }),
        );
        inFlight += 1;
        const res = await t.ingest({ events });
        inFlight -= 1;
        expect(res.status).toBe(200);
        for (const event of events) acknowledged.add(String(event.event_id));
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    while (acknowledged.size < 200) await new Promise((resolve) => setTimeout(resolve, 5));

    const beforeBackup = new Set(acknowledged);
    const inFlightAtStart = inFlight;
    const backup = await backupDatabase(t.config, new Date('2026-03-10T12:00:00Z'));
    const afterBackup = acknowledged.size;
    while (acknowledged.size < afterBackup + 200) await new Promise((resolve) => setTimeout(resolve, 5));
    stop = true;
    await Promise.all(writers);
    await t.deps.ledger.drain();

    expect(inFlightAtStart).toBeGreaterThan(0);
    expect(backup.file).toBe(join(t.config.backup.dir, 'mai-usage-20260310-120000.db'));
    expect(backup.bytes).toBeGreaterThan(0);

    // Restore over the live file, as an operator would with the sidecar stopped.
    await t.db.destroy();
    const livePath = (t.config.database as { path: string }).path;
    const result = await restoreBackup({ databasePath: livePath, file: backup.file });
    expect(result.previous).toBe(`${livePath}.before-restore`);

    const restored = await eventIds(livePath);
    for (const id of beforeBackup) expect(restored.has(id), id).toBe(true);
    const everything = await eventIds(result.previous!);
    for (const id of restored) expect(everything.has(id), id).toBe(true);
    // The load went on after the backup: those events are in the previous file, not the backup.
    expect(everything.size).toBeGreaterThan(restored.size);
    for (const id of acknowledged) expect(everything.has(id), id).toBe(true);

    const db = createDb({ client: 'sqlite', path: livePath });
    try {
      expect((await verifyRollup(db)).differences).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

describe('backup files', () => {
  it('are named by their UTC time, and retention deletes old ones but always keeps the newest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mai-usage-backups-'));
    try {
      expect(backupFileName(new Date('2026-11-23T03:15:07.123Z'))).toBe('mai-usage-20261123-031507.db');
      const names = [
        'mai-usage-20261001-031500.db',
        'mai-usage-20261108-031500.db',
        'mai-usage-20261109-031500.db',
        'mai-usage-20261122-031500.db',
        'mai-usage-20261122-031500-2.db',
        'notes.txt',
      ];
      for (const name of names) writeFileSync(join(dir, name), '');
      const now = new Date('2026-11-23T03:15:00Z');
      expect(pruneBackups({ dir, retentionDays: 14, now }).sort()).toEqual([
        'mai-usage-20261001-031500.db',
        'mai-usage-20261108-031500.db',
      ]);
      expect(readdirSync(dir).sort()).toEqual([
        'mai-usage-20261109-031500.db',
        'mai-usage-20261122-031500-2.db',
        'mai-usage-20261122-031500.db',
        'notes.txt',
      ]);
      // Long after the last backup, the newest is still kept.
      expect(pruneBackups({ dir, retentionDays: 1, now: new Date('2027-06-01T00:00:00Z') })).toHaveLength(2);
      expect(readdirSync(dir).sort()).toEqual(['mai-usage-20261122-031500-2.db', 'notes.txt']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restore refuses a file that is not a mai-usage database and leaves the database alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mai-usage-restore-'));
    try {
      const bogus = join(dir, 'bogus.db');
      writeFileSync(bogus, 'not a database at all, just some text that is long enough');
      const databasePath = join(dir, 'live.db');
      writeFileSync(databasePath, 'the live file');
      await expect(restoreBackup({ databasePath, file: bogus })).rejects.toThrow(/not a SQLite database|damaged/);
      await expect(restoreBackup({ databasePath, file: join(dir, 'missing.db') })).rejects.toThrow(/does not exist/);
      expect(existsSync(`${databasePath}.before-restore`)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the daily job on PostgreSQL is skipped with a message naming pg_dump', async () => {
    const t = await createTestApp('postgres');
    try {
      expect(await t.deps.scheduler.runNow('backup')).toEqual({ skipped: expect.stringContaining('pg_dump') });
    } finally {
      await t.close();
    }
  });
});
