import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeOpenRouter, type FakeOpenRouter } from '../../../../test/fakes/openrouter/fake-openrouter.js';
import { OpenRouterError, createOpenRouterClient, parseRetryAfter } from './openrouter.client.js';

const KEY = `sk-or-v1-${'d'.repeat(64)}`;

describe('OpenRouter client against the fake', () => {
  let fake: FakeOpenRouter;
  const waits: number[] = [];
  const client = () =>
    createOpenRouterClient({
      apiBase: fake.apiBase,
      logger: pino({ level: 'silent' }),
      backoffMs: 10,
      sleep: async (ms) => void waits.push(ms),
    });
  beforeAll(async () => {
    fake = await createFakeOpenRouter({ apiKeys: [KEY] });
  });
  afterAll(async () => fake?.close());

  it('retries 5xx with exponential backoff and 429 after Retry-After, then answers', async () => {
    const entry = fake.recordGeneration({ model: 'fake/alpha', apiKey: KEY, promptTokens: 1, completionTokens: 1 });
    fake.injectFault({ path: '/api/v1/generation', status: 502, times: 2 });
    fake.injectFault({ path: '/api/v1/generation', status: 429, times: 1, retryAfterSeconds: 3 });
    waits.length = 0;
    const generation = await client().getGeneration(KEY, entry.id);
    expect(generation?.id).toBe(entry.id);
    expect(waits).toEqual([10, 20, 3000]);
  });

  it('answers null for a generation OpenRouter does not know yet (404), without retrying', async () => {
    waits.length = 0;
    expect(await client().getGeneration(KEY, 'gen-unknown')).toBeNull();
    expect(waits).toEqual([]);
  });

  it('does not retry 401 or 402, and never puts the key in the error', async () => {
    const other = `sk-or-v1-${'e'.repeat(64)}`;
    const error = await client()
      .getKey(other)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenRouterError);
    expect((error as OpenRouterError).status).toBe(401);
    expect((error as OpenRouterError).message).toContain('sk-or-v1-eee…eee');
    expect((error as OpenRouterError).message).not.toContain(other);
    fake.injectFault({ path: '/api/v1/key', status: 402, times: 1, message: 'Insufficient credits' });
    waits.length = 0;
    await expect(client().getKey(KEY)).rejects.toMatchObject({ status: 402, code: 'payment_required' });
    expect(waits).toEqual([]);
  });

  it('gives up on a Retry-After longer than it accepts instead of stalling the run', async () => {
    fake.injectFault({ path: '/api/v1/key', status: 429, times: 1, retryAfterSeconds: 3600 });
    await expect(client().getKey(KEY)).rejects.toMatchObject({ status: 429, retryAfterMs: 3_600_000 });
  });
});

describe('OpenRouter client timeouts', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    // Accepts and never answers.
    server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('times out each attempt and reports a clear error after the last one', async () => {
    const client = createOpenRouterClient({
      apiBase: url,
      logger: pino({ level: 'silent' }),
      timeoutMs: 100,
      maxAttempts: 2,
      sleep: async () => undefined,
    });
    await expect(client.getKey(KEY)).rejects.toMatchObject({
      code: 'timeout',
      message: expect.stringMatching(/no answer within 100 ms/),
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('2015-10-21T07:28:00Z'))).toBe(10_000);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
  });
});
