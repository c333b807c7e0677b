import { z } from 'zod';
import { parseMarkupRate, usdToNano } from '../../lib/money.js';

const usdAmount = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const nano = usdToNano(value);
  if (nano === undefined || nano < 0n) {
    ctx.addIssue({ code: 'custom', message: 'must be a non-negative amount in USD' });
    return z.NEVER;
  }
  return nano;
});

export const markupRate = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ppm = parseMarkupRate(value);
  if (ppm === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a decimal > 0 and ≤ 1000 with at most 6 decimals, e.g. 1.3' });
    return z.NEVER;
  }
  return ppm;
});

export const monthlyLimit = usdAmount.nullable();

const openRouterKey = z.string().trim().min(20, 'must be an OpenRouter API key (sk-or-v1-…)').max(500).nullable();

const organizationFields = {
  name: z.string().trim().min(1, 'must not be empty').max(200),
  markup_rate: markupRate,
  monthly_limit_usd: monthlyLimit,
  billing_contact_name: z.string().trim().max(200).nullable(),
  billing_contact_email: z.email('must be an email address').nullable(),
  openrouter_api_key: openRouterKey,
  is_active: z.boolean(),
  instance_id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be an instance id such as "default"'),
};

export const createOrganizationBody = z.object({
  ...organizationFields,
  markup_rate: organizationFields.markup_rate.optional(),
  monthly_limit_usd: organizationFields.monthly_limit_usd.optional(),
  billing_contact_name: organizationFields.billing_contact_name.optional(),
  billing_contact_email: organizationFields.billing_contact_email.optional(),
  openrouter_api_key: organizationFields.openrouter_api_key.optional(),
  is_active: organizationFields.is_active.optional(),
  instance_id: organizationFields.instance_id.optional(),
  /** Create the org's own OpenRouter key with the provisioning key (limit = monthly limit). */
  provision_openrouter_key: z.boolean().optional(),
});

export const updateOrganizationBody = z
  .object(organizationFields)
  .partial()
  .refine((body) => Object.keys(body).length > 0, { message: 'body must change at least one field' });

export type CreateOrganizationBody = z.infer<typeof createOrganizationBody>;
export type UpdateOrganizationBody = z.infer<typeof updateOrganizationBody>;
