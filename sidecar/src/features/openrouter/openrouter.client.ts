import type { Logger } from 'pino';
import { z } from 'zod';
import { maskKey } from '../../lib/crypto.js';

/**
 * The one OpenRouter client. Timeouts on every call; 429, 5xx and network failures are retried
 * with exponential backoff, honouring Retry-After; 401/402/404 are answered at once. A key is
 * never logged, at most masked (sk-or-v1-abc…xyz).
 */

export class OpenRouterError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

const money = z.union([z.number(), z.string()]).nullish();

const generationSchema = z.object({
  data: z.object({
    id: z.string(),
    total_cost: money,
    created_at: z.string().nullish(),
    model: z.string().nullish(),
    provider_name: z.string().nullish(),
    external_user: z.string().nullish(),
    streamed: z.boolean().nullish(),
    cancelled: z.boolean().nullish(),
    finish_reason: z.string().nullish(),
    tokens_prompt: z.number().nullish(),
    tokens_completion: z.number().nullish(),
    native_tokens_prompt: z.number().nullish(),
    native_tokens_completion: z.number().nullish(),
    native_tokens_cached: z.number().nullish(),
    native_tokens_reasoning: z.number().nullish(),
    is_byok: z.boolean().nullish(),
    upstream_inference_cost: money,
  }),
});
export type Generation = z.infer<typeof generationSchema>['data'];

const keySchema = z.object({
  data: z.object({
    label: z.string().nullish(),
    limit: z.number().nullish(),
    limit_remaining: z.number().nullish(),
    limit_reset: z.string().nullish(),
    usage: money,
    usage_daily: money,
    usage_weekly: money,
    usage_monthly: money,
    is_free_tier: z.boolean().nullish(),
  }),
});
export type KeyInfo = z.infer<typeof keySchema>['data'];

const activitySchema = z.object({
  data: z.array(
    z.object({
      date: z.string(),
      model: z.string(),
      provider_name: z.string().nullish(),
      usage: money,
      requests: z.number(),
      prompt_tokens: z.number().nullish(),
      completion_tokens: z.number().nullish(),
    }),
  ),
});
export type ActivityRow = z.infer<typeof activitySchema>['data'][number];

const modelsSchema = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      pricing: z.object({ prompt: z.string(), completion: z.string() }).partial().nullish(),
    }),
  ),
});
export type ModelPrice = z.infer<typeof modelsSchema>['data'][number];

const provisionedKeySchema = z.object({
  data: z.object({
    hash: z.string(),
    name: z.string().nullish(),
    label: z.string().nullish(),
    disabled: z.boolean().nullish(),
    limit: z.number().nullish(),
  }),
  key: z.string().optional(),
});
export type ProvisionedKey = z.infer<typeof provisionedKeySchema>;

export type OpenRouterClientOptions = {
  apiBase: string;
  logger: Logger;
  timeoutMs?: number;
  maxAttempts?: number;
  /** Base of the exponential backoff; tests make it small. */
  backoffMs?: number;
  /** Longest wait we accept from Retry-After before giving up on this run. */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
};

export type OpenRouterClient = ReturnType<typeof createOpenRouterClient>;

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export function createOpenRouterClient(options: OpenRouterClientOptions) {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxAttempts = options.maxAttempts ?? 4;
  const backoffMs = options.backoffMs ?? 500;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  async function call<T>(
    key: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    schema: z.ZodType<T>,
    body?: unknown,
  ): Promise<T> {
    let lastError: OpenRouterError | null = null;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(`${options.apiBase}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const timedOut = error instanceof Error && error.name === 'TimeoutError';
        lastError = new OpenRouterError(
          0,
          timedOut ? 'timeout' : 'network_error',
          `${method} ${path}: ${timedOut ? `no answer within ${timeoutMs} ms` : String(error)}`,
        );
        options.logger.warn({ path, attempt, key: maskKey(key) }, lastError.message);
        if (attempt < maxAttempts) await sleep(backoffMs * 2 ** (attempt - 1));
        continue;
      }
      if (response.ok) {
        const text = await response.text();
        try {
          return schema.parse(text === '' ? {} : JSON.parse(text));
        } catch {
          throw new OpenRouterError(response.status, 'bad_response', `${method} ${path}: unexpected response shape`);
        }
      }
      const detail = await response.json().catch(() => null);
      const message = (detail as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${response.status}`;
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      lastError = new OpenRouterError(
        response.status,
        codeOf(response.status),
        `OpenRouter ${method} ${path} with key ${maskKey(key)}: HTTP ${response.status} ${message}`,
        retryAfterMs,
      );
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt === maxAttempts) throw lastError;
      const wait = retryAfterMs ?? backoffMs * 2 ** (attempt - 1);
      if (wait > maxRetryAfterMs) throw lastError;
      options.logger.warn({ path, attempt, status: response.status, waitMs: wait }, lastError.message);
      await sleep(wait);
    }
    throw lastError ?? new OpenRouterError(0, 'unknown', `${method} ${path} failed`);
  }

  return {
    /** A generation's cost and tokens; null while OpenRouter does not know it yet (404). */
    async getGeneration(key: string, id: string): Promise<Generation | null> {
      try {
        return (await call(key, 'GET', `/generation?id=${encodeURIComponent(id)}`, generationSchema)).data;
      } catch (error) {
        if (error instanceof OpenRouterError && error.status === 404) return null;
        throw error;
      }
    },
    async getKey(key: string): Promise<KeyInfo> {
      return (await call(key, 'GET', '/key', keySchema)).data;
    },
    async getActivity(provisioningKey: string, filter: { date?: string; apiKeyHash?: string } = {}) {
      const query = new URLSearchParams();
      if (filter.date) query.set('date', filter.date);
      if (filter.apiKeyHash) query.set('api_key_hash', filter.apiKeyHash);
      const suffix = query.size > 0 ? `?${query}` : '';
      return (await call(provisioningKey, 'GET', `/activity${suffix}`, activitySchema)).data;
    },
    async listModels(key: string): Promise<ModelPrice[]> {
      return (await call(key, 'GET', '/models', modelsSchema)).data;
    },
    async createKey(provisioningKey: string, body: { name: string; limit: number | null; limit_reset?: 'monthly' }) {
      return call(provisioningKey, 'POST', '/keys', provisionedKeySchema, body);
    },
    async updateKey(
      provisioningKey: string,
      hash: string,
      body: { name?: string; limit?: number | null; disabled?: boolean },
    ) {
      return call(provisioningKey, 'PATCH', `/keys/${encodeURIComponent(hash)}`, provisionedKeySchema, body);
    },
    async deleteKey(provisioningKey: string, hash: string): Promise<void> {
      await call(provisioningKey, 'DELETE', `/keys/${encodeURIComponent(hash)}`, z.unknown());
    },
  };
}

function codeOf(status: number): string {
  if (status === 401) return 'unauthorized';
  if (status === 402) return 'payment_required';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  return status >= 500 ? 'upstream_error' : 'bad_request';
}
