import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import sqlite3 from 'sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';

const PAGE = 4096;
/** 300 rows, each filling most of a page. */
const ROWS = 'WITH RECURSIVE rows (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM rows WHERE n < 300)';

function exec(db: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => db.exec(sql, (error) => (error ? reject(error) : resolve())));
}

/** A logger whose lines land in `lines`. */
function capturingLogger(lines: Record<string, unknown>[]) {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'warn' }, stream);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('background WAL checkpointer', () => {
  let dir: string;
  let writer: sqlite3.Database | undefined;
  let checkpointer: Checkpointer | undefined;
  afterEach(async () => {
    await checkpointer?.stop();
    await new Promise<void>((resolve) => (writer ? writer.close(() => resolve()) : resolve()));
    checkpointer = undefined;
    writer = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies the WAL into the database file while the writer never checkpoints', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mai-usage-checkpoint-'));
    const path = join(dir, 'wal.db');
    writer = new sqlite3.Database(path);
    await exec(writer, 'PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (b BLOB)');
    await exec(writer, `${ROWS} INSERT INTO t SELECT randomblob(3000) FROM rows`);
    // Everything written so far is in the WAL only.
    const before = statSync(path).size;
    expect(before).toBeLessThan(10 * PAGE);

    checkpointer = startCheckpointer({ path, logger: pino({ level: 'silent' }), intervalMs: 20 });
    await until(() => (checkpointer?.last()?.checkpointed ?? 0) >= 300, 'a checkpoint of the 300 pages');
    const result = checkpointer.last()!;
    expect(result.checkpointed).toBe(result.log);
    expect(statSync(path).size).toBeGreaterThanOrEqual(300 * PAGE);

    // It keeps going: later commits are checkpointed too.
    await exec(writer, `${ROWS} INSERT INTO t SELECT randomblob(3000) FROM rows`);
    await until(() => statSync(path).size >= 600 * PAGE, 'the second 300 pages in the database file');
  });

  it('logs a failing checkpoint once, and does not throw', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mai-usage-checkpoint-'));
    const lines: Record<string, unknown>[] = [];
    // No such database: the checkpointer never creates one of its own.
    checkpointer = startCheckpointer({ path: join(dir, 'missing.db'), logger: capturingLogger(lines), intervalMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(lines.map((line) => line.msg)).toEqual([
      'background WAL checkpoint failed; the writer checkpoints past its limit',
    ]);
    expect(checkpointer.last()).toBeNull();
  });
});
