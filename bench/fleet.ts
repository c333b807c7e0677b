/**
 * The synthetic customer base the benchmark bills: 20 orgs × 20 users, 30 models, and events
 * shaped like the filter's (DESIGN §3). Deterministic (seeded) so runs are comparable.
 */

export const ORGS = 20;
export const USERS_PER_ORG = 20;

export const MODELS = [
  'openai/gpt-4o-mini',
  'openai/gpt-4o',
  'openai/gpt-4.1',
  'openai/gpt-4.1-mini',
  'openai/gpt-4.1-nano',
  'openai/o3-mini',
  'openai/o4-mini',
  'openai/gpt-5',
  'openai/gpt-5-mini',
  'anthropic/claude-3.5-haiku',
  'anthropic/claude-3.7-sonnet',
  'anthropic/claude-sonnet-4',
  'anthropic/claude-opus-4',
  'google/gemini-2.0-flash-001',
  'google/gemini-2.5-flash',
  'google/gemini-2.5-pro',
  'google/gemma-3-27b-it',
  'meta-llama/llama-3.3-70b-instruct',
  'meta-llama/llama-4-maverick',
  'meta-llama/llama-4-scout',
  'mistralai/mistral-large-2411',
  'mistralai/mistral-small-3.1-24b-instruct',
  'mistralai/codestral-2501',
  'deepseek/deepseek-chat-v3-0324',
  'deepseek/deepseek-r1',
  'qwen/qwen-2.5-72b-instruct',
  'qwen/qwen3-235b-a22b',
  'x-ai/grok-3-mini',
  'cohere/command-r-plus-08-2024',
  'perplexity/sonar',
] as const;

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type BenchUser = { id: string; email: string; name: string; org: number; favourites: string[] };

export function makeUsers(): BenchUser[] {
  const random = rng(7);
  const users: BenchUser[] = [];
  for (let org = 0; org < ORGS; org++) {
    for (let u = 0; u < USERS_PER_ORG; u++) {
      const id = `bench-user-${String(org).padStart(2, '0')}-${String(u).padStart(2, '0')}`;
      // Real users stick to a few models; the long tail still reaches all 30.
      const favourites = Array.from({ length: 4 }, () => MODELS[Math.floor(random() * MODELS.length)]!);
      users.push({ id, email: `${id}@org${org}.example`, name: `User ${org}/${u}`, org, favourites });
    }
  }
  return users;
}

/** USD per million input / output tokens, per model (made up, in the right range). */
const PRICES = MODELS.map((_, i) => [0.1 + ((i * 37) % 30) / 10, 0.4 + ((i * 53) % 60) / 5] as const);

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export type EventFactory = (atMs: number) => Record<string, unknown>;

/**
 * Builds completion events like the filter sends. Ids look like OpenRouter's
 * (`gen-<unix seconds>-<random>`), so they arrive in roughly increasing order, as in production.
 */
export function eventFactory(users: BenchUser[], seed: number, tag: string): EventFactory {
  const random = rng(seed);
  let seq = 0;
  return (atMs) => {
    seq++;
    const user = users[Math.floor(random() * users.length)]!;
    const modelIndex =
      random() < 0.9
        ? MODELS.indexOf(user.favourites[Math.floor(random() * user.favourites.length)] as (typeof MODELS)[number])
        : Math.floor(random() * MODELS.length);
    const model = MODELS[modelIndex]!;
    const [inPrice, outPrice] = PRICES[modelIndex]!;
    const input = 50 + Math.floor(random() * 4000);
    const output = 20 + Math.floor(random() * 1500);
    const cached = random() < 0.3 ? Math.floor(input / 2) : 0;
    let suffix = '';
    for (let i = 0; i < 12; i++) suffix += ID_ALPHABET[Math.floor(random() * ID_ALPHABET.length)];
    const id = `gen-${Math.floor(atMs / 1000)}-${suffix}${tag}${seq.toString(36)}`;
    return {
      event_id: id,
      kind: 'completion',
      occurred_at: new Date(atMs).toISOString(),
      user: { id: user.id, email: user.email, name: user.name, role: 'user' },
      model,
      generation_id: id,
      chat_id: `chat-${user.id}-${seq % 97}`,
      message_id: `msg-${seq.toString(36)}${tag}`,
      channel: random() < 0.85 ? 'ui' : 'api',
      usage: {
        input_tokens: input,
        output_tokens: output,
        cached_tokens: cached,
        reasoning_tokens: 0,
        cost_usd: Number(((input * inPrice + output * outPrice) / 1e6).toFixed(9)),
      },
    };
  };
}

/**
 * Request bodies of `perRequest` events, written before a load test starts and sent from a pool
 * of `size`. The load generator shares the machine's two cores with the sidecar; writing each
 * request's events as JSON while it sent them cost it 5–7 µs per event, taken from the sidecar's
 * share. Each id gets the second it is sent in and the request's number (`gen-<s>-<n>-<random>`),
 * so ids never repeat and keep rising as OpenRouter's do; the events' times are those of the
 * pool's making, seconds before they are sent.
 */
export function bodyPool(users: BenchUser[], seed: number, tag: string, perRequest: number, size = 64): () => string {
  const make = eventFactory(users, seed, tag);
  const templates = Array.from({ length: size }, () => {
    const at = Date.now();
    const json = JSON.stringify({ events: Array.from({ length: perRequest }, () => make(at)) });
    // `~` is in no event field, so it marks only where the ids' time goes.
    return json.replaceAll(`"gen-${Math.floor(at / 1000)}-`, '"gen-~').split('~');
  });
  let sent = 0;
  return () => {
    sent++;
    return templates[sent % size]!.join(`${Math.floor(Date.now() / 1000)}-${sent.toString(36)}-`);
  };
}
