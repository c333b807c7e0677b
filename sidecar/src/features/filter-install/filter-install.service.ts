import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/**
 * Installs the mai-usage filter into Open WebUI through its Functions REST API: creates or
 * updates the code, makes it active and global, and sets its valves. Idempotent: the toggle
 * endpoints FLIP state, so the state is read before either is called; and never
 * /api/v1/functions/sync, which deletes every other function.
 */

export const FILTER_ID = 'mai_usage';

type FunctionState = { id: string; is_active: boolean; is_global: boolean; content?: string };

export class FilterInstallError extends Error {}

/** The filter's source, from the package (works from sidecar/src and from dist/). */
export function readFilterSource(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    const candidate = join(dir, 'filter-plugin', 'mai_usage_filter.py');
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8');
    dir = dirname(dir);
  }
  throw new FilterInstallError('filter-plugin/mai_usage_filter.py not found next to the sidecar');
}

export type InstallOptions = {
  openWebUiUrl: string;
  /** An Open WebUI admin's API key or token. */
  apiKey: string;
  /** Valves to set; the ones not named keep what an admin set by hand. */
  valves: Record<string, unknown>;
  source?: string;
  id?: string;
  name?: string;
  logger?: Logger;
};

export type InstallResult = {
  id: string;
  action: 'created' | 'updated' | 'unchanged';
  toggled: string[];
  valves: string[];
};

export async function installFilter(options: InstallOptions): Promise<InstallResult> {
  const id = options.id ?? FILTER_ID;
  const base = `${options.openWebUiUrl}/api/v1`;
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T | null> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.apiKey}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    // Open WebUI answers an unknown function id with 401 (and 404 in other versions); the key
    // itself was checked first, so here either means "not there yet".
    if (method === 'GET' && path.startsWith('/functions/id/') && [400, 401, 404].includes(response.status)) return null;
    if (!response.ok) {
      const detail = (await response.text()).slice(0, 300);
      throw new FilterInstallError(`Open WebUI ${method} /api/v1${path}: HTTP ${response.status} ${detail}`);
    }
    const text = await response.text();
    return text ? (JSON.parse(text) as T) : null;
  };

  const form = {
    id,
    name: options.name ?? 'mai-usage',
    content: options.source ?? readFilterSource(),
    meta: { description: 'mai-usage: records every completion’s usage and cost; enforces monthly limits' },
  };
  const me = await call<{ role?: string }>('GET', '/auths/').catch((error: unknown) => {
    throw new FilterInstallError(
      error instanceof FilterInstallError
        ? `OPENWEBUI_ADMIN_API_KEY was refused by Open WebUI: ${error.message}`
        : `Open WebUI at ${options.openWebUiUrl} is unreachable: ${String((error as { cause?: unknown }).cause ?? error)}`,
    );
  });
  if (me?.role !== 'admin') {
    throw new FilterInstallError('OPENWEBUI_ADMIN_API_KEY must belong to an Open WebUI admin');
  }
  const existing = await call<FunctionState>('GET', `/functions/id/${id}`);
  // Saving code makes Open WebUI load a new Filter instance, which has no valves until its next
  // chat (so, for instance, it replays no spool until then): save only when the code changed.
  const action = !existing ? 'created' : existing.content === form.content ? 'unchanged' : 'updated';
  if (action !== 'unchanged') await call('POST', existing ? `/functions/id/${id}/update` : '/functions/create', form);
  const state = await call<FunctionState>('GET', `/functions/id/${id}`);
  if (!state) throw new FilterInstallError(`function ${id} is missing right after it was saved`);
  const toggled: string[] = [];
  if (!state.is_active) {
    await call('POST', `/functions/id/${id}/toggle`);
    toggled.push('active');
  }
  if (!state.is_global) {
    await call('POST', `/functions/id/${id}/toggle/global`);
    toggled.push('global');
  }
  // Merge over the current valves so an admin's own choices (block message, timeouts) survive.
  // A function without Valves refuses the update, so there is none when nothing is to be set.
  if (Object.keys(options.valves).length > 0) {
    const current = (await call<Record<string, unknown>>('GET', `/functions/id/${id}/valves`)) ?? {};
    await call('POST', `/functions/id/${id}/valves/update`, { ...current, ...options.valves });
  }
  const final = await call<FunctionState>('GET', `/functions/id/${id}`);
  if (!final?.is_active || !final.is_global) {
    throw new FilterInstallError(`function ${id} is not active and global after installing`);
  }
  const result: InstallResult = {
    id,
    action,
    toggled,
    valves: Object.keys(options.valves),
  };
  options.logger?.info(result, `mai-usage filter ${result.action} in Open WebUI`);
  return result;
}
