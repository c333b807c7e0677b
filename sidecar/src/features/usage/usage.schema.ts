import { z } from 'zod';
import { daysBetween, isDay, isMonth } from '../../lib/time.js';

const day = z.string().refine(isDay, { message: 'must be a date YYYY-MM-DD' });
const month = z.string().refine(isMonth, { message: 'must be a month YYYY-MM' });

/** A day range: `from`/`to`, or a `month`; none means the current month. At most 366 days. */
export const periodQuery = z
  .object({ from: day.optional(), to: day.optional(), month: month.optional() })
  .refine((q) => !(q.month && (q.from || q.to)), { message: 'give either month or from/to, not both', path: ['month'] })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'must not be after to', path: ['from'] })
  .refine((q) => !q.from || !q.to || daysBetween(q.from, q.to) <= 366, {
    message: 'range must be at most 366 days',
    path: ['to'],
  });

export const clientQuery = z.object({ client_id: z.string().min(1).max(200).optional() });

export const exportQuery = z.object({
  format: z.enum(['csv', 'json']).default('csv'),
  client_id: z.string().min(1).max(200).optional(),
});

/** The billing statement: JSON by default; CSV in RFC 4180 or the Polish-Excel dialect. */
export const billingQuery = z.object({
  month: month.optional(),
  format: z.enum(['json', 'csv']).default('json'),
  dialect: z.enum(['rfc4180', 'pl']).default('rfc4180'),
});

export const clientIdParam = z.object({ client_id: z.string().min(1).max(200) });

export type PeriodQuery = z.infer<typeof periodQuery>;
