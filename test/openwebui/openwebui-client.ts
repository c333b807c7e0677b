/**
 * The slice of Open WebUI's REST API the end-to-end test uses: accounts, the Functions API
 * (toggles read before flipped, valves; installing is the product's own `mai-usage install-filter`) and chats on
 * the web UI's path and on the API path.
 */
import { randomUUID } from 'node:crypto';

export interface Account {
  id: string;
  email: string;
  name: string;
  role: string;
  token: string;
}

export interface ChatMessage {
  role: 'user' | 'assistant' | 'system';
  content: string;
}

export class OpenWebUIError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what} → HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export function createOpenWebUIClient(baseUrl: string) {
  async function call<T>(method: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await response.text();
    if (!response.ok) throw new OpenWebUIError(response.status, text, `${method} ${path}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  return {
    call,

    /** The first account signed up becomes the instance's admin. */
    async signUpAdmin(name: string, email: string, password: string): Promise<Account> {
      return call<Account>('POST', '/api/v1/auths/signup', undefined, { name, email, password });
    },

    async signIn(email: string, password: string): Promise<Account> {
      return call<Account>('POST', '/api/v1/auths/signin', undefined, { email, password });
    },

    async addUser(admin: Account, name: string, email: string, password: string): Promise<Account> {
      await call('POST', '/api/v1/auths/add', admin.token, { name, email, password, role: 'user' });
      return this.signIn(email, password);
    },

    async setFilterActive(admin: Account, id: string, active: boolean) {
      const state = await call<{ is_active: boolean }>('GET', `/api/v1/functions/id/${id}`, admin.token);
      if (state.is_active !== active) await call('POST', `/api/v1/functions/id/${id}/toggle`, admin.token);
    },

    async updateValves(admin: Account, id: string, valves: Record<string, unknown>) {
      await call('POST', `/api/v1/functions/id/${id}/valves/update`, admin.token, valves);
    },

    /** API path, not streamed: an OpenAI-style call with no chat, message or session id. */
    async apiCompletion(account: Account, model: string, messages: ChatMessage[]) {
      return call<{ id: string; choices: Array<{ message: { content: string } }>; usage?: Record<string, unknown> }>(
        'POST',
        '/api/chat/completions',
        account.token,
        { model, messages, stream: false },
      );
    },

    /** API path, streamed; returns the raw SSE text. Aborts after `abortAfterChunks` data lines if given. */
    async apiStream(account: Account, model: string, messages: ChatMessage[]) {
      const response = await fetch(`${baseUrl}/api/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${account.token}` },
        body: JSON.stringify({ model, messages, stream: true }),
        signal: AbortSignal.timeout(120_000),
      });
      const text = await response.text();
      return { status: response.status, text };
    },

    /**
     * The web UI's path: what the browser posts for a turn (chat id, the new user message, the
     * assistant message id, its socket session id) — the answer streams in the background and
     * lands in the stored chat. Returns ids to poll with waitForAssistant.
     */
    async uiTurn(
      account: Account,
      model: string,
      options: { chatId?: string; history: ChatMessage[]; parentId: string | null; content: string },
    ) {
      const userMessageId = randomUUID();
      const assistantMessageId = randomUUID();
      const messages = [...options.history, { role: 'user' as const, content: options.content }];
      const answer = await call<{ status: boolean; task_ids: string[]; chat_id: string }>(
        'POST',
        '/api/chat/completions',
        account.token,
        {
          model,
          messages,
          stream: true,
          params: {},
          features: {},
          variables: {},
          session_id: `e2e-${randomUUID()}`,
          ...(options.chatId ? { chat_id: options.chatId } : {}),
          id: assistantMessageId,
          parent_id: options.parentId,
          user_message: {
            id: userMessageId,
            parentId: options.parentId,
            childrenIds: [],
            role: 'user',
            content: options.content,
            timestamp: Math.floor(Date.now() / 1000),
            models: [model],
          },
        },
      );
      return { chatId: answer.chat_id, taskIds: answer.task_ids, userMessageId, assistantMessageId, messages };
    },

    async getChat(account: Account, chatId: string) {
      return call<{ chat: { history: { messages: Record<string, Record<string, unknown>> } } }>(
        'GET',
        `/api/v1/chats/${chatId}`,
        account.token,
      );
    },

    /** Polls the stored chat until the assistant message is done; returns it. */
    async waitForAssistant(account: Account, chatId: string, messageId: string, timeoutMs = 60_000) {
      const started = Date.now();
      while (Date.now() - started < timeoutMs) {
        const chat = await this.getChat(account, chatId);
        const message = chat.chat.history.messages[messageId];
        if (message && (message.done === true || message.error)) return message;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`assistant message ${messageId} in chat ${chatId} not done after ${timeoutMs} ms`);
    },

    /** The web UI's stop button: stops the user's running tasks of a chat. */
    async stopChat(account: Account, chatId: string) {
      return call('POST', `/api/tasks/chat/${chatId}/stop`, account.token);
    },
  };
}

export type OpenWebUIClient = ReturnType<typeof createOpenWebUIClient>;

/** The text of a stored assistant message (0.12 stores output items, older versions content). */
export function messageText(message: Record<string, unknown>): string {
  if (typeof message.content === 'string' && message.content) return message.content;
  const output = message.output as Array<{ content?: Array<{ text?: string }> }> | undefined;
  return (output ?? [])
    .flatMap((item) => item.content ?? [])
    .map((part) => part.text ?? '')
    .join('');
}
