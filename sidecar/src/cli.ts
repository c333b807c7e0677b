#!/usr/bin/env node
import { createWriteStream, existsSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Knex } from 'knex';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDb } from './db/knex.js';
import { assembleDeps, type AppDeps } from './deps.js';
import { backupDatabase, PG_DUMP_ADVICE, restoreBackup } from './features/backups/backups.service.js';
import { copySqliteToPostgres } from './features/database-copy/database-copy.service.js';
import { ExportError, writeUsageExport, type UsageExportRequest } from './features/exports/exports.service.js';
import { installFilter } from './features/filter-install/filter-install.service.js';
import {
  cleanUsage,
  migrateDatabase,
  RefusedError,
  repairRollup,
  resetDatabase,
  rotateEncryptionKey,
  verifyRollup,
  type VerifyResult,
} from './features/maintenance/maintenance.service.js';
import { insertSampleData } from './features/maintenance/maintenance.sample.js';
import { nanoToUsdString } from './lib/money.js';
import { isMonth } from './lib/time.js';

/**
 * `mai-usage <command>`: operator tasks run beside the sidecar, reading the same environment.
 * Each command's work lives in its feature; this file parses arguments and prints.
 * Exit codes: 0 done, 1 failed, 2 bad usage (or refused), 78 bad configuration.
 */

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | string[] | undefined>;

type Command = {
  summary: string;
  /** Options and notes shown by `mai-usage <command> --help`. */
  help: string;
  options?: Options;
  /** Destructive: refused without --yes. */
  destructive?: string;
  positionals?: string;
  run(values: Values, positionals: string[]): Promise<number>;
};

/** A usage error: printed as one sentence, exit 2. */
class UsageError extends Error {}

/** Where the command's output and messages go: the process's, or a test's. */
export type CliIo = { stdout: (text: string) => void; stderr: (text: string) => void };
let io: CliIo = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };
const out = (text: string) => io.stdout(`${text}\n`);
const note = (text: string) => io.stderr(`${text}\n`);

/** The sidecar's services over the configured database; closed after `task`. */
async function withDeps<T>(config: Config, task: (deps: AppDeps) => Promise<T>, migrated = true): Promise<T> {
  const db = createDb(config.database);
  // Logs go to stderr so that stdout carries only the command's output (an export, say).
  const logger = pino(
    { level: config.logLevel === 'info' ? 'warn' : config.logLevel },
    pino.destination({ fd: 2, sync: true }),
  );
  try {
    if (migrated) await requireMigrated(db);
    const deps = assembleDeps({ config, db, logger });
    try {
      return await task(deps);
    } finally {
      await deps.ledger.drain();
    }
  } finally {
    await db.destroy();
  }
}

async function requireMigrated(db: Knex): Promise<void> {
  const [, pending] = (await db.migrate.list()) as [unknown[], unknown[]];
  if (pending.length > 0) {
    throw new Error(`the database has migrations to run (${pending.length}): run \`mai-usage migrate\` first`);
  }
}

function describeDatabase(config: Config): string {
  return config.database.client === 'sqlite' ? config.database.path : 'PostgreSQL (DATABASE_URL)';
}

function printVerify(result: VerifyResult): number {
  if (result.backlog > 0) {
    // Not counted in the ledger or its rollup yet; a running sidecar writes them through once migrated.
    out(
      `verify: ${result.backlog} usage events wait in ledger_backlog (received while migrations were behind); ` +
        'a sidecar on the current schema rolls them into the ledger (see /metrics mai_usage_ledger_backlog_events)',
    );
  }
  if (result.differences.length === 0) {
    out(`verify: OK — ${result.rowsChecked} usage_daily rows match ${result.events} usage_events`);
    return 0;
  }
  out(`verify: ${result.differences.length} usage_daily rows differ from the ledger (${result.events} events):`);
  for (const difference of result.differences.slice(0, 50)) {
    const { clientOrgId, usageDay, userId, model } = difference.key;
    const show = (totals: typeof difference.stored) =>
      totals === null
        ? 'missing'
        : `requests ${totals.requests}, tokens ${totals.inputTokens}+${totals.outputTokens}, ` +
          `billed ${nanoToUsdString(totals.billedCostNanoUsd)} USD, pending ${totals.pendingCostRequests}`;
    out(`  ${usageDay} org ${clientOrgId} user ${userId || '-'} model ${model}`);
    out(`    stored:   ${show(difference.stored)}`);
    out(`    expected: ${show(difference.expected)}`);
  }
  if (result.differences.length > 50) out(`  … and ${result.differences.length - 50} more`);
  return 1;
}

