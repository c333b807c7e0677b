/** The one place the panel talks HTTP: base URL, Bearer token, error shape. */

export type ApiConfig = {
  /** The sidecar's public URL, without a trailing slash. */
  baseUrl: string;
  /** Open WebUI's `localStorage.token` (or the operator's ADMIN_TOKEN on the sidecar's page). */
  token: string;
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TIMEOUT_MS = 15_000;

function isErrorBody(body: unknown): body is { error: { code: string; message: string } } {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const error = (body as { error: unknown }).error;
  return typeof error === 'object' && error !== null && 'message' in error;
}

/** Fetches `path` under `/api/v1/client-organizations` and friends; throws ApiError on failure. */
export async function apiFetch(config: ApiConfig, path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${config.baseUrl}${path}`, {
      ...init,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${config.token}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      signal: init.signal ?? AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'unreachable', 'The usage service is unreachable.');
  }
  if (!response.ok) {
    const body: unknown = await response.json().catch(() => null);
    const { code, message } = isErrorBody(body)
      ? body.error
      : { code: 'http_error', message: `The usage service answered ${response.status}.` };
    throw new ApiError(response.status, code, message);
  }
  return response;
}

export async function apiJson<T>(config: ApiConfig, path: string, init: RequestInit = {}): Promise<T> {
  const response = await apiFetch(config, path, init);
  return (await response.json()) as T;
}

/** `?a=1&b=2` from the defined entries only. */
export function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const ORGS = '/api/v1/client-organizations';
