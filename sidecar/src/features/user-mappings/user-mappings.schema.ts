import { z } from 'zod';
import { monthlyLimit } from '../organizations/organizations.schema.js';

export const createUserMappingBody = z.object({
  user_id: z.string().trim().min(1, 'must not be empty').max(200),
  client_org_id: z.string().trim().min(1, 'must not be empty').max(200),
  openrouter_user_id: z.string().trim().min(1).max(200).nullable().optional(),
  user_email: z.string().trim().max(320).nullable().optional(),
  user_name: z.string().trim().max(200).nullable().optional(),
  monthly_limit_usd: monthlyLimit.optional(),
  is_active: z.boolean().optional(),
});

export const listUserMappingsQuery = z.object({
  client_org_id: z.string().min(1).max(200).optional(),
});

export type CreateUserMappingBody = z.infer<typeof createUserMappingBody>;
