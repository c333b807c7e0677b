/**
 * A fake OpenRouter: a local HTTP server reproducing the documented response shapes
 * (DESIGN §5) so tests can drive Open WebUI and the sidecar without the live service.
 *
 * It keeps its own ledger of every generation it "charged", which end-to-end tests compare
 * with what the sidecar recorded. Routes live in one table (`routes` below) and every request
 * first passes through the fault queue, so later work can add /generation, /key, /activity,
 * /keys and more failure modes without reshaping the server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface FakeModel {
  id: string;
  name: string;
  /** USD per prompt token, as OpenRouter's /models lists it (a decimal string). */
  promptPrice: string;
  /** USD per completion token. */
  completionPrice: string;
  /** Share of prompt tokens reported as cached (0..1), to exercise cached_tokens. */
  cachedShare?: number;
  /** Completion tokens reported as reasoning tokens, per request. */
  reasoningTokens?: number;
  /** When true the generation is "bring your own key": cost is only OpenRouter's fee. */
  byok?: boolean;
}

export interface LedgerEntry {
  id: string;
  model: string;
  /** The request's `user` field (OpenRouter echoes it as external_user). */
  user: string | null;
  streamed: boolean;
  cancelled: boolean;
  finishReason: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  isByok: boolean;
  /** What OpenRouter charged, integer nano-USD, so sums compare exactly. */
  costNanoUsd: bigint;
  /** The same as the JSON number sent in `usage.cost`. */
  costUsd: number;
  upstreamCostNanoUsd: bigint | null;
  createdAt: string;
  /** The API key the generation was charged to ('' when not known). */
  apiKey: string;
}

export interface Fault {
  /** Exact path the fault applies to, e.g. `/api/v1/chat/completions`. */
  path: string;
  status: number;
  /** How many matching requests fail before the route answers normally again. */
  times: number;
  retryAfterSeconds?: number;
  message?: string;
}

export interface Behavior {
  /** Delay between streamed content chunks. */
  chunkDelayMs: number;
  /** Content chunks per streamed answer (each one word token). */
  replyWords: number;
  /** Send `: OPENROUTER PROCESSING` comments before the first chunk. */
  processingComments: number;
  /** /generation answers 404 for this long after a generation is created… */
  generationVisibleAfterMs: number;
  /** …and for this long after a cancelled (aborted) one. */
  cancelledVisibleAfterMs: number;
}

export interface FakeOpenRouterOptions {
  port?: number;
  host?: string;
  /** Accepted API keys; an empty list accepts any Bearer token. */
  apiKeys?: string[];
  /** Management keys for /keys and /activity; an empty list accepts any Bearer token. */
  provisioningKeys?: string[];
  models?: FakeModel[];
  behavior?: Partial<Behavior>;
}

export interface FakeOpenRouter {
  /** Base URL without the `/api/v1` suffix, e.g. `http://127.0.0.1:43123`. */
  url: string;
  /** What an OpenAI-compatible client uses as its base URL. */
  apiBase: string;
  ledger: LedgerEntry[];
  models: FakeModel[];
  behavior: Behavior;
  injectFault(fault: Fault): void;
  /** Keys made through POST /keys, by hash. */
  provisionedKeys: Map<string, ProvisionedKey>;
  /** Charges a generation without a chat request (for reconciliation tests). */
  recordGeneration(entry: {
    model: string;
    apiKey: string;
    promptTokens: number;
    completionTokens: number;
    user?: string | null;
    cancelled?: boolean;
    streamed?: boolean;
    createdAt?: string;
  }): LedgerEntry;
  /** Completed (charged in full, not cancelled) generations only. */
  completed(): LedgerEntry[];
  reset(): void;
  close(): Promise<void>;
}

export interface ProvisionedKey {
  hash: string;
  key: string;
  name: string;
  label: string;
  limit: number | null;
  limitReset: string | null;
  disabled: boolean;
  createdAt: string;
}

export const DEFAULT_MODELS: FakeModel[] = [
  { id: 'fake/alpha', name: 'Fake Alpha', promptPrice: '0.000001', completionPrice: '0.000002' },
  {
    id: 'fake/reasoner',
    name: 'Fake Reasoner',
    promptPrice: '0.000003',
    completionPrice: '0.000015',
    cachedShare: 0.5,
    reasoningTokens: 7,
  },
  { id: 'fake/byok', name: 'Fake BYOK', promptPrice: '0.000002', completionPrice: '0.000004', byok: true },
];

