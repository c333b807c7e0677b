import { z } from 'zod';
import { usdToNano } from '../../lib/money.js';

const MAX_TOKENS = 1_000_000_000;
const tokens = z.number().int('must be a whole number').min(0, 'must not be negative').max(MAX_TOKENS);
// Text fields are checked for NUL (which PostgreSQL cannot store in text columns) once per event,
// by refuseNul below: a refinement on each of them cost a quarter of the event's validation.
const text = () => z.string();
const id = text().min(1, 'must not be empty').max(256);

/** A USD amount as the provider sent it (JSON number or decimal text), kept exact as nano-USD. */
const usd = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const nano = usdToNano(value);
  if (nano === undefined || nano < 0n || nano > 1_000_000n * 1_000_000_000n) {
    ctx.addIssue({ code: 'custom', message: 'must be a non-negative USD amount below 1,000,000' });
    return z.NEVER;
  }
  return nano;
});

/** An instant with an explicit offset (ledgerInputOf normalises it to UTC ISO text). */
const instant = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z',
});

// Unknown fields are stripped (ignored), as the contract promises.
const eventFields = z.object({
  event_id: id,
  kind: z.enum(['completion', 'generation_started']),
  occurred_at: instant,
  user: z.object({
    id,
    email: text().max(320).nullish(),
    name: text().max(200).nullish(),
    role: text().max(50).nullish(),
  }),
  model: text().min(1, 'must not be empty').max(256),
  generation_id: id.nullish(),
  chat_id: id.nullish(),
  message_id: id.nullish(),
  channel: z.enum(['ui', 'api']),
  usage: z
    .object({
      input_tokens: tokens,
      output_tokens: tokens,
      cached_tokens: tokens.nullish(),
      reasoning_tokens: tokens.nullish(),
      cost_usd: usd.nullish(),
      is_byok: z.boolean().nullish(),
      upstream_cost_usd: usd.nullish(),
    })
    .optional(),
});

export const ingestEvent = eventFields.superRefine((event, ctx) => {
  refuseNul(event, ctx);
  if (event.kind === 'generation_started' && !event.generation_id) {
    ctx.addIssue({ code: 'custom', path: ['generation_id'], message: 'is required for generation_started' });
  }
  if (event.kind === 'completion' && !event.usage) {
    ctx.addIssue({ code: 'custom', path: ['usage'], message: 'is required for a completion' });
  }
});

/** The event's text fields, each with its path. */
const textFields = (event: z.infer<typeof eventFields>): [string | null | undefined, string[]][] => [
  [event.event_id, ['event_id']],
  [event.model, ['model']],
  [event.generation_id, ['generation_id']],
  [event.chat_id, ['chat_id']],
  [event.message_id, ['message_id']],
  [event.user.id, ['user', 'id']],
  [event.user.email, ['user', 'email']],
  [event.user.name, ['user', 'name']],
  [event.user.role, ['user', 'role']],
];

function refuseNul(event: z.infer<typeof eventFields>, ctx: z.RefinementCtx): void {
  for (const [value, path] of textFields(event)) {
    if (value?.includes('\0')) ctx.addIssue({ code: 'custom', path, message: 'must not contain a NUL character' });
  }
}

export const ingestBody = z.object({
  events: z.array(ingestEvent).min(1, 'must hold at least 1 event').max(500, 'must hold at most 500 events'),
});

export type IngestEvent = z.infer<typeof ingestEvent>;
