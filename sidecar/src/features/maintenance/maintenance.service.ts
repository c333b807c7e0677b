import type { Knex } from 'knex';
import { isPostgres } from '../../db/dialect.js';
import { migrateLatest } from '../../db/migrator.js';
import { decryptSecret, encryptSecret } from '../../lib/crypto.js';
import { recordAudit } from '../audit/audit.store.js';
import { countBacklog } from '../ledger/ledger.backlog.js';
import { listOrganizations } from '../organizations/organizations.store.js';
import {
  countRows,
  deleteUsage,
  instancesInDatabase,
  readEncryptedSecrets,
  readRollup,
  lockLedgerWrites,
  recomputeRollup,
  writeEncryptedSecret,
  writeRollupRow,
  type RollupRow,
  type RollupTotals,
} from './maintenance.store.js';

/** The operator's database tasks (the seeds' create_tables, clean_usage_database, reset). */

/** A task that would surprise: it is refused, with a sentence saying what would make it go. */
export class RefusedError extends Error {}

const CLI_ACTOR = 'cli';

export async function migrateDatabase(db: Knex): Promise<{ applied: string[]; version: string }> {
  const applied = await migrateLatest(db);
  return { applied, version: await db.migrate.currentVersion() };
}

/**
 * Deletes this instance's usage — the ledger, its rollup, stream starts, cost look-ups,
 * reconciliations, limit alerts and the ledger backlog — and keeps its configuration (orgs, mappings, settings,
 * rates). Other instances sharing the database are not touched. Audited.
 */
export async function cleanUsage(
  db: Knex,
  options: { instanceId: string; at: string },
): Promise<{ orgs: number; deleted: Record<string, number> }> {
  return db.transaction(async (tx) => {
    const orgIds = (await listOrganizations(tx, options.instanceId)).map((org) => org.id);
    const deleted = await deleteUsage(tx, options.instanceId, orgIds);
    await recordAudit(
      tx,
      {
        actor: CLI_ACTOR,
        action: 'usage.clean',
        targetType: 'instance',
        targetId: options.instanceId,
        details: { orgs: orgIds.length, deleted },
        requestId: null,
      },
      options.at,
    );
    return { orgs: orgIds.length, deleted };
  });
}

/**
 * Drops every table (all migrations rolled back) and migrates again: an empty database. On a
 * PostgreSQL shared with other instances that wipes theirs too, so it is refused unless asked for.
 */
export async function resetDatabase(
  db: Knex,
  options: { instanceId: string; allInstances: boolean; at: string },
): Promise<{ version: string }> {
  const [completed] = (await db.migrate.list()) as [unknown[], unknown[]];
  if (completed.length > 0) {
    const others = (await instancesInDatabase(db)).filter((id) => id !== options.instanceId);
    if (others.length > 0 && !options.allInstances) {
      throw new RefusedError(
        `the database also holds the instances ${others.join(', ')}; reset drops theirs too — ` +
          'add --all-instances if that is what you want',
      );
    }
  }
  await db.migrate.rollback(undefined, true);
  const { version } = await migrateDatabase(db);
  await recordAudit(
    db,
    {
      actor: CLI_ACTOR,
      action: 'database.reset',
      targetType: 'database',
      targetId: null,
      details: { instance: options.instanceId, allInstances: options.allInstances },
      requestId: null,
    },
    options.at,
  );
  return { version };
}

export type RollupDifference = {
  key: Omit<RollupRow, 'totals'>;
  /** null: the row is missing. */
  stored: RollupTotals | null;
  expected: RollupTotals | null;
};

export type VerifyResult = {
  events: number;
  rowsChecked: number;
  differences: RollupDifference[];
  /** Usage stored in ledger_backlog (while migrations were behind), not in the ledger yet. */
  backlog: number;
};

const keyOf = (row: RollupRow) => JSON.stringify([row.clientOrgId, row.usageDay, row.userId, row.model]);

function sameTotals(a: RollupTotals, b: RollupTotals): boolean {
  return (Object.keys(a) as (keyof RollupTotals)[]).every((field) => a[field] === b[field]);
}

