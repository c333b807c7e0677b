import type { Knex } from 'knex';
import { DateTime } from 'luxon';
import { parseMarkupRate, usdToNano } from '../../lib/money.js';
import { addDays, today } from '../../lib/time.js';
import type { Ledger, LedgerInput } from '../ledger/ledger.service.js';
import { insertOrganizationIfMissing } from '../organizations/organizations.store.js';
import { insertUserMappingsIfMissing } from '../user-mappings/user-mappings.store.js';
import { RefusedError } from './maintenance.service.js';

/**
 * `mai-usage init --sample-data`: a realistic month for two sample orgs, recorded through the
 * ledger like real usage (so the rollup, limits and reports see it the same way). Event ids are
 * per user, day and request, so running it again records only days not yet covered.
 */

const SAMPLE_PREFIX = 'sample-';

const models = [
  { id: 'openai/gpt-4o-mini', inputPerM: '0.15', outputPerM: '0.6', weight: 5 },
  { id: 'anthropic/claude-3.5-sonnet', inputPerM: '3', outputPerM: '15', weight: 2 },
  { id: 'deepseek/deepseek-chat', inputPerM: '0.27', outputPerM: '1.1', weight: 3 },
  { id: 'google/gemini-flash-1.5', inputPerM: '0.075', outputPerM: '0.3', weight: 2 },
  { id: 'openai/gpt-4o', inputPerM: '2.5', outputPerM: '10', weight: 1 },
];

const orgs = [
  {
    id: 'org_sample_kowalski',
    name: 'Kowalski & Partners (sample)',
    markup: '1.3',
    limitUsd: '150',
    users: ['Anna Kowalska', 'Piotr Wiśniewski', 'Katarzyna Wójcik', 'Tomasz Kamiński', 'Magdalena Lewandowska'],
  },
  {
    id: 'org_sample_nowak',
    name: 'Nowak Logistics (sample)',
    markup: '1.25',
    limitUsd: null,
    users: ['Jan Nowak', 'Ewa Zielińska', 'Michał Szymański'],
  },
];

