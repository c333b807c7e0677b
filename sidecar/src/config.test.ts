import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const created: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mai-config-'));
  created.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('starts with no configuration: defaults, and secrets generated once into the data directory', () => {
    const dir = tempDir();
    const env = { DATABASE_PATH: join(dir, 'mai-usage.db') };
    const first = loadConfig(env);
    expect(first.port).toBe(3100);
    expect(first.database).toEqual({ client: 'sqlite', path: join(dir, 'mai-usage.db') });
    expect(first.billingTimeZone).toBe('Europe/Warsaw');
    expect(first.defaultMarkupRate).toBe('1.3');
    expect(first.generatedSecrets.map((s) => s.name).sort()).toEqual(['ADMIN_TOKEN', 'ENCRYPTION_KEY', 'INGEST_TOKEN']);
    expect(readFileSync(join(dir, '.ingest_token'), 'utf8').trim()).toBe(first.ingestToken);
    expect(statSync(join(dir, '.admin_token')).mode & 0o777).toBe(0o600);
    expect(first.encryptionKey).toHaveLength(32);
    const second = loadConfig(env);
    expect(second.generatedSecrets).toEqual([]);
    expect([second.ingestToken, second.adminToken]).toEqual([first.ingestToken, first.adminToken]);
    expect(second.encryptionKey.equals(first.encryptionKey)).toBe(true);
  });

  it('prefers secrets from the environment and writes no file for them', () => {
    const dir = tempDir();
    const config = loadConfig({
      DATABASE_PATH: join(dir, 'x.db'),
      INGEST_TOKEN: 'i'.repeat(20),
      ADMIN_TOKEN: 'a'.repeat(20),
      ENCRYPTION_KEY: 'ab'.repeat(32),
    });
    expect(config.generatedSecrets).toEqual([]);
    expect(config.ingestToken).toBe('i'.repeat(20));
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const config = loadConfig({ DATABASE_PATH: join(tempDir(), 'x.db'), DATABASE_URL: 'postgres://u@h:5432/db' });
    expect(config.database).toEqual({ client: 'pg', url: 'postgres://u@h:5432/db' });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DEFAULT_MARKUP_RATE', '1,3'],
    ['DEFAULT_MARKUP_RATE', '0'],
    ['BILLING_TIMEZONE', 'Mars/Olympus'],
    ['OPENWEBUI_URL', 'not a url'],
    ['DATABASE_URL', 'mysql://x'],
    ['ENCRYPTION_KEY', 'short'],
    ['INGEST_TOKEN', 'short'],
    ['OPENROUTER_USAGE_SYNC_INTERVAL', '-1'],
    ['LOG_LEVEL', 'loud'],
  ])('rejects %s=%s with one line naming the variable', (name, value) => {
    const load = () => loadConfig({ DATABASE_PATH: join(tempDir(), 'x.db'), [name]: value });
    expect(load).toThrow(ConfigError);
    try {
      load();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(new RegExp(`^Invalid configuration: ${name} `));
      expect(message).not.toContain('\n');
    }
  });
});
