import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret } from '../../lib/crypto.js';
import { databaseKinds } from '../../test-support/databases.js';
import { createTestApp, type TestApp } from '../../test-support/harness.js';
import type { LedgerInput } from '../ledger/ledger.service.js';
import { updateOrganization } from '../organizations/organizations.store.js';
import { insertSampleData } from './maintenance.sample.js';
import {
  cleanUsage,
  RefusedError,
  repairRollup,
  resetDatabase,
  rotateEncryptionKey,
  verifyRollup,
} from './maintenance.service.js';
import { USAGE_TABLES } from './maintenance.store.js';

const NOW = new Date('2026-03-20T15:00:00Z');

/** A ledger input with neutral defaults (no user, no org, no tokens, no cost); override what a test needs. */
function ledgerInput(fields: Pick<LedgerInput, 'eventId' | 'occurredAt'> & Partial<LedgerInput>): LedgerInput {
  return {
    kind: 'completion',
    source: 'filter',
    user: null,
    clientOrgId: null,
    model: 'acme/model',
    channel: 'api',
    generationId: null,
    chatId: null,
    messageId: null,
    externalUser: null,
    reason: null,
    inputTokens: 0,
    outputTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    providerCostNanoUsd: null,
    upstreamCostNanoUsd: null,
    isByok: false,
    ...fields,
  };
}

async function count(t: TestApp, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const [row] = await t.db(table).where(where).count({ n: '*' });
  return Number(row?.n);
}

