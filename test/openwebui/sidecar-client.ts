/** Operator-token calls to the sidecar the end-to-end test arranges and asserts with. */

export interface ExportedEvent {
  event_id: string;
  user_id: string;
  client_org_id: string;
  model: string;
  channel: 'ui' | 'api';
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number | null;
  reasoning_tokens: number | null;
  raw_cost_nano_usd: string;
  cost_status: string;
  generation_id: string | null;
  chat_id: string | null;
  message_id: string | null;
}

function day(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

export function createSidecarClient(baseUrl: () => string, adminToken: string, ingestToken: string) {
  async function call<T>(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await call<T>(method, path, adminToken, body);
    if (answer.status >= 300) throw new Error(`${method} ${path} → ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  return {
    async createClient(name: string, monthlyLimitUsd?: number): Promise<string> {
      const created = await admin<{ id: string | number }>('POST', '/api/v1/client-organizations/clients', {
        name,
        ...(monthlyLimitUsd === undefined ? {} : { monthly_limit_usd: monthlyLimitUsd }),
      });
      return String(created.id);
    },
    async setMonthlyLimit(clientId: string, monthlyLimitUsd: number | null) {
      await admin('PATCH', `/api/v1/client-organizations/clients/${clientId}`, { monthly_limit_usd: monthlyLimitUsd });
    },
    async mapUser(userId: string, clientId: string) {
      await admin('POST', '/api/v1/client-organizations/user-mappings', { user_id: userId, client_org_id: clientId });
    },
    async exportEvents(clientId: string): Promise<ExportedEvent[]> {
      const answer = await admin<{ events: ExportedEvent[] }>(
        'GET',
        `/api/v1/client-organizations/usage/export?format=json&client_id=${clientId}&from=${day(-2)}&to=${day(2)}`,
      );
      return answer.events;
    },
    /** True when the sidecar already holds this event id (a re-post answers "duplicate"). */
    async holdsEvent(event: Record<string, unknown>): Promise<boolean> {
      const answer = await call<{ results: Array<{ status: string }> }>('POST', '/api/v1/ingest/events', ingestToken, {
        events: [event],
      });
      if (answer.status !== 200) throw new Error(`ingest re-post → ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.results[0]?.status === 'duplicate';
    },
  };
}

export type SidecarClient = ReturnType<typeof createSidecarClient>;
