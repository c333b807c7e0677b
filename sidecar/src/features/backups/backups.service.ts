import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import sqlite3 from 'sqlite3';
import type { Config } from '../../config.js';

/**
 * SQLite backups. A backup is `VACUUM INTO` run on its own connection: it reads one consistent
 * snapshot (WAL readers never block the sidecar's writer, nor it them) and writes a compact,
 * standalone file. PostgreSQL is backed up with pg_dump, outside the sidecar.
 */

export const PG_DUMP_ADVICE =
  'the database is PostgreSQL (DATABASE_URL): back it up with pg_dump, e.g. ' +
  '`pg_dump --format=custom --file=mai-usage-$(date +%Y%m%d-%H%M%S).dump "$DATABASE_URL"`, ' +
  'and restore with pg_restore';

const BACKUP_NAME = /^mai-usage-(\d{8})-(\d{6})(?:-(\d+))?\.db$/;

export type BackupResult = { file: string; bytes: number };
export type BackupSummary = BackupResult & { pruned: string[] };

type SqliteDb = InstanceType<typeof sqlite3.Database>;

function open(path: string, mode: number): Promise<SqliteDb> {
  return new Promise((resolve, reject) => {
    const db: SqliteDb = new sqlite3.Database(path, mode, (error) => (error ? reject(error) : resolve(db)));
  });
}

function run(db: SqliteDb, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (error) => (error ? reject(error) : resolve())));
}

function all(db: SqliteDb, sql: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) =>
    db.all(sql, (error, rows) => (error ? reject(error) : resolve(rows as Record<string, unknown>[]))),
  );
}

function close(db: SqliteDb): Promise<void> {
  return new Promise((resolve, reject) => db.close((error) => (error ? reject(error) : resolve())));
}

/** `mai-usage-YYYYMMDD-HHMMSS.db`, in UTC so names sort in time order across DST changes. */
export function backupFileName(at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `mai-usage-${stamp}.db`;
}

/** When a backup file was taken, from its name; undefined for files that are not ours. */
export function backupTakenAt(name: string): Date | undefined {
  const match = BACKUP_NAME.exec(name);
  if (!match) return undefined;
  const [d, t] = [match[1]!, match[2]!];
  const at = Date.parse(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4)}Z`,
  );
  return Number.isFinite(at) ? new Date(at) : undefined;
}

/** Writes a consistent copy of the SQLite file at `source` to `target` (which must not exist). */
export async function snapshotSqlite(source: string, target: string): Promise<void> {
  if (!existsSync(source)) throw new Error(`${source} does not exist`);
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  const db = await open(source, sqlite3.OPEN_READWRITE);
  try {
    db.configure('busyTimeout', 10_000);
    await run(db, 'VACUUM INTO ?', [partial]);
  } finally {
    await close(db);
  }
  try {
    await checkSqliteFile(partial);
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

/** Throws unless `file` is an intact SQLite database holding the ledger. */
export async function checkSqliteFile(file: string): Promise<void> {
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  const db = await open(file, sqlite3.OPEN_READONLY).catch((error: unknown) => {
    throw new Error(`${file} is not a SQLite database`, { cause: error });
  });
  try {
    const check = await all(db, 'PRAGMA quick_check').catch((error: unknown) => {
      throw new Error(`${file} is not a SQLite database`, { cause: error });
    });
    const verdict = check.map((row) => Object.values(row)[0]).join('; ');
    if (verdict !== 'ok') throw new Error(`${file} is damaged: ${verdict}`);
    const tables = await all(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'usage_events'");
    if (tables.length === 0) throw new Error(`${file} is not a mai-usage database (it has no usage_events table)`);
  } finally {
    await close(db);
  }
}

/** Takes a backup into `dir`, named by the time it was taken; never overwrites one. */
export async function createBackup(options: { databasePath: string; dir: string; now: Date }): Promise<BackupResult> {
  mkdirSync(options.dir, { recursive: true });
  const name = backupFileName(options.now);
  let file = join(options.dir, name);
  for (let n = 2; existsSync(file); n += 1) file = join(options.dir, name.replace(/\.db$/, `-${n}.db`));
  await snapshotSqlite(options.databasePath, file);
  return { file, bytes: statSync(file).size };
}

/** Deletes our backups older than the retention, always keeping the newest one. */
export function pruneBackups(options: { dir: string; retentionDays: number; now: Date }): string[] {
  if (!existsSync(options.dir)) return [];
  const cutoff = options.now.getTime() - options.retentionDays * 86_400_000;
  const ours = readdirSync(options.dir)
    .map((name) => ({ name, at: backupTakenAt(name), n: Number(BACKUP_NAME.exec(name)?.[3] ?? 1) }))
    .filter((entry): entry is { name: string; at: Date; n: number } => entry.at !== undefined)
    .sort((a, b) => a.at.getTime() - b.at.getTime() || a.n - b.n);
  const removed: string[] = [];
  for (const entry of ours.slice(0, -1)) {
    if (entry.at.getTime() >= cutoff) continue;
    rmSync(join(options.dir, entry.name), { force: true });
    removed.push(entry.name);
  }
  return removed;
}

/** The daily job and `mai-usage backup`: a backup, then retention. */
export async function backupDatabase(config: Config, now: Date, out?: string): Promise<BackupSummary> {
  if (config.database.client !== 'sqlite') throw new Error(PG_DUMP_ADVICE);
  if (out !== undefined) {
    if (existsSync(out)) throw new Error(`${out} already exists; backups never overwrite a file`);
    mkdirSync(dirname(out), { recursive: true });
    await snapshotSqlite(config.database.path, out);
    return { file: out, bytes: statSync(out).size, pruned: [] };
  }
  const backup = await createBackup({ databasePath: config.database.path, dir: config.backup.dir, now });
  const pruned = pruneBackups({ dir: config.backup.dir, retentionDays: config.backup.retentionDays, now });
  return { ...backup, pruned };
}

export type RestoreResult = { restored: string; from: string; previous: string | null };

/**
 * Puts a backup in place of the database file. The sidecar MUST be stopped: SQLite cannot tell
 * whether another process merely has the file open. The file being replaced is first copied,
 * consistently (its WAL included), to `<database>.before-restore`.
 */
export async function restoreBackup(options: { databasePath: string; file: string }): Promise<RestoreResult> {
  const { databasePath, file } = options;
  await checkSqliteFile(file);
  mkdirSync(dirname(databasePath), { recursive: true });
  let previous: string | null = null;
  if (existsSync(databasePath)) {
    previous = `${databasePath}.before-restore`;
    rmSync(previous, { force: true });
    await snapshotSqlite(databasePath, previous);
  }
  const incoming = join(dirname(databasePath), `.${basename(databasePath)}.restoring`);
  copyFileSync(file, incoming);
  // A WAL left beside the old file would be replayed into the restored one.
  for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${databasePath}${suffix}`, { force: true });
  renameSync(incoming, databasePath);
  return { restored: databasePath, from: file, previous };
}