const commands: Record<string, Command> = {
  migrate: {
    summary: 'Run the database migrations (the sidecar also runs them at start).',
    help: '',
    async run() {
      const config = loadConfig();
      const { applied, version } = await withDeps(config, (deps) => migrateDatabase(deps.db), false);
      out(
        applied.length > 0
          ? `migrated ${describeDatabase(config)}: ${applied.join(', ')} (now at ${version})`
          : `${describeDatabase(config)} is up to date (${version})`,
      );
      return 0;
    },
  },

  init: {
    summary: 'Create the tables (migrate); with --sample-data also record a month of sample usage.',
    help: `  --sample-data   record 30 days of usage for two sample orgs through the ledger (refused when
                  the ledger holds real events; remove it with clean-usage --yes)`,
    options: { 'sample-data': { type: 'boolean' } },
    async run(values) {
      const config = loadConfig();
      return withDeps(
        config,
        async (deps) => {
          const { applied, version } = await migrateDatabase(deps.db);
          out(
            `${describeDatabase(config)}: schema at ${version}${applied.length > 0 ? ` (applied ${applied.length})` : ''}`,
          );
          if (!values['sample-data']) return 0;
          const sample = await insertSampleData({
            db: deps.db,
            ledger: deps.ledger,
            instanceId: config.instanceId,
            billingTimeZone: config.billingTimeZone,
            now: deps.now(),
          });
          out(
            `sample data: ${sample.orgs} orgs, ${sample.users} users, ${sample.from} … ${sample.to}: ` +
              `${sample.recorded} events recorded${sample.duplicates > 0 ? `, ${sample.duplicates} already there` : ''}`,
          );
          return 0;
        },
        false,
      );
    },
  },

  'clean-usage': {
    summary: "Delete this instance's usage; keep its configuration (orgs, mappings, settings).",
    help: `  Deletes usage_events, usage_daily, generation_starts, cost_lookups, reconciliations and
  limit_alerts of this INSTANCE_ID's orgs, and its ledger_backlog; writes an audit_log entry.
  Take a backup first.`,
    destructive: "deletes every usage record of this instance's orgs",
    async run() {
      const config = loadConfig();
      const result = await withDeps(config, (deps) =>
        cleanUsage(deps.db, { instanceId: config.instanceId, at: deps.now().toISOString() }),
      );
      const counts = Object.entries(result.deleted).map(([table, n]) => `${table} ${n}`);
      out(`clean-usage: ${result.orgs} orgs kept; deleted ${counts.join(', ')}`);
      return 0;
    },
  },

  reset: {
    summary: 'Drop every table and migrate again: an empty database.',
    help: `  --all-instances  required when the database (a shared PostgreSQL) holds other instances' orgs
  Take a backup first.`,
    options: { 'all-instances': { type: 'boolean' } },
    destructive: 'drops every table (usage and configuration)',
    async run(values) {
      const config = loadConfig();
      const { version } = await withDeps(
        config,
        (deps) =>
          resetDatabase(deps.db, {
            instanceId: config.instanceId,
            allInstances: values['all-instances'] === true,
            at: deps.now().toISOString(),
          }),
        false,
      );
      out(`reset: ${describeDatabase(config)} is empty, migrated to ${version}`);
      return 0;
    },
  },

  'install-filter': {
    summary: 'Create or update the mai-usage filter in Open WebUI (active, global, valves set).',
    help: `  Idempotent. Needs OPENWEBUI_URL and OPENWEBUI_ADMIN_API_KEY (an admin's API key).
  --sidecar-url URL    the sidecar as Open WebUI reaches it (default FILTER_SIDECAR_URL)
  --valve NAME=VALUE   set another valve; repeatable (numbers and true/false are typed)`,
    options: { 'sidecar-url': { type: 'string' }, valve: { type: 'string', multiple: true } },
    async run(values) {
      const config = loadConfig();
      if (!config.openWebUiAdminApiKey) {
        throw new UsageError('set OPENWEBUI_ADMIN_API_KEY to an Open WebUI admin API key');
      }
      const valves: Record<string, unknown> = {
        sidecar_url: (values['sidecar-url'] as string | undefined) ?? config.filterSidecarUrl,
        ingest_token: config.ingestToken,
      };
      for (const pair of (values.valve as string[] | undefined) ?? []) {
        const at = pair.indexOf('=');
        if (at <= 0) throw new UsageError(`--valve expects NAME=VALUE, got ${JSON.stringify(pair)}`);
        valves[pair.slice(0, at)] = valveValue(pair.slice(at + 1));
      }
      const result = await installFilter({
        openWebUiUrl: config.openWebUiUrl,
        apiKey: config.openWebUiAdminApiKey,
        valves,
      });
      out(
        `mai-usage filter ${result.action} in ${config.openWebUiUrl} (id ${result.id}); ` +
          `${result.toggled.length > 0 ? `turned on: ${result.toggled.join(', ')}` : 'already active and global'}; ` +
          `valves set: ${result.valves.join(', ')}`,
      );
      return 0;
    },
  },

  backup: {
    summary: 'Take an online backup of the SQLite database (safe while the sidecar runs).',
    help: `  --out FILE   write the backup to FILE (default BACKUP_DIR/mai-usage-YYYYMMDD-HHMMSS.db, UTC,
               then backups older than BACKUP_RETENTION_DAYS are deleted, the newest always kept)
  PostgreSQL (DATABASE_URL) is backed up with pg_dump instead.`,
    options: { out: { type: 'string' } },
    async run(values) {
      const config = loadConfig();
      if (config.database.client !== 'sqlite') throw new UsageError(PG_DUMP_ADVICE);
      const target = values.out === undefined ? undefined : resolve(values.out as string);
      const result = await backupDatabase(config, new Date(), target);
      out(`backup: ${result.file} (${result.bytes} bytes)`);
      if (result.pruned.length > 0)
        out(
          `backup: deleted ${result.pruned.length} older than ${config.backup.retentionDays} days: ${result.pruned.join(', ')}`,
        );
      return 0;
    },
  },

  restore: {
    summary: 'Put a backup in place of the SQLite database. STOP THE SIDECAR FIRST.',
    help: `  FILE   a backup taken by \`mai-usage backup\` (or the daily job)
  The sidecar must be stopped: whether another process has the file open cannot be detected.
  The current file is kept as DATABASE_PATH.before-restore; the result is verified.`,
    positionals: 'FILE',
    destructive: 'replaces the database file (the current one is kept as .before-restore)',
    async run(_values, positionals) {
      const config = loadConfig();
      if (config.database.client !== 'sqlite') throw new UsageError(PG_DUMP_ADVICE);
      const file = positionals[0];
      if (!file || positionals.length > 1) throw new UsageError('restore takes one backup FILE');
      const result = await restoreBackup({ databasePath: config.database.path, file: resolve(file) });
      out(`restore: ${result.from} → ${result.restored}`);
      if (result.previous) out(`restore: the previous database is kept as ${result.previous}`);
      const verified = await withDeps(config, (deps) => verifyRollup(deps.db), false);
      const code = printVerify(verified);
      out('restore: start the sidecar (it migrates the restored database if it is older)');
      return code;
    },
  },

  export: {
    summary: "Write a month's ledger rows (or its billing statement) as CSV or JSON.",
    help: `  --month YYYY-MM        the billing month (required)
  --format csv|json      default csv
  --client ID            one org only (ledger rows)
  --billing              the billing statement (per org and day, PLN at NBP table A) instead
  --dialect rfc4180|pl   CSV dialect of the billing statement (pl: semicolons, decimal commas)
  --out FILE             write to FILE instead of stdout
  The same output as the API's usage/export and usage/billing, as the operator sees it.`,
    options: {
      month: { type: 'string' },
      format: { type: 'string' },
      client: { type: 'string' },
      billing: { type: 'boolean' },
      dialect: { type: 'string' },
      out: { type: 'string' },
    },
    async run(values) {
      const month = values.month as string | undefined;
      if (!month || !isMonth(month)) throw new UsageError('--month YYYY-MM is required');
      const format = (values.format as string | undefined) ?? 'csv';
      if (format !== 'csv' && format !== 'json') throw new UsageError('--format must be csv or json');
      const dialect = (values.dialect as string | undefined) ?? 'rfc4180';
      if (dialect !== 'rfc4180' && dialect !== 'pl') throw new UsageError('--dialect must be rfc4180 or pl');
      if (values.billing && values.client !== undefined) {
        throw new UsageError('--client applies to ledger rows; the billing statement covers every org');
      }
      const request: UsageExportRequest = values.billing
        ? { kind: 'billing' as const, month, format, dialect }
        : { kind: 'events' as const, month, format, clientId: values.client as string | undefined };
      const config = loadConfig();
      const file = values.out === undefined ? undefined : resolve(values.out as string);
      const partial = file === undefined ? undefined : `${file}.partial`;
      try {
        await withDeps(config, (deps) =>
          writeUsageExport(deps, request, partial === undefined ? process.stdout : createWriteStream(partial)),
        );
      } catch (error) {
        if (partial !== undefined) rmSync(partial, { force: true });
        if (error instanceof ExportError && error.status < 500) throw new UsageError(error.message);
        throw error;
      }
      if (file !== undefined && partial !== undefined) {
        renameSync(partial, file);
        note(`export: ${file}`);
      }
      return 0;
    },
  },

  verify: {
    summary: 'Recompute every usage_daily row from usage_events and report any difference.',
    help: `  --repair   rewrite each differing rollup row with what the ledger says (audited; the ledger
             itself is never changed); usage arriving meanwhile waits for it
  Exit 0 when every rollup row matches the ledger (or was repaired), 1 when any differs (each is listed).`,
    options: { repair: { type: 'boolean' } },
    async run(values) {
      const config = loadConfig();
      if (values.repair) {
        const repaired = await withDeps(config, (deps) => repairRollup(deps.db, deps.now().toISOString()));
        if (repaired.differences.length > 0) printVerify(repaired);
        out(`verify: repaired ${repaired.differences.length} usage_daily rows from ${repaired.events} usage_events`);
        return 0;
      }
      return printVerify(await withDeps(config, (deps) => verifyRollup(deps.db)));
    },
  },

  'rotate-encryption-key': {
    summary: 'Re-encrypt every stored OpenRouter key with a new ENCRYPTION_KEY, in one transaction.',
    help: `  --new-key HEX   the new key: 64 hex characters (e.g. \`openssl rand -hex 32\`)
  Stop the sidecar (every sidecar sharing the database) first, and start it with the new key.`,
    options: { 'new-key': { type: 'string' } },
    destructive: 'makes the stored keys unreadable with the current ENCRYPTION_KEY',
    async run(values) {
      const hex = values['new-key'] as string | undefined;
      if (!hex || !/^[0-9a-fA-F]{64}$/.test(hex)) {
        throw new UsageError('--new-key must be 64 hexadecimal characters (openssl rand -hex 32)');
      }
      const config = loadConfig();
      const result = await withDeps(config, (deps) =>
        rotateEncryptionKey(deps.db, {
          oldKey: config.encryptionKey,
          newKey: Buffer.from(hex, 'hex'),
          at: deps.now().toISOString(),
        }),
      );
      out(
        `rotate-encryption-key: re-encrypted ${result.orgKeys} org keys and ${result.provisioningKeys} provisioning key(s)`,
      );
      const keyFile = resolve(config.dataDir, '.encryption_key');
      const fromFile = !process.env.ENCRYPTION_KEY?.trim() && existsSync(keyFile);
      out(
        fromFile
          ? `Now put the new key into ${keyFile} (replacing the old one) and restart the sidecar.`
          : 'Now set ENCRYPTION_KEY to the new key where the sidecar reads it (the .env beside ' +
              'docker-compose.override.yml, or its environment) and restart it; on a shared PostgreSQL, every sidecar.',
      );
      return 0;
    },
  },

  'copy-to-postgres': {
    summary: 'Copy the SQLite database into PostgreSQL (move a tenant to a shared database).',
    help: `  --to URL   postgres://… (the DATABASE_URL the sidecar will use)
  Stop the sidecar first. The copy is one transaction; it is refused if the target already holds
  this database's orgs. Then set DATABASE_URL and start the sidecar.`,
    options: { to: { type: 'string' } },
    async run(values) {
      const url = values.to as string | undefined;
      if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new UsageError('--to postgres://… is required');
      const config = loadConfig();
      if (config.database.client !== 'sqlite')
        throw new UsageError('the configured database is not SQLite (unset DATABASE_URL)');
      const source = createDb(config.database);
      const target = createDb({ client: 'pg', url });
      try {
        const result = await copySqliteToPostgres(source, target);
        for (const table of result.tables) {
          const kept = table.source - table.copied;
          out(`  ${table.table}: ${table.copied}${kept > 0 ? ` (${kept} already there, kept)` : ''}`);
        }
        out(`copy-to-postgres: done. Set DATABASE_URL=${url.replace(/\/\/[^@/]*@/, '//…@')} and start the sidecar.`);
      } finally {
        await Promise.all([source.destroy(), target.destroy()]);
      }
      return 0;
    },
  },
};

