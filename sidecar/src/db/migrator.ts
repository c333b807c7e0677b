import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Health } from '../features/health/health.service.js';
import type { Ledger } from '../features/ledger/ledger.service.js';
import { isPostgres } from './dialect.js';

/**
 * Migrations that may not run right away (DESIGN §2). Another sidecar on the same PostgreSQL
 * may be migrating, another process may hold Knex's migration lock, or a step may fail; the
 * sidecar then starts anyway, the ledger stores usage in its backlog, /readyz says degraded, and
 * migrating is retried with backoff.
 * Once it succeeds the backlog is rolled up, and only then is the sidecar ready.
 */
export type Migrator = {
  /**
   * The first attempt. Resolves true when the schema is current, false when it is not (yet):
   * the sidecar runs degraded and retries in the background. An attempt still running after
   * `firstAttemptTimeoutMs` (waiting on another sidecar's migration, say) goes on in the background.
   */
  start(options?: { firstAttemptTimeoutMs?: number }): Promise<boolean>;
  /** An attempt now (or the one running); true when the schema is current and the backlog rolled up. */
  attempt(): Promise<boolean>;
  /** The schema fell behind while running (the ledger saw a missing table): degrade and retry. */
  schemaFellBehind(error: unknown): void;
  /** Resolves the first time migrating and rolling up has finished. */
  readonly migrated: Promise<void>;
  /** Stops retrying. */
  stop(): void;
};

export type MigratorOptions = {
  db: Knex;
  health: Health;
  ledger: Ledger;
  logger: Logger;
  /** Another migration source (tests); the knexfile's by default. */
  migrationConfig?: Knex.MigratorConfig;
  /** Backoff between attempts: base doubling up to max (defaults 1 s … 60 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
};

const LOCKED = /already locked/i;

/** Any fixed 64-bit number, the same in every sidecar: the advisory lock migrations take turns on. */
const MIGRATION_LOCK_KEY = 7_261_304_915_042n;

/** Waits for, then holds until `turn` ends, the PostgreSQL advisory lock that migrators take turns on. */
export async function takeMigrationTurn(turn: Knex.Transaction): Promise<void> {
  await turn.raw('SELECT pg_advisory_xact_lock(?::bigint)', [MIGRATION_LOCK_KEY.toString()]);
}

/**
 * Knex's `migrate.latest`, taking turns with every other sidecar or CLI on the same PostgreSQL.
 * Knex's own lock row is not enough there:
 * - processes starting together on a fresh database can each find the lock table empty and
 *   insert a row, and with two rows Knex says "Migration table is already locked" forever;
 * - a process that dies while migrating leaves the row locked, for everyone, until someone
 *   unlocks it by hand.
 * So the migration runs holding a PostgreSQL advisory lock (a transaction's, released if the
 * process dies): the others wait their turn. Holding it, nobody else is migrating, so Knex's lock
 * is first put back to one unlocked row. SQLite needs none of this: one sidecar owns its file.
 */
export async function migrateLatest(db: Knex, config?: Knex.MigratorConfig): Promise<string[]> {
  const latest = async () => ((await db.migrate.latest(config)) as [number, string[]])[1];
  if (!isPostgres(db)) return latest();
  return db.transaction(async (turn) => {
    await takeMigrationTurn(turn);
    const lockTable = `${config?.tableName ?? 'knex_migrations'}_lock`;
    if (await db.schema.hasTable(lockTable)) {
      await db(lockTable).whereNot('index', db(lockTable).min('index')).delete();
      await db(lockTable).update({ is_locked: 0 });
    }
    return latest();
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function createMigrator(options: MigratorOptions): Migrator {
  const base = options.retryBaseMs ?? 1_000;
  const max = options.retryMaxMs ?? 60_000;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | null = null;
  let stopped = false;
  let markMigrated: () => void = () => undefined;
  const migrated = new Promise<void>((resolve) => {
    markMigrated = resolve;
  });

  async function currentVersion(): Promise<string | null> {
    try {
      const version = await options.db.migrate.currentVersion(options.migrationConfig);
      return version === 'none' ? null : version;
    } catch {
      return null;
    }
  }

  function scheduleRetry(): void {
    if (stopped || timer) return;
    const delay = Math.min(base * 2 ** Math.max(failures - 1, 0), max);
    timer = setTimeout(() => {
      timer = undefined;
      void attempt();
    }, delay);
    timer.unref();
  }

  async function run(): Promise<boolean> {
    try {
      const done = await migrateLatest(options.db, options.migrationConfig);
      if (done.length > 0) options.logger.info({ migrations: done }, 'database migrated');
      // New usage takes the normal path from here; what waited in the backlog follows it.
      const rolledUp = await options.ledger.rollUpBacklog();
      failures = 0;
      options.health.migrations = { state: 'done', error: null, version: await currentVersion() };
      if (rolledUp > 0) options.logger.info({ events: rolledUp }, 'usage stored while degraded is rolled up');
      markMigrated();
      return true;
    } catch (error) {
      failures += 1;
      const locked = LOCKED.test(messageOf(error));
      const message = locked
        ? `${messageOf(error)}: another process holds the Knex migration lock (knex_migrations_lock.is_locked = 1); ` +
          'retrying. If no sidecar is migrating, release it with ' +
          '`UPDATE knex_migrations_lock SET is_locked = 0`.'
        : messageOf(error);
      options.ledger.setSchemaCurrent(false);
      options.health.migrations = {
        state: locked ? 'pending' : 'failed',
        error: message,
        version: await currentVersion(),
      };
      options.logger.error(
        { err: locked ? undefined : error, attempt: failures },
        `migrations did not run (${locked ? 'locked' : 'failed'}); running degraded, usage goes to the ledger backlog`,
      );
      scheduleRetry();
      return false;
    }
  }

  function attempt(): Promise<boolean> {
    running ??= run().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    async start({ firstAttemptTimeoutMs = 30_000 } = {}) {
      let timeout: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timeout = setTimeout(() => resolve(false), firstAttemptTimeoutMs);
        timeout.unref();
      });
      const first = attempt();
      const current = await Promise.race([first, timedOut]);
      clearTimeout(timeout);
      if (!current && options.health.migrations.state !== 'done' && options.ledger.schemaCurrent()) {
        // Still waiting on the first attempt: take usage through the backlog meanwhile.
        options.ledger.setSchemaCurrent(false);
        options.health.migrations = {
          state: 'pending',
          error: `migrations still running after ${firstAttemptTimeoutMs} ms (waiting on another process?)`,
          version: null,
        };
      }
      return current;
    },
    attempt,
    schemaFellBehind(error) {
      options.ledger.setSchemaCurrent(false);
      options.health.migrations = { ...options.health.migrations, state: 'failed', error: messageOf(error) };
      failures = Math.max(failures, 1);
      scheduleRetry();
    },
    migrated,
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
