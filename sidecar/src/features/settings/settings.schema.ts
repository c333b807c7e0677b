import { z } from 'zod';
import { markupRate } from '../organizations/organizations.schema.js';

export const updateSettingsBody = z
  .object({
    default_markup_rate: markupRate,
    billing_currency: z.enum(['USD']),
    admin_may_set_markup: z.boolean(),
    openrouter_provisioning_key: z.string().trim().min(20, 'must be an OpenRouter key').max(500).nullable(),
  })
  .partial()
  .refine((body) => Object.keys(body).length > 0, { message: 'body must change at least one setting' });

export type UpdateSettingsBody = z.infer<typeof updateSettingsBody>;