function valveValue(text: string): unknown {
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function commandHelp(name: string, command: Command): string {
  const args = `${command.positionals ? ` ${command.positionals}` : ''}${command.destructive ? ' --yes' : ''}`;
  const lines = [`Usage: mai-usage ${name}${args} [options]`, '', command.summary];
  if (command.help) lines.push('', command.help);
  if (command.destructive) lines.push(`  --yes   required: this ${command.destructive}`);
  lines.push('  -h, --help   show this help', '');
  return lines.join('\n');
}

const usage = `Usage: mai-usage <command> [options]

Reads the same environment as the sidecar (DATABASE_PATH or DATABASE_URL, ENCRYPTION_KEY, …).

Commands:
${Object.entries(commands)
  .map(([name, command]) => `  ${name.padEnd(22)} ${command.summary}`)
  .join('\n')}

Run \`mai-usage <command> --help\` for a command's options.
Exit codes: 0 done, 1 failed (verify: differences found), 2 bad usage or refused, 78 bad configuration.
`;

/** Runs one command line; resolves to the exit code. */
export async function runCli(argv: string[], output?: CliIo): Promise<number> {
  if (output) io = output;
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help') {
    io.stdout(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    io.stderr(`mai-usage: unknown command ${JSON.stringify(name)}\n\n${usage}`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: {
        ...command.options,
        help: { type: 'boolean', short: 'h' },
        ...(command.destructive ? { yes: { type: 'boolean' } } : {}),
      },
      allowPositionals: command.positionals !== undefined,
    });
    if (values.help) {
      io.stdout(commandHelp(name, command));
      return 0;
    }
    if (command.destructive && !values.yes) {
      note(`${name}: refused — this ${command.destructive}. Run it again with --yes if that is what you want.`);
      return 2;
    }
    return await command.run(values, positionals);
  } catch (error) {
    if (error instanceof ConfigError) {
      note(error.message);
      return 78;
    }
    const code = (error as { code?: unknown }).code;
    const badUsage =
      error instanceof UsageError ||
      error instanceof RefusedError ||
      (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
    const cause = (error as { cause?: unknown }).cause;
    const detail = error instanceof Error ? error.message : String(error);
    note(`${name}: ${detail}${cause instanceof Error ? ` (${cause.message})` : ''}`);
    return badUsage ? 2 : 1;
  }
}

// Run when executed (also through the `mai-usage` symlink npm or the image puts on the PATH).
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
