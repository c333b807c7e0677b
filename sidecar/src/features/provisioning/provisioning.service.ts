import { AppError } from '../../http/errors.js';
import { encryptSecret, maskKey, sha256Hex } from '../../lib/crypto.js';
import { NANO_PER_USD, PPM } from '../../lib/money.js';
import type { Organization } from '../organizations/organizations.store.js';
import { OpenRouterError, type OpenRouterClient } from '../openrouter/openrouter.client.js';

/**
 * Per-org OpenRouter keys made with the management ("provisioning") key. The key's limit is a
 * backstop at OpenRouter for the org's monthly limit: the org limit is in billed USD, OpenRouter
 * counts raw USD, so the key gets limit ÷ markup, rounded up to the cent.
 */

export type Provisioning = {
  client: OpenRouterClient;
  /** The management key in force (environment, else settings), or undefined. */
  key(): Promise<string | undefined>;
  encryptionKey: Buffer;
};

export type KeyFields = Pick<
  Organization,
  'openRouterKeyEncrypted' | 'openRouterKeySha256' | 'openRouterKeyLabel' | 'openRouterKeyHash'
>;

/** Raw-USD key limit for a billed-USD org limit, in whole cents rounded up. */
export function keyLimitUsd(org: Pick<Organization, 'monthlyLimitNanoUsd' | 'markupRatePpm'>): number | null {
  if (org.monthlyLimitNanoUsd === null) return null;
  const centNano = NANO_PER_USD / 100n;
  const rawNano = (org.monthlyLimitNanoUsd * PPM + org.markupRatePpm - 1n) / org.markupRatePpm;
  const cents = (rawNano + centNano - 1n) / centNano;
  return Number(cents) / 100;
}

async function requireKey(provisioning: Provisioning): Promise<string> {
  const key = await provisioning.key();
  if (!key) {
    throw new AppError(
      409,
      'provisioning_not_configured',
      'no OpenRouter provisioning key: set OPENROUTER_PROVISIONING_KEY or POST settings {openrouter_provisioning_key}',
    );
  }
  return key;
}

function upstream(error: unknown): never {
  if (error instanceof OpenRouterError) {
    throw new AppError(502, 'openrouter_error', error.message);
  }
  throw error;
}

/** Creates the org's own key with its monthly limit (reset monthly); returns the fields to store. */
export async function provisionKey(
  provisioning: Provisioning,
  org: Pick<Organization, 'id' | 'name' | 'monthlyLimitNanoUsd' | 'markupRatePpm'>,
): Promise<KeyFields> {
  const managementKey = await requireKey(provisioning);
  const created = await provisioning.client
    .createKey(managementKey, {
      name: `mai-usage ${org.name} (${org.id})`,
      limit: keyLimitUsd(org),
      limit_reset: 'monthly',
    })
    .catch(upstream);
  if (!created.key) throw new AppError(502, 'openrouter_error', 'OpenRouter created a key but did not return it');
  return {
    openRouterKeyEncrypted: encryptSecret(created.key, provisioning.encryptionKey),
    openRouterKeySha256: sha256Hex(created.key),
    openRouterKeyLabel: maskKey(created.key),
    openRouterKeyHash: created.data.hash,
  };
}

/** Keeps a provisioned key in step with its org: limit and enabled state. */
export async function updateProvisionedKey(
  provisioning: Provisioning,
  org: Pick<Organization, 'openRouterKeyHash' | 'monthlyLimitNanoUsd' | 'markupRatePpm' | 'active'>,
): Promise<void> {
  if (!org.openRouterKeyHash) return;
  const managementKey = await requireKey(provisioning);
  await provisioning.client
    .updateKey(managementKey, org.openRouterKeyHash, { limit: keyLimitUsd(org), disabled: !org.active })
    .catch(upstream);
}

/** Retires an old provisioned key after rotation. */
export async function deleteProvisionedKey(provisioning: Provisioning, hash: string): Promise<void> {
  const managementKey = await requireKey(provisioning);
  await provisioning.client.deleteKey(managementKey, hash).catch(upstream);
}