describe.each(databaseKinds)('maintenance on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: NOW });
  });
  afterAll(async () => t?.close());

  it('init --sample-data records a month through the ledger, once; verify finds the rollup exact', async () => {
    const sample = {
      db: t.db,
      ledger: t.deps.ledger,
      instanceId: 'default',
      billingTimeZone: 'Europe/Warsaw',
      now: NOW,
    };
    const first = await insertSampleData(sample);
    expect(first).toMatchObject({ orgs: 2, users: 8, from: '2026-02-19', to: '2026-03-20', duplicates: 0 });
    expect(first.recorded).toBeGreaterThan(500);
    expect(await count(t, 'usage_events')).toBe(first.recorded);
    const again = await insertSampleData(sample);
    expect(again).toMatchObject({ recorded: 0, duplicates: first.recorded });

    const verified = await verifyRollup(t.db);
    expect(verified.differences).toEqual([]);
    expect(verified.events).toBe(first.recorded);
    expect(verified.rowsChecked).toBe(await count(t, 'usage_daily'));
  });

  it('verify counts usage waiting in the ledger backlog, and none once it is rolled up', async () => {
    expect((await verifyRollup(t.db)).backlog).toBe(0);
    t.deps.ledger.setSchemaCurrent(false); // as while migrations are behind
    const [status] = await t.deps.ledger.record([
      ledgerInput({
        eventId: 'gen-backlogged-1',
        occurredAt: NOW.toISOString(),
        user: { id: 'backlog-user', email: null, name: null },
        generationId: 'gen-backlogged-1',
        inputTokens: 10,
        outputTokens: 5,
        providerCostNanoUsd: 1_000n,
      }),
    ]);
    expect(status).toBe('recorded');
    const waiting = await verifyRollup(t.db);
    expect(waiting.backlog).toBe(1);
    expect(waiting.differences).toEqual([]);
    expect(await t.deps.ledger.rollUpBacklog()).toBe(1);
    const after = await verifyRollup(t.db);
    expect(after).toMatchObject({ backlog: 0, differences: [], events: waiting.events + 1 });
  });

  it('verify reports a rollup row that drifted, one missing and one with no events', async () => {
    const [a, b] = await t.db('usage_daily').orderBy(['usage_day', 'user_id', 'model']).limit(2);
    await t
      .db('usage_daily')
      .where(key(a))
      .update({ billed_cost_nano_usd: t.db.raw('billed_cost_nano_usd + 1') });
    await t.db('usage_daily').where(key(b)).delete();
    await t.db('usage_daily').insert({
      ...key(a),
      model: 'ghost/model',
      requests: 3,
      input_tokens: 0,
      output_tokens: 0,
      cached_tokens: 0,
      reasoning_tokens: 0,
      raw_cost_nano_usd: 0,
      billed_cost_nano_usd: 0,
      pending_cost_requests: 0,
      updated_at: NOW.toISOString(),
    });
    const { differences } = await verifyRollup(t.db);
    expect(differences).toHaveLength(3);
    const drifted = differences.find((d) => d.key.model === a.model && d.key.userId === a.user_id && d.stored);
    expect(drifted!.stored!.billedCostNanoUsd - drifted!.expected!.billedCostNanoUsd).toBe(1n);
    expect(differences.find((d) => d.stored === null)?.key).toMatchObject({ userId: b.user_id, model: b.model });
    expect(differences.find((d) => d.expected === null)?.key.model).toBe('ghost/model');
  });

  it('verify --repair rewrites exactly the differing rollup rows from the ledger, audited', async () => {
    const before = await verifyRollup(t.db);
    expect(before.differences).toHaveLength(3); // left by the test above
    const events = await count(t, 'usage_events');
    const audits = await count(t, 'audit_log', { action: 'rollup.repair' });
    // Usage arriving during the repair waits for it and is counted on top of the repaired rows.
    const [repaired, [late]] = await Promise.all([
      repairRollup(t.db, NOW.toISOString()),
      t.deps.ledger.record([
        ledgerInput({
          eventId: 'gen-during-repair',
          occurredAt: NOW.toISOString(),
          user: { id: 'repair-user', email: null, name: null },
          generationId: 'gen-during-repair',
          inputTokens: 7,
          outputTokens: 3,
          providerCostNanoUsd: 2_000n,
        }),
      ]),
    ]);
    expect(late).toBe('recorded');
    expect(repaired.differences.map((d) => d.key)).toEqual(before.differences.map((d) => d.key));
    const after = await verifyRollup(t.db);
    expect(after.differences).toEqual([]);
    expect(after.events).toBe(events + 1); // the ledger itself is untouched, plus the late event
    expect(await count(t, 'usage_daily', { model: 'ghost/model' })).toBe(0);
    expect(await count(t, 'audit_log', { action: 'rollup.repair' })).toBe(audits + 1);
    // Nothing to repair: no rows written, no audit entry.
    expect((await repairRollup(t.db, NOW.toISOString())).differences).toEqual([]);
    expect(await count(t, 'audit_log', { action: 'rollup.repair' })).toBe(audits + 1);
  });

  it('sample data is refused once the ledger holds real events', async () => {
    await t.deps.ledger.record([
      ledgerInput({
        eventId: 'gen-real-1',
        occurredAt: '2026-03-20T10:00:00Z',
        user: { id: 'real-user', email: null, name: null },
        model: 'openai/gpt-4o',
        channel: 'ui',
        inputTokens: 1,
        outputTokens: 1,
        providerCostNanoUsd: 5n,
      }),
    ]);
    await expect(
      insertSampleData({
        db: t.db,
        ledger: t.deps.ledger,
        instanceId: 'default',
        billingTimeZone: 'Europe/Warsaw',
        now: NOW,
      }),
    ).rejects.toThrow(RefusedError);
  });

  it("clean-usage deletes this instance's usage, keeps configuration and other instances, and is audited", async () => {
    const at = NOW.toISOString();
    await t.db('client_organizations').insert({
      id: 'org_other_tenant',
      instance_id: 'other',
      name: 'Other tenant',
      is_default: false,
      active: true,
      markup_rate_ppm: '1300000',
      created_at: at,
      updated_at: at,
    });
    await t.deps.ledger.record([
      ledgerInput({
        eventId: 'gen-other-1',
        source: 'manual',
        occurredAt: '2026-03-19T10:00:00Z',
        clientOrgId: 'org_other_tenant',
        model: 'openai/gpt-4o',
        channel: 'manual',
        reason: 'test',
        providerCostNanoUsd: 1000n,
      }),
    ]);
    const orgs = await count(t, 'client_organizations');
    const mappings = await count(t, 'user_client_mappings');

    const result = await cleanUsage(t.db, { instanceId: 'default', at });
    expect(result.orgs).toBe(3); // the two sample orgs and the default org
    expect(result.deleted.usage_events).toBeGreaterThan(500);
    for (const table of USAGE_TABLES) expect(Object.keys(result.deleted)).toContain(table);
    expect(await t.db('usage_events').pluck('event_id')).toEqual(['gen-other-1']);
    expect(await count(t, 'usage_daily')).toBe(1);
    expect(await count(t, 'client_organizations')).toBe(orgs);
    expect(await count(t, 'user_client_mappings')).toBe(mappings);
    expect(await t.db('audit_log').where({ action: 'usage.clean' }).first()).toMatchObject({
      actor: 'cli',
      target_id: 'default',
    });
    expect((await verifyRollup(t.db)).differences).toEqual([]);
  });

  it('rotate-encryption-key re-encrypts every org key and the provisioning key, all or nothing', async () => {
    const oldKey = t.config.encryptionKey;
    const newKey = Buffer.alloc(32, 7);
    const at = NOW.toISOString();
    await updateOrganization(t.db, 'org_sample_kowalski', {
      openRouterKeyEncrypted: encryptSecret('sk-or-v1-kowalski', oldKey),
    });
    await updateOrganization(t.db, 'org_other_tenant', {
      openRouterKeyEncrypted: encryptSecret('sk-or-v1-other', oldKey),
    });
    await t
      .db('global_settings')
      .insert({ id: 1, openrouter_provisioning_key_encrypted: encryptSecret('sk-or-v1-prov', oldKey), updated_at: at })
      .onConflict('id')
      .merge(['openrouter_provisioning_key_encrypted']);

    await expect(rotateEncryptionKey(t.db, { oldKey: Buffer.alloc(32, 9), newKey, at })).rejects.toThrow(
      /cannot be decrypted/,
    );
    const stored = async (id: string) =>
      (await t.db('client_organizations').where({ id }).first()).openrouter_key_encrypted as string;
    expect(decryptSecret(await stored('org_sample_kowalski'), oldKey)).toBe('sk-or-v1-kowalski');

    expect(await rotateEncryptionKey(t.db, { oldKey, newKey, at })).toEqual({ orgKeys: 2, provisioningKeys: 1 });
    expect(decryptSecret(await stored('org_sample_kowalski'), newKey)).toBe('sk-or-v1-kowalski');
    expect(decryptSecret(await stored('org_other_tenant'), newKey)).toBe('sk-or-v1-other');
    const rotated = await stored('org_sample_kowalski');
    expect(() => decryptSecret(rotated, oldKey)).toThrow();
    const settings = await t.db('global_settings').where({ id: 1 }).first();
    expect(decryptSecret(settings.openrouter_provisioning_key_encrypted, newKey)).toBe('sk-or-v1-prov');
    expect(await count(t, 'audit_log', { action: 'encryption_key.rotate' })).toBe(1);
    await expect(rotateEncryptionKey(t.db, { oldKey: newKey, newKey, at })).rejects.toThrow(RefusedError);
  });

  it('reset is refused while other instances share the database, then empties it', async () => {
    const at = NOW.toISOString();
    await expect(resetDatabase(t.db, { instanceId: 'default', allInstances: false, at })).rejects.toThrow(/other/);
    expect(await count(t, 'client_organizations')).toBeGreaterThan(0);
    await resetDatabase(t.db, { instanceId: 'default', allInstances: true, at });
    for (const table of [...USAGE_TABLES, 'client_organizations', 'user_client_mappings', 'global_settings']) {
      expect(await count(t, table), table).toBe(0);
    }
    expect(await t.db('audit_log').pluck('action')).toEqual(['database.reset']);
    const [, pending] = await t.db.migrate.list();
    expect(pending).toEqual([]);
  });
});

function key(row: Record<string, unknown>) {
  return { client_org_id: row.client_org_id, usage_day: row.usage_day, user_id: row.user_id, model: row.model };
}