/** mulberry32: a small seeded generator, so the sample is the same every time. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function slug(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[^\w\s]/g, '')
    .toLowerCase()
    .replace(/\s+/g, '.');
}

export type SampleResult = {
  orgs: number;
  users: number;
  from: string;
  to: string;
  recorded: number;
  duplicates: number;
};

export async function insertSampleData(deps: {
  db: Knex;
  ledger: Ledger;
  instanceId: string;
  billingTimeZone: string;
  now: Date;
  days?: number;
}): Promise<SampleResult> {
  const real = (await deps
    .db('usage_events')
    .whereNot('event_id', 'like', `${SAMPLE_PREFIX}%`)
    .count({ n: '*' })
    .first()) as { n: unknown } | undefined;
  if (Number(real?.n ?? 0) > 0) {
    throw new RefusedError(
      `the ledger already holds ${Number(real?.n)} real events; sample data would appear in their billing — ` +
        'load it into a fresh database (DATABASE_PATH=… mai-usage init --sample-data)',
    );
  }
  const at = deps.now.toISOString();
  const users: { id: string; email: string; name: string; orgId: string; activity: number }[] = [];
  const random = seeded(20_261_123);
  for (const org of orgs) {
    await insertOrganizationIfMissing(deps.db, {
      id: org.id,
      instanceId: deps.instanceId,
      name: org.name,
      isDefault: false,
      active: true,
      markupRatePpm: parseMarkupRate(org.markup)!,
      monthlyLimitNanoUsd: org.limitUsd === null ? null : usdToNano(org.limitUsd)!,
      billingContactName: org.users[0]!,
      billingContactEmail: `${slug(org.users[0]!)}@${org.id.slice(11)}.example`,
      openRouterKeyEncrypted: null,
      openRouterKeySha256: null,
      openRouterKeyLabel: null,
      openRouterKeyHash: null,
      createdAt: at,
      updatedAt: at,
    });
    for (const name of org.users) {
      users.push({
        id: `${SAMPLE_PREFIX}${slug(name)}`,
        email: `${slug(name)}@${org.id.slice(11)}.example`,
        name,
        orgId: org.id,
        activity: 0.3 + random() * 1.7,
      });
    }
  }
  await insertUserMappingsIfMissing(
    deps.db,
    users.map((user) => ({
      instanceId: deps.instanceId,
      userId: user.id,
      clientOrgId: user.orgId,
      openRouterUserId: user.id,
      userEmail: user.email,
      userName: user.name,
      active: true,
      monthlyLimitNanoUsd: null,
      source: 'manual' as const,
      createdAt: at,
      updatedAt: at,
    })),
  );

  const days = deps.days ?? 30;
  const to = today(deps.billingTimeZone, deps.now);
  const from = addDays(to, -(days - 1));
  const totalWeight = models.reduce((sum, model) => sum + model.weight, 0);
  const pickModel = () => {
    let roll = random() * totalWeight;
    for (const model of models) if ((roll -= model.weight) < 0) return model;
    return models[0]!;
  };
  const inputs: LedgerInput[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    const date = DateTime.fromISO(day, { zone: deps.billingTimeZone });
    const busy = date.weekday >= 6 ? 0.15 : 1;
    for (const user of users) {
      const requests = Math.floor(random() * 14 * user.activity * busy);
      for (let i = 0; i < requests; i += 1) {
        const occurred = date.set({ hour: 8, minute: 0 }).plus({ minutes: Math.floor(random() * 600) });
        if (occurred.toMillis() > deps.now.getTime()) continue;
        const model = pickModel();
        const inputTokens = 150 + Math.floor(random() * random() * 6_000);
        const outputTokens = 40 + Math.floor(random() * 1_200);
        // Per-token prices in nano-USD: price per million tokens × 1000.
        const costNano =
          (BigInt(inputTokens) * usdToNano(model.inputPerM)! + BigInt(outputTokens) * usdToNano(model.outputPerM)!) /
          1_000_000n;
        const id = `${day}-${user.id.slice(SAMPLE_PREFIX.length)}-${i}`;
        inputs.push({
          kind: 'completion',
          eventId: `${SAMPLE_PREFIX}${id}`,
          source: 'filter',
          occurredAt: occurred.toUTC().toISO({ suppressMilliseconds: true })!,
          user: { id: user.id, email: user.email, name: user.name },
          clientOrgId: null,
          model: model.id,
          channel: random() < 0.9 ? 'ui' : 'api',
          generationId: null,
          chatId: `${SAMPLE_PREFIX}chat-${user.id}-${day}`,
          messageId: `${SAMPLE_PREFIX}msg-${id}`,
          externalUser: user.id,
          reason: null,
          inputTokens,
          outputTokens,
          cachedTokens: random() < 0.2 ? Math.floor(inputTokens / 2) : 0,
          reasoningTokens: 0,
          providerCostNanoUsd: costNano,
          upstreamCostNanoUsd: null,
          isByok: false,
        });
      }
    }
  }
  // A correction, as an operator would enter one: a credit for a failed batch job.
  inputs.push({
    kind: 'completion',
    eventId: `${SAMPLE_PREFIX}correction-1`,
    source: 'manual',
    occurredAt: DateTime.fromISO(addDays(to, -3), { zone: deps.billingTimeZone }).set({ hour: 12 }).toUTC().toISO()!,
    user: null,
    clientOrgId: orgs[1]!.id,
    model: 'openai/gpt-4o',
    channel: 'manual',
    generationId: null,
    chatId: null,
    messageId: null,
    externalUser: null,
    reason: 'sample: credit for a failed batch job',
    inputTokens: 0,
    outputTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    providerCostNanoUsd: -usdToNano('0.5')!,
    upstreamCostNanoUsd: null,
    isByok: false,
  });

  let recorded = 0;
  let duplicates = 0;
  for (let i = 0; i < inputs.length; i += 500) {
    for (const status of await deps.ledger.record(inputs.slice(i, i + 500))) {
      if (status === 'recorded') recorded += 1;
      else duplicates += 1;
    }
  }
  return { orgs: orgs.length, users: users.length, from, to, recorded, duplicates };
}
