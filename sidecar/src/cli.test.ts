import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { createDb } from './db/knex.js';

/** The CLI as an operator runs it: output, messages and exit codes. */

const dir = mkdtempSync(join(tmpdir(), 'mai-usage-cli-'));
const DATABASE_PATH = join(dir, 'data', 'mai-usage.db');
const ENV = { LOG_LEVEL: 'warn', DATABASE_PATH, NBP_API_BASE: 'http://127.0.0.1:9', NBP_API_TIMEOUT: '1' };

async function cli(args: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, ENV, env);
  let stdout = '';
  let stderr = '';
  try {
    const code = await runCli(args, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
    return { code, stdout, stderr };
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

describe('mai-usage CLI', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives every command a --help and refuses destructive ones without --yes', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    const names = [...top.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((match) => match[1]!);
    expect(names.sort()).toEqual(
      [
        'backup',
        'clean-usage',
        'copy-to-postgres',
        'export',
        'init',
        'install-filter',
        'migrate',
        'reset',
        'restore',
        'rotate-encryption-key',
        'verify',
      ].sort(),
    );
    for (const name of names) {
      const help = await cli([name, '--help']);
      expect(help.code, name).toBe(0);
      expect(help.stdout, name).toContain(`Usage: mai-usage ${name}`);
    }
    for (const args of [
      ['clean-usage'],
      ['reset'],
      ['restore', 'x.db'],
      ['rotate-encryption-key', '--new-key', 'a'.repeat(64)],
    ]) {
      const refused = await cli(args);
      expect(refused.code, args[0]).toBe(2);
      expect(refused.stderr, args[0]).toMatch(/refused — .*--yes/);
    }
    expect(existsSync(DATABASE_PATH)).toBe(false);
    expect((await cli(['verify', '--nonsense'])).code).toBe(2);
    expect((await cli(['no-such-command'])).code).toBe(2);
    expect((await cli(['export', '--month', '2026-13'])).code).toBe(2);
    expect((await cli(['rotate-encryption-key', '--new-key', 'xyz', '--yes'])).code).toBe(2);
  });

  it('exits 78 on bad configuration and sends PostgreSQL backups to pg_dump', async () => {
    const bad = await cli(['verify'], { ENCRYPTION_KEY: 'short' });
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('ENCRYPTION_KEY');
    const pg = await cli(['backup'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' });
    expect(pg.code).toBe(2);
    expect(pg.stderr).toContain('pg_dump');
  });

  describe('on a database', () => {
    let month: string;
    beforeAll(async () => {
      const init = await cli(['init', '--sample-data']);
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toMatch(/sample data: 2 orgs, 8 users, .* events recorded/);
      month = /… (\d{4}-\d{2})-\d{2}:/.exec(init.stdout)![1]!;
    });

    it('backs up, and restore brings the backup back and verifies it', async () => {
      const backup = await cli(['backup']);
      expect(backup.code, backup.stderr).toBe(0);
      const backups = readdirSync(join(dir, 'data', 'backups'));
      expect(backups).toHaveLength(1);
      const restored = await cli(['restore', join(dir, 'data', 'backups', backups[0]!), '--yes']);
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stdout).toMatch(/verify: OK/);
      expect(existsSync(`${DATABASE_PATH}.before-restore`)).toBe(true);
    });

    it('verify is clean, exits 1 listing a drifted rollup row, and --repair rewrites it', async () => {
      expect(await cli(['verify'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^verify: OK/) });
      expect((await cli(['init', '--sample-data'])).stdout).toMatch(/0 events recorded/);
      const db = createDb({ client: 'sqlite', path: DATABASE_PATH });
      await db('usage_daily')
        .where('rowid', 1)
        .update({ requests: db.raw('requests + 1') });
      await db.destroy();
      const drifted = await cli(['verify']);
      expect(drifted.code).toBe(1);
      expect(drifted.stdout).toMatch(/1 usage_daily rows differ/);
      const repaired = await cli(['verify', '--repair']);
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(repaired.stdout).toMatch(/repaired 1 usage_daily rows/);
      expect(await cli(['verify'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^verify: OK/) });
    });

    it('exports a month to a file, the same rows the API exports', async () => {
      const file = join(dir, 'export.csv');
      const exported = await cli(['export', '--month', month, '--out', file]);
      expect(exported.code, exported.stderr).toBe(0);
      const lines = readFileSync(file, 'utf8').split('\r\n');
      expect(lines[0]).toMatch(/^event_id,occurred_at,usage_day,client_org_id,/);
      expect(lines.length).toBeGreaterThan(10);
      const unknown = await cli(['export', '--month', month, '--client', 'org_nope', '--out', file + '2']);
      expect(unknown.code).toBe(2);
      expect(existsSync(file + '2')).toBe(false);
    });

    it('runs as an executable, exports to stdout', async () => {
      const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', import.meta.resolve('tsx'), join(import.meta.dirname, 'cli.ts'), 'export', '--month', month],
          { env: { PATH: process.env.PATH, ...ENV }, cwd: dir },
          (error, out) => resolve({ code: error ? Number(error.code) : 0, stdout: out }),
        );
      });
      expect(code).toBe(0);
      expect(stdout.split('\r\n')[0]).toMatch(/^event_id,/);
    });
  });
});
