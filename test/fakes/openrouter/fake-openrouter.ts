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
}

export interface FakeOpenRouterOptions {
  port?: number;
  host?: string;
  /** Accepted API keys; an empty list accepts any Bearer token. */
  apiKeys?: string[];
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
  /** Completed (charged in full, not cancelled) generations only. */
  completed(): LedgerEntry[];
  reset(): void;
  close(): Promise<void>;
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
  const behavior: Behavior = { chunkDelayMs: 5, replyWords: 12, processingComments: 2, ...options.behavior };
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
    const base = { id, model: model.id, user, promptTokens, cachedTokens, createdAt: new Date().toISOString() };

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

  /** Route table: "METHOD path" → handler. Add /generation, /key, /activity, /keys here. */
  const routes = new Map<string, { auth: boolean; handler: Handler }>([
    ['POST /api/v1/chat/completions', { auth: true, handler: chatCompletions }],
    ['GET /api/v1/models', { auth: false, handler: listModels }],
  ]);

  function takeFault(path: string): Fault | undefined {
    const index = faults.findIndex((f) => f.path === path && f.times > 0);
    if (index === -1) return undefined;
    const fault = faults[index]!;
    fault.times -= 1;
    if (fault.times <= 0) faults.splice(index, 1);
    return fault;
  }

  function authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ') || header.length <= 'Bearer '.length) return false;
    return apiKeys.length === 0 || apiKeys.includes(header.slice('Bearer '.length));
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake-openrouter');
    const route = routes.get(`${req.method} ${url.pathname}`);
    if (!route) return sendError(res, 404, `No route for ${req.method} ${url.pathname}`);
    const fault = takeFault(url.pathname);
    if (fault) {
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return sendError(res, fault.status, fault.message ?? `Injected fault ${fault.status}`, headers);
    }
    if (route.auth && !authorized(req)) return sendError(res, 401, 'No auth credentials found');
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
    completed: () => ledger.filter((e) => !e.cancelled),
    reset: () => {
      ledger.length = 0;
      faults.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
