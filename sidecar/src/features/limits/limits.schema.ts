import { z } from 'zod';

export const limitCheckQuery = z.object({ user_id: z.string().min(1, 'must not be empty').max(256) });
