import { z } from 'zod';
import { usdToNano } from '../../lib/money.js';

const tokens = z.number().int('must be a whole number').min(-1_000_000_000).max(1_000_000_000);
const id = z.string().trim().min(1, 'must not be empty').max(256);

/** A signed USD amount: corrections may take cost away. */
const signedUsd = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const nano = usdToNano(value);
  if (nano === undefined || nano > 1_000_000n * 1_000_000_000n || nano < -1_000_000n * 1_000_000_000n) {
    ctx.addIssue({ code: 'custom', message: 'must be a USD amount between -1,000,000 and 1,000,000' });
    return z.NEVER;
  }
  return nano;
});

const instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 date-time with a time zone' })
  .transform((value) => new Date(value).toISOString());

/** The seeds' manual record {model, tokens, cost}, plus what a correction needs: a reason. */
export const manualRecordBody = z.object({
  model: z.string().trim().min(1, 'must not be empty').max(256),
  tokens: tokens.optional(),
  input_tokens: tokens.optional(),
  output_tokens: tokens.optional(),
  cost: signedUsd,
  reason: z
    .string({ error: 'is required: say why this correction is made' })
    .trim()
    .min(3, 'is required: say why this correction is made')
    .max(1000),
  client_org_id: id.optional(),
  user_id: id.optional(),
  occurred_at: instant.optional(),
  event_id: id.optional(),
});

/** The seeds' webhook body; `generation_id` (when sent) makes it the same event as the filter's. */
export const webhookBody = z
  .object({
    api_key: z.string().min(1, 'must not be empty').max(500),
    model: z.string().trim().min(1, 'must not be empty').max(256),
    tokens_used: z.number().int().min(0).max(1_000_000_000).optional(),
    prompt_tokens: z.number().int().min(0).max(1_000_000_000).optional(),
    completion_tokens: z.number().int().min(0).max(1_000_000_000).optional(),
    cost: signedUsd.refine((nano) => nano >= 0n, { message: 'must not be negative' }),
    timestamp: instant,
    external_user: z.string().max(256).nullish(),
    generation_id: id.nullish(),
  })
  .superRefine((body, ctx) => {
    // The split of tokens_used is derived from the parts given; a part above the total would go negative.
    if (body.tokens_used === undefined) return;
    for (const part of ['prompt_tokens', 'completion_tokens'] as const) {
      if ((body[part] ?? 0) > body.tokens_used) {
        ctx.addIssue({ code: 'custom', path: [part], message: 'must not exceed tokens_used' });
      }
    }
  });

export const clientOrgIdParam = z.object({ client_org_id: z.string().min(1).max(200) });

export type ManualRecordBody = z.infer<typeof manualRecordBody>;
export type WebhookBody = z.infer<typeof webhookBody>;
