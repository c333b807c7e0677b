import { z } from 'zod';
import { isMonth } from '../../lib/time.js';

export const listAlertsQuery = z.object({
  month: z.string().refine(isMonth, { message: 'must be a month YYYY-MM' }).optional(),
  client_org_id: z.string().min(1).max(200).optional(),
});
