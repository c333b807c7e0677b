import { z } from 'zod';
import { usdToNano } from '../../lib/money.js';

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

/**
 * The event's shape. Text lengths, NUL characters and token counts are checked once per event
 * by `checkEvent` below, not by a check on each field: zod runs each field's checks as a
 * separate pass that allocates, which made half of what validating an event cost in time and in
 * garbage on the ingest path (bench/README.md).
 * Unknown fields are stripped (ignored), as the contract promises.
 */
const eventFields = z.object({
  event_id: z.string(),
  kind: z.enum(['completion', 'generation_started']),
  occurred_at: instant,
  user: z.object({
    id: z.string(),
    email: z.string().nullish(),
    name: z.string().nullish(),
    role: z.string().nullish(),
  }),
  model: z.string(),
  generation_id: z.string().nullish(),
  chat_id: z.string().nullish(),
  message_id: z.string().nullish(),
  channel: z.enum(['ui', 'api']),
  usage: z
    .object({
      input_tokens: z.number(),
      output_tokens: z.number(),
      cached_tokens: z.number().nullish(),
      reasoning_tokens: z.number().nullish(),
      cost_usd: usd.nullish(),
      is_byok: z.boolean().nullish(),
      upstream_cost_usd: usd.nullish(),
    })
    .optional(),
});

type EventFields = z.infer<typeof eventFields>;
type Field<T> = { path: readonly string[]; read: (event: EventFields) => T | null | undefined };

/**
 * The text fields with their longest length; ids and the model must not be empty. Each is
 * checked for NUL too, which PostgreSQL cannot store in text columns.
 */
const TEXT_FIELDS: (Field<string> & { max: number; nonEmpty?: true })[] = [
  { path: ['event_id'], read: (event) => event.event_id, max: 256, nonEmpty: true },
  { path: ['model'], read: (event) => event.model, max: 256, nonEmpty: true },
  { path: ['generation_id'], read: (event) => event.generation_id, max: 256, nonEmpty: true },
  { path: ['chat_id'], read: (event) => event.chat_id, max: 256, nonEmpty: true },
  { path: ['message_id'], read: (event) => event.message_id, max: 256, nonEmpty: true },
  { path: ['user', 'id'], read: (event) => event.user.id, max: 256, nonEmpty: true },
  { path: ['user', 'email'], read: (event) => event.user.email, max: 320 },
  { path: ['user', 'name'], read: (event) => event.user.name, max: 200 },
  { path: ['user', 'role'], read: (event) => event.user.role, max: 50 },
];

const MAX_TOKENS = 1_000_000_000;
const TOKEN_FIELDS: Field<number>[] = [
  { path: ['usage', 'input_tokens'], read: (event) => event.usage?.input_tokens },
  { path: ['usage', 'output_tokens'], read: (event) => event.usage?.output_tokens },
  { path: ['usage', 'cached_tokens'], read: (event) => event.usage?.cached_tokens },
  { path: ['usage', 'reasoning_tokens'], read: (event) => event.usage?.reasoning_tokens },
];

/** Why a text value is refused, if it is. A field that is absent (nullish) passed the shape. */
function textProblem(value: string, field: (typeof TEXT_FIELDS)[number]): string | null {
  if (field.nonEmpty && value.length === 0) return 'must not be empty';
  if (value.length > field.max) return `must be at most ${field.max} characters`;
  if (value.includes('\0')) return 'must not contain a NUL character';
  return null;
}

function tokenProblem(value: number): string | null {
  if (!Number.isInteger(value)) return 'must be a whole number';
  if (value < 0) return 'must not be negative';
  if (value > MAX_TOKENS) return `must be at most ${MAX_TOKENS}`;
  return null;
}

/** Adds an issue at a path (a copy: zod prefixes the path of an issue in place). */
function addIssue(payload: z.core.ParsePayload<EventFields>, path: readonly string[], message: string): void {
  payload.issues.push({ code: 'custom', path: [...path], message, input: payload.value });
}

/** Every check of an event beyond its shape, in one pass that allocates nothing unless it fails. */
function checkEvent(payload: z.core.ParsePayload<EventFields>): void {
  const event = payload.value;
  for (const field of TEXT_FIELDS) {
    const value = field.read(event);
    const problem = value === null || value === undefined ? null : textProblem(value, field);
    if (problem) addIssue(payload, field.path, problem);
  }
  for (const field of TOKEN_FIELDS) {
    const value = field.read(event);
    const problem = value === null || value === undefined ? null : tokenProblem(value);
    if (problem) addIssue(payload, field.path, problem);
  }
  if (event.kind === 'generation_started' && !event.generation_id) {
    addIssue(payload, ['generation_id'], 'is required for generation_started');
  }
  if (event.kind === 'completion' && !event.usage) {
    addIssue(payload, ['usage'], 'is required for a completion');
  }
}

export const ingestEvent = eventFields.check(checkEvent);

export const ingestBody = z.object({
  events: z.array(ingestEvent).min(1, 'must hold at least 1 event').max(500, 'must hold at most 500 events'),
});

export type IngestEvent = z.infer<typeof ingestEvent>;
