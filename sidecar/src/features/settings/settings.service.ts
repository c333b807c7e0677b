import type { Knex } from 'knex';
import type { Config } from '../../config.js';
import type { Principal } from '../../http/auth.js';
import { decryptSecret, encryptSecret, maskKey } from '../../lib/crypto.js';
import { formatMarkupRate, parseMarkupRate } from '../../lib/money.js';
import { actorOf, recordAudit } from '../audit/audit.store.js';
import { readGlobalSettings, writeGlobalSettings } from './settings.store.js';
import type { UpdateSettingsBody } from './settings.schema.js';

const CACHE_MS = 30_000;

export type Settings = {
  /** The markup new orgs and the default org get: the database's value, else DEFAULT_MARKUP_RATE. */
  defaultMarkupRatePpm(): Promise<bigint>;
  /** The OpenRouter management key in force: OPENROUTER_PROVISIONING_KEY, else the stored one. */
  provisioningKey(): Promise<string | undefined>;
  view(principal: Principal): Promise<Record<string, unknown>>;
  update(principal: Principal, body: UpdateSettingsBody, requestId: string | null): Promise<void>;
};

export function createSettings(deps: { db: Knex; config: Config; now: () => Date }): Settings {
  const envMarkup = parseMarkupRate(deps.config.defaultMarkupRate)!;
  // Cached briefly: ingest asks for it whenever it creates a default org.
  let cached: { ppm: bigint; until: number } | null = null;

  async function defaultMarkupRatePpm(): Promise<bigint> {
    const at = deps.now().getTime();
    if (cached && cached.until > at) return cached.ppm;
    const stored = await readGlobalSettings(deps.db);
    cached = { ppm: stored.defaultMarkupRatePpm ?? envMarkup, until: at + CACHE_MS };
    return cached.ppm;
  }

  return {
    defaultMarkupRatePpm,

    async provisioningKey() {
      if (deps.config.openRouter.provisioningKey) return deps.config.openRouter.provisioningKey;
      const stored = await readGlobalSettings(deps.db);
      return stored.provisioningKeyEncrypted === null
        ? undefined
        : decryptSecret(stored.provisioningKeyEncrypted, deps.config.encryptionKey);
    },

    async view(principal) {
      const stored = await readGlobalSettings(deps.db);
      const fromEnv = deps.config.openRouter.provisioningKey;
      const provisioningKey = {
        configured: fromEnv !== undefined || stored.provisioningKeyEncrypted !== null,
        source: fromEnv !== undefined ? 'environment' : stored.provisioningKeyEncrypted ? 'database' : null,
        label: fromEnv !== undefined ? maskKey(fromEnv) : stored.provisioningKeyLabel,
      };
      return {
        billing_currency: stored.billingCurrency ?? deps.config.billingCurrency,
        billing_timezone: deps.config.billingTimeZone,
        instance_id: deps.config.instanceId,
        openrouter_usage_sync_interval: deps.config.openRouter.syncIntervalSeconds,
        openrouter_usage_sync_days_back: deps.config.openRouter.syncDaysBack,
        admin_may_set_markup: stored.adminMaySetMarkup,
        ...(principal.kind === 'operator'
          ? {
              default_markup_rate: Number(formatMarkupRate(await defaultMarkupRatePpm())),
              openrouter_provisioning_key: provisioningKey,
            }
          : {}),
        updated_at: stored.updatedAt,
      };
    },

    async update(principal, body, requestId) {
      const at = deps.now().toISOString();
      const key = body.openrouter_provisioning_key;
      await deps.db.transaction(async (tx) => {
        await writeGlobalSettings(
          tx,
          {
            defaultMarkupRatePpm: body.default_markup_rate,
            billingCurrency: body.billing_currency,
            adminMaySetMarkup: body.admin_may_set_markup,
            ...(key === undefined
              ? {}
              : {
                  provisioningKeyEncrypted: key === null ? null : encryptSecret(key, deps.config.encryptionKey),
                  provisioningKeyLabel: key === null ? null : maskKey(key),
                }),
          },
          at,
        );
        await recordAudit(
          tx,
          {
            actor: actorOf(principal),
            action: 'settings.update',
            targetType: 'global_settings',
            targetId: null,
            details: {
              default_markup_rate:
                body.default_markup_rate === undefined ? undefined : formatMarkupRate(body.default_markup_rate),
              billing_currency: body.billing_currency,
              admin_may_set_markup: body.admin_may_set_markup,
              openrouter_provisioning_key: key === undefined ? undefined : key === null ? null : maskKey(key),
            },
            requestId,
          },
          at,
        );
      });
      cached = null;
    },
  };
}
