import type { Logger } from 'pino';
import sqlite3 from 'sqlite3';

/**
 * SQLite's WAL checkpoints, taken off the commit path. By default the commit that takes the WAL
 * past 1,000 pages copies them into the database file and fsyncs it before it returns, and the
 * ledger's callers grouped in that commit wait for it. The writer's own threshold is raised to
 * WRITER_AUTOCHECKPOINT_PAGES instead (knex.ts), and a connection of the checkpointer's own runs
 * a PASSIVE checkpoint every `intervalMs` on another thread-pool thread: it never waits for,
 * nor blocks, a reader or the writer. Should it fall behind or fail, the writer's own threshold
 * still bounds the WAL.
 */

export const WRITER_AUTOCHECKPOINT_PAGES = 10_000;
const CHECKPOINT_INTERVAL_MS = 200;

/** `PRAGMA wal_checkpoint`'s answer: frames in the WAL, and how many are in the database file. */
export type CheckpointResult = { busy: number; log: number; checkpointed: number };

export type Checkpointer = {
  /** The last checkpoint's answer (null before the first one ends). */
  last(): CheckpointResult | null;
  stop(): Promise<void>;
};

export function startCheckpointer(options: { path: string; logger: Logger; intervalMs?: number }): Checkpointer {
  const { logger } = options;
  let failing = false;
  const failed = (error: Error) => {
    // Once per run of failures: a stuck checkpoint would otherwise log five times a second.
    if (!failing)
      logger.warn({ err: error }, 'background WAL checkpoint failed; the writer checkpoints past its limit');
    failing = true;
  };
  let opened: 'opening' | 'open' | 'failed' = 'opening';
  // Never creates the file: the database is Knex's, migrated before this starts.
  const connection = new sqlite3.Database(options.path, sqlite3.OPEN_READWRITE, (error) => {
    opened = error ? 'failed' : 'open';
    if (error) failed(error);
  });
  let last: CheckpointResult | null = null;
  let running: Promise<void> | null = null;

  const checkpoint = () => {
    if (opened !== 'open') return;
    running ??= new Promise<void>((resolve) => {
      connection.get<CheckpointResult>('PRAGMA wal_checkpoint(PASSIVE)', (error, row) => {
        running = null;
        if (error) failed(error);
        else {
          failing = false;
          last = row ?? null;
        }
        resolve();
      });
    });
  };
  const timer = setInterval(checkpoint, options.intervalMs ?? CHECKPOINT_INTERVAL_MS);
  timer.unref();

  return {
    last: () => last,
    async stop() {
      clearInterval(timer);
      await running;
      if (opened !== 'failed') await new Promise<void>((resolve) => connection.close(() => resolve()));
    },
  };
}