const NANO_PER_USD = 1_000_000_000n;

/** Parses a decimal USD string into integer nano-USD without going through floats. */
export function usdToNano(usd: string): bigint {
  const [whole = '0', frac = ''] = usd.split('.');
  return BigInt(whole) * NANO_PER_USD + BigInt((frac + '000000000').slice(0, 9));
}

export function nanoToUsdNumber(nano: bigint): number {
  // A nano-USD integer below 2^53 prints as an exact decimal with ≤ 9 places.
  return Number(nano) / 1e9;
}

/** Deterministic token count: one token per whitespace-separated word, at least one. */
export function countTokens(text: string): number {
  const words = text.trim().split(/\s+/).filter(Boolean).length;
  return Math.max(1, words);
}

function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && 'text' in part ? String(part.text) : ''))
      .join(' ');
  }
  return '';
}

function generationId(): string {
  return `gen-${Math.floor(Date.now() / 1000)}-${randomBytes(10).toString('base64url')}`;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  sendJson(res, status, { error: { code: status, message } }, headers);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

export async function createFakeOpenRouter(options: FakeOpenRouterOptions = {}): Promise<FakeOpenRouter> {
  const models = options.models ?? DEFAULT_MODELS;
  const apiKeys = options.apiKeys ?? [];
  const provisioningKeys = options.provisioningKeys ?? [];
  const behavior: Behavior = {
    chunkDelayMs: 5,
    replyWords: 12,
    processingComments: 2,
    generationVisibleAfterMs: 0,
    cancelledVisibleAfterMs: 0,
    ...options.behavior,
  };
  const provisionedKeys = new Map<string, ProvisionedKey>();
  const ledger: LedgerEntry[] = [];
  const faults: Fault[] = [];

  function charge(
    model: FakeModel,
    entry: Omit<LedgerEntry, 'costNanoUsd' | 'costUsd' | 'isByok' | 'upstreamCostNanoUsd'>,
  ): LedgerEntry {
    const upstream =
      BigInt(entry.promptTokens) * usdToNano(model.promptPrice) +
      BigInt(entry.completionTokens) * usdToNano(model.completionPrice);
    // BYOK: the provider bills the customer's own key; OpenRouter charges a 5 % fee.
    const cost = model.byok ? upstream / 20n : upstream;
    const full: LedgerEntry = {
      ...entry,
      isByok: Boolean(model.byok),
      costNanoUsd: cost,
      costUsd: nanoToUsdNumber(cost),
      upstreamCostNanoUsd: model.byok ? upstream : null,
    };
    ledger.push(full);
    return full;
  }

  function usageOf(entry: LedgerEntry) {
    return {
      prompt_tokens: entry.promptTokens,
      completion_tokens: entry.completionTokens,
      total_tokens: entry.promptTokens + entry.completionTokens,
      cost: entry.costUsd,
      is_byok: entry.isByok,
      prompt_tokens_details: { cached_tokens: entry.cachedTokens },
      completion_tokens_details: { reasoning_tokens: entry.reasoningTokens },
      cost_details: {
        upstream_inference_cost: entry.upstreamCostNanoUsd === null ? null : nanoToUsdNumber(entry.upstreamCostNanoUsd),
      },
    };
  }

  const chatCompletions: Handler = async (req, res) => {
    let body: Record<string, unknown>;
    try {
      body = (await readJson(req)) as Record<string, unknown>;
    } catch {
      return sendError(res, 400, 'Invalid JSON body');
    }
    const model = models.find((m) => m.id === body.model);
    if (!model) return sendError(res, 400, `${String(body.model)} is not a valid model ID`);
    const messages = Array.isArray(body.messages) ? (body.messages as Array<{ content?: unknown }>) : [];
    if (messages.length === 0) return sendError(res, 400, 'messages: at least one message is required');

    const promptTokens = messages.reduce((sum, m) => sum + countTokens(messageText(m.content)), 0);
    const cachedTokens = Math.floor(promptTokens * (model.cachedShare ?? 0));
    const reasoningTokens = model.reasoningTokens ?? 0;
    const words = Array.from({ length: behavior.replyWords }, (_, i) => `word${i + 1}`);
    const id = generationId();
    const created = Math.floor(Date.now() / 1000);
    const user = typeof body.user === 'string' ? body.user : null;
    const apiKey = bearer(req) ?? '';
    const limited = [...provisionedKeys.values()].find((k) => k.key === apiKey && k.limit !== null);
    if (limited && Number(spentBy(apiKey)) / 1e9 >= (limited.limit ?? 0)) {
      return sendError(res, 402, 'Key limit exceeded');
    }
    const base = { id, model: model.id, user, promptTokens, cachedTokens, createdAt: new Date().toISOString(), apiKey };

    if (body.stream !== true) {
      const entry = charge(model, {
        ...base,
        streamed: false,
        cancelled: false,
        finishReason: 'stop',
        completionTokens: words.length + reasoningTokens,
        reasoningTokens,
      });
      return sendJson(
        res,
        200,
        {
          id,
          provider: 'FakeProvider',
          model: model.id,
          object: 'chat.completion',
          created,
          choices: [
            {
              index: 0,
              logprobs: null,
              finish_reason: 'stop',
              native_finish_reason: 'stop',
              message: { role: 'assistant', content: words.join(' '), refusal: null, reasoning: null },
            },
          ],
          usage: usageOf(entry),
        },
        { 'x-generation-id': id },
      );
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-generation-id': id,
    });
    let cancelled = false;
    res.on('close', () => {
      if (!res.writableFinished) cancelled = true;
    });
    const chunk = (extra: Record<string, unknown>) =>
      `data: ${JSON.stringify({ id, provider: 'FakeProvider', model: model.id, object: 'chat.completion.chunk', created, ...extra })}\n\n`;

    for (let i = 0; i < behavior.processingComments; i++) {
      res.write(': OPENROUTER PROCESSING\n\n');
      await sleep(behavior.chunkDelayMs);
    }
    let sent = 0;
    for (const word of words) {
      if (cancelled) break;
      const text = sent === 0 ? word : ` ${word}`;
      res.write(
        chunk({
          choices: [
            {
              index: 0,
              delta: { role: 'assistant', content: text },
              finish_reason: null,
              native_finish_reason: null,
              logprobs: null,
            },
          ],
        }),
      );
      sent++;
      await sleep(behavior.chunkDelayMs);
    }
    // An aborted stream is still charged for what was generated (OpenRouter bills it).
    const entry = charge(model, {
      ...base,
      streamed: true,
      cancelled,
      finishReason: cancelled ? null : 'stop',
      completionTokens: sent + (sent > 0 ? reasoningTokens : 0),
      reasoningTokens: sent > 0 ? reasoningTokens : 0,
    });
    if (cancelled) return;
    res.write(
      chunk({
        choices: [
          {
            index: 0,
            delta: { role: 'assistant', content: '' },
            finish_reason: 'stop',
            native_finish_reason: 'stop',
            logprobs: null,
          },
        ],
      }),
    );
    res.write(chunk({ choices: [], usage: usageOf(entry) }));
    res.write('data: [DONE]\n\n');
    res.end();
  };

  const listModels: Handler = async (_req, res) => {
    sendJson(res, 200, {
      data: models.map((m) => ({
        id: m.id,
        canonical_slug: m.id,
        name: m.name,
        created: 1_700_000_000,
        context_length: 32768,
        architecture: { modality: 'text->text', input_modalities: ['text'], output_modalities: ['text'] },
        pricing: { prompt: m.promptPrice, completion: m.completionPrice, request: '0', image: '0' },
      })),
    });
  };

  function bearer(req: IncomingMessage): string | undefined {
    const header = req.headers.authorization ?? '';
    return header.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
  }

  /** nano-USD charged to a key, optionally only since an instant. */
  function spentBy(apiKey: string, since = ''): bigint {
    return ledger
      .filter((e) => e.apiKey === apiKey && e.createdAt >= since)
      .reduce((sum, e) => sum + e.costNanoUsd, 0n);
  }

  const getGeneration: Handler = async (_req, res, url) => {
    const entry = ledger.find((e) => e.id === url.searchParams.get('id'));
    const delay = entry?.cancelled ? behavior.cancelledVisibleAfterMs : behavior.generationVisibleAfterMs;
    if (!entry || Date.now() < Date.parse(entry.createdAt) + delay) {
      return sendError(res, 404, 'Generation not found');
    }
    sendJson(res, 200, {
      data: {
        id: entry.id,
        total_cost: entry.costUsd,
        created_at: entry.createdAt,
        model: entry.model,
        provider_name: 'FakeProvider',
        external_user: entry.user,
        streamed: entry.streamed,
        cancelled: entry.cancelled,
        finish_reason: entry.finishReason,
        tokens_prompt: entry.promptTokens,
        tokens_completion: entry.completionTokens,
        native_tokens_prompt: entry.promptTokens,
        native_tokens_completion: entry.completionTokens,
        native_tokens_cached: entry.cachedTokens,
        native_tokens_reasoning: entry.reasoningTokens,
        is_byok: entry.isByok,
        upstream_inference_cost: entry.upstreamCostNanoUsd === null ? null : nanoToUsdNumber(entry.upstreamCostNanoUsd),
      },
    });
  };

  /** GET /key: usage of the calling key; daily, weekly and monthly windows are UTC. */
  const getKey: Handler = async (req, res) => {
    const apiKey = bearer(req) ?? '';
    const now = new Date();
    const day = `${now.toISOString().slice(0, 10)}T00:00:00.000Z`;
    const month = `${now.toISOString().slice(0, 7)}-01T00:00:00.000Z`;
    const weekStart = new Date(Date.parse(day) - ((now.getUTCDay() + 6) % 7) * 86_400_000).toISOString();
    const provisioned = [...provisionedKeys.values()].find((k) => k.key === apiKey);
    const usage = spentBy(apiKey);
    sendJson(res, 200, {
      data: {
        label: provisioned?.label ?? `${apiKey.slice(0, 12)}…`,
        limit: provisioned?.limit ?? null,
        limit_remaining: provisioned?.limit == null ? null : provisioned.limit - nanoToUsdNumber(usage),
        limit_reset: provisioned?.limitReset ?? null,
        usage: nanoToUsdNumber(usage),
        usage_daily: nanoToUsdNumber(spentBy(apiKey, day)),
        usage_weekly: nanoToUsdNumber(spentBy(apiKey, weekStart)),
        usage_monthly: nanoToUsdNumber(spentBy(apiKey, month)),
        is_free_tier: false,
      },
    });
  };

  /** GET /activity: completed UTC days, per model, optionally for one key's hash. */
  const getActivity: Handler = async (_req, res, url) => {
    const hash = url.searchParams.get('api_key_hash');
    const date = url.searchParams.get('date');
    const key = hash ? provisionedKeys.get(hash)?.key : undefined;
    if (hash && key === undefined) return sendJson(res, 200, { data: [] });
    const today = new Date().toISOString().slice(0, 10);
    const rows = new Map<
      string,
      { date: string; model: string; usage: bigint; requests: number; prompt: number; completion: number }
    >();
    for (const entry of ledger) {
      const day = entry.createdAt.slice(0, 10);
      if (day >= today || (date && day !== date) || (key !== undefined && entry.apiKey !== key)) continue;
      const id = `${day} ${entry.model}`;
      const row = rows.get(id) ?? { date: day, model: entry.model, usage: 0n, requests: 0, prompt: 0, completion: 0 };
      row.usage += entry.costNanoUsd;
      row.requests += 1;
      row.prompt += entry.promptTokens;
      row.completion += entry.completionTokens;
      rows.set(id, row);
    }
    sendJson(res, 200, {
      data: [...rows.values()].map((row) => ({
        date: row.date,
        model: row.model,
        model_permaslug: row.model,
        endpoint_id: 'fake-endpoint',
        provider_name: 'FakeProvider',
        usage: nanoToUsdNumber(row.usage),
        byok_usage_inference: 0,
        requests: row.requests,
        prompt_tokens: row.prompt,
        completion_tokens: row.completion,
        reasoning_tokens: 0,
      })),
    });
  };

  function keyView(key: ProvisionedKey) {
    return {
      hash: key.hash,
      name: key.name,
      label: key.label,
      disabled: key.disabled,
      limit: key.limit,
      limit_reset: key.limitReset,
      usage: nanoToUsdNumber(spentBy(key.key)),
      created_at: key.createdAt,
      updated_at: null,
    };
  }

  const createKey: Handler = async (req, res) => {
    const body = (await readJson(req)) as { name?: unknown; limit?: unknown; limit_reset?: unknown };
    if (typeof body.name !== 'string' || body.name === '') return sendError(res, 400, 'name is required');
    const key = `sk-or-v1-${randomBytes(32).toString('hex')}`;
    const created: ProvisionedKey = {
      hash: randomBytes(32).toString('hex'),
      key,
      name: body.name,
      label: `sk-or-v1-${key.slice(9, 12)}...${key.slice(-3)}`,
      limit: typeof body.limit === 'number' ? body.limit : null,
      limitReset: typeof body.limit_reset === 'string' ? body.limit_reset : null,
      disabled: false,
      createdAt: new Date().toISOString(),
    };
    provisionedKeys.set(created.hash, created);
    sendJson(res, 201, { data: keyView(created), key });
  };

  const keyByHash: Handler = async (req, res, url) => {
    const hash = decodeURIComponent(url.pathname.slice('/api/v1/keys/'.length));
    const key = provisionedKeys.get(hash);
    if (!key) return sendError(res, 404, 'Key not found');
    if (req.method === 'DELETE') {
      provisionedKeys.delete(hash);
      return sendJson(res, 200, { deleted: true });
    }
    if (req.method === 'PATCH') {
      const body = (await readJson(req)) as { name?: unknown; limit?: unknown; disabled?: unknown };
      if (typeof body.name === 'string') key.name = body.name;
      if (typeof body.limit === 'number' || body.limit === null) key.limit = body.limit;
      if (typeof body.disabled === 'boolean') key.disabled = body.disabled;
    }
    sendJson(res, 200, { data: keyView(key) });
  };

  /** Route table: "METHOD path" → handler; a path ending in `/:hash` matches one more segment. */
  const routes = new Map<string, { auth: 'api' | 'provisioning' | false; handler: Handler }>([
    ['POST /api/v1/chat/completions', { auth: 'api', handler: chatCompletions }],
    ['GET /api/v1/models', { auth: false, handler: listModels }],
    ['GET /api/v1/generation', { auth: 'api', handler: getGeneration }],
    ['GET /api/v1/key', { auth: 'api', handler: getKey }],
    ['GET /api/v1/activity', { auth: 'provisioning', handler: getActivity }],
    ['POST /api/v1/keys', { auth: 'provisioning', handler: createKey }],
    ['GET /api/v1/keys/:hash', { auth: 'provisioning', handler: keyByHash }],
    ['PATCH /api/v1/keys/:hash', { auth: 'provisioning', handler: keyByHash }],
    ['DELETE /api/v1/keys/:hash', { auth: 'provisioning', handler: keyByHash }],
  ]);

  function takeFault(path: string): Fault | undefined {
    const index = faults.findIndex((f) => f.path === path && f.times > 0);
    if (index === -1) return undefined;
    const fault = faults[index]!;
    fault.times -= 1;
    if (fault.times <= 0) faults.splice(index, 1);
    return fault;
  }

  function authorized(req: IncomingMessage, kind: 'api' | 'provisioning'): boolean {
    const token = bearer(req);
    if (!token) return false;
    if (kind === 'provisioning') return provisioningKeys.length === 0 || provisioningKeys.includes(token);
    const provisioned = [...provisionedKeys.values()].find((k) => k.key === token);
    if (provisioned) return !provisioned.disabled;
    return apiKeys.length === 0 || apiKeys.includes(token);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake-openrouter');
    const route =
      routes.get(`${req.method} ${url.pathname}`) ??
      (/^\/api\/v1\/keys\/[^/]+$/.test(url.pathname) ? routes.get(`${req.method} /api/v1/keys/:hash`) : undefined);
    if (!route) return sendError(res, 404, `No route for ${req.method} ${url.pathname}`);
    const fault = takeFault(url.pathname);
    if (fault) {
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return sendError(res, fault.status, fault.message ?? `Injected fault ${fault.status}`, headers);
    }
    if (route.auth && !authorized(req, route.auth)) return sendError(res, 401, 'No auth credentials found');
    route.handler(req, res, url).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, `Fake OpenRouter failed: ${String(error)}`);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;

  return {
    url,
    apiBase: `${url}/api/v1`,
    ledger,
    models,
    behavior,
    injectFault: (fault) => void faults.push({ ...fault }),
    provisionedKeys,
    recordGeneration: (entry) => {
      const model = models.find((m) => m.id === entry.model);
      if (!model) throw new Error(`unknown fake model ${entry.model}`);
      return charge(model, {
        id: generationId(),
        model: model.id,
        user: entry.user ?? null,
        streamed: entry.streamed ?? true,
        cancelled: entry.cancelled ?? false,
        finishReason: entry.cancelled ? null : 'stop',
        promptTokens: entry.promptTokens,
        completionTokens: entry.completionTokens,
        cachedTokens: 0,
        reasoningTokens: 0,
        createdAt: entry.createdAt ?? new Date().toISOString(),
        apiKey: entry.apiKey,
      });
    },
    completed: () => ledger.filter((e) => !e.cancelled),
    reset: () => {
      ledger.length = 0;
      faults.length = 0;
      provisionedKeys.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
