import type { Db } from '../../db/dialect.js';
import { intParam, toBool } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';

export type GlobalSettings = {
  provisioningKeyEncrypted: string | null;
  provisioningKeyLabel: string | null;
  defaultMarkupRatePpm: bigint | null;
  billingCurrency: string | null;
  /** The operator lets Open WebUI admins set markup_rate on their instance's orgs. */
  adminMaySetMarkup: boolean;
  updatedAt: string | null;
};

const SINGLETON_ID = 1;

function rowToGlobalSettings(row: Record<string, unknown> | undefined): GlobalSettings {
  return {
    provisioningKeyEncrypted: (row?.openrouter_provisioning_key_encrypted as string | null) ?? null,
    provisioningKeyLabel: (row?.openrouter_provisioning_key_label as string | null) ?? null,
    defaultMarkupRatePpm: row?.default_markup_rate_ppm == null ? null : toBigInt(row.default_markup_rate_ppm),
    billingCurrency: (row?.billing_currency as string | null) ?? null,
    adminMaySetMarkup: toBool(row?.admin_may_set_markup),
    updatedAt: (row?.updated_at as string | null) ?? null,
  };
}

export async function readGlobalSettings(db: Db): Promise<GlobalSettings> {
  return rowToGlobalSettings(await db('global_settings').where({ id: SINGLETON_ID }).first());
}

export async function writeGlobalSettings(
  db: Db,
  changes: Partial<Omit<GlobalSettings, 'updatedAt'>>,
  updatedAt: string,
): Promise<void> {
  const row: Record<string, unknown> = { id: SINGLETON_ID, updated_at: updatedAt };
  if (changes.provisioningKeyEncrypted !== undefined) {
    row.openrouter_provisioning_key_encrypted = changes.provisioningKeyEncrypted;
  }
  if (changes.provisioningKeyLabel !== undefined) row.openrouter_provisioning_key_label = changes.provisioningKeyLabel;
  if (changes.defaultMarkupRatePpm !== undefined) {
    row.default_markup_rate_ppm = changes.defaultMarkupRatePpm === null ? null : intParam(changes.defaultMarkupRatePpm);
  }
  if (changes.billingCurrency !== undefined) row.billing_currency = changes.billingCurrency;
  if (changes.adminMaySetMarkup !== undefined) row.admin_may_set_markup = changes.adminMaySetMarkup;
  const { id: _id, ...update } = row;
  await db('global_settings').insert(row).onConflict('id').merge(update);
}