/** What the ledger and its rollup say, read in the caller's transaction. */
async function compareRollup(tx: Knex.Transaction): Promise<VerifyResult> {
  const expected = new Map((await recomputeRollup(tx)).map((row) => [keyOf(row), row]));
  const stored = new Map((await readRollup(tx)).map((row) => [keyOf(row), row]));
  const differences: RollupDifference[] = [];
  for (const [key, want] of expected) {
    const have = stored.get(key);
    if (!have || !sameTotals(have.totals, want.totals)) {
      const { totals, ...rowKey } = want;
      differences.push({ key: rowKey, stored: have?.totals ?? null, expected: totals });
    }
  }
  for (const [key, have] of stored) {
    if (expected.has(key)) continue;
    const { totals, ...rowKey } = have;
    differences.push({ key: rowKey, stored: totals, expected: null });
  }
  return {
    events: await countRows(tx, 'usage_events'),
    rowsChecked: stored.size,
    differences,
    backlog: await countBacklog(tx),
  };
}

/** Recomputes every usage_daily row from usage_events and lists each row that differs. */
export async function verifyRollup(db: Knex): Promise<VerifyResult> {
  // One read transaction: the ledger and its rollup from the same moment.
  return db.transaction(
    (tx) => compareRollup(tx),
    // SQLite transactions are snapshots already; PostgreSQL's default would re-read per statement.
    isPostgres(db) ? { isolationLevel: 'repeatable read', readOnly: true } : undefined,
  );
}

/**
 * verify, then every usage_daily row that differs is rewritten with what the ledger says (a row
 * with no events is deleted), in one transaction holding the ledger's write lock, audited. The
 * ledger itself is never changed: it is the truth the rollup is derived from. Usage arriving
 * meanwhile waits for the lock (SQLite: up to its busy timeout, 5 s; past that the filter spools
 * and replays it), so this is for a quiet moment.
 */
export async function repairRollup(db: Knex, at: string): Promise<VerifyResult> {
  return db.transaction(async (tx) => {
    await lockLedgerWrites(tx);
    const found = await compareRollup(tx);
    for (const { key, expected } of found.differences) await writeRollupRow(tx, key, expected, at);
    if (found.differences.length > 0) {
      await recordAudit(
        tx,
        {
          actor: CLI_ACTOR,
          action: 'rollup.repair',
          targetType: 'database',
          targetId: null,
          details: { rows: found.differences.length, events: found.events },
          requestId: null,
        },
        at,
      );
    }
    return found;
  });
}

/**
 * Re-encrypts every stored OpenRouter key (each org's and the provisioning key) from the old
 * ENCRYPTION_KEY to a new one, in one transaction: either all are re-encrypted or none.
 */
export async function rotateEncryptionKey(
  db: Knex,
  options: { oldKey: Buffer; newKey: Buffer; at: string },
): Promise<{ orgKeys: number; provisioningKeys: number }> {
  if (options.oldKey.equals(options.newKey)) throw new RefusedError('the new key is the key in use now');
  return db.transaction(async (tx) => {
    const secrets = await readEncryptedSecrets(tx);
    let orgKeys = 0;
    let provisioningKeys = 0;
    for (const secret of secrets) {
      let plaintext: string;
      try {
        plaintext = decryptSecret(secret.value, options.oldKey);
      } catch {
        const what = secret.kind === 'org' ? `org ${secret.id}'s OpenRouter key` : 'the provisioning key';
        throw new Error(`${what} cannot be decrypted with the current ENCRYPTION_KEY; nothing was changed`);
      }
      await writeEncryptedSecret(tx, secret.kind, secret.id, encryptSecret(plaintext, options.newKey));
      if (secret.kind === 'org') orgKeys += 1;
      else provisioningKeys += 1;
    }
    await recordAudit(
      tx,
      {
        actor: CLI_ACTOR,
        action: 'encryption_key.rotate',
        targetType: 'database',
        targetId: null,
        details: { orgKeys, provisioningKeys },
        requestId: null,
      },
      options.at,
    );
    return { orgKeys, provisioningKeys };
  });
}
