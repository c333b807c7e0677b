import type { AddressInfo } from 'node:net';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createApp, listen } from '../../app.js';
import type { AppDeps } from '../../deps.js';

/**
 * `mai-usage export`: the API's own export and billing statement, as the operator gets them
 * from `GET …/usage/export` and `…/usage/billing` — served by the same routes, in this process,
 * on a loopback port that lives for one request. One implementation, so the file on disk and
 * the download from the panel can never differ.
 */

export type UsageExportRequest =
  | { kind: 'events'; month: string; format: 'csv' | 'json'; clientId?: string | undefined }
  | { kind: 'billing'; month: string; format: 'csv' | 'json'; dialect: 'rfc4180' | 'pl' };

export class ExportError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function exportPath(request: UsageExportRequest): string {
  const query = new URLSearchParams({ month: request.month, format: request.format });
  if (request.kind === 'billing') {
    query.set('dialect', request.dialect);
    return `/api/v1/client-organizations/usage/billing?${query}`;
  }
  if (request.clientId !== undefined) query.set('client_id', request.clientId);
  return `/api/v1/client-organizations/usage/export?${query}`;
}

/** Streams the operator's view of `request` into `sink`. */
export async function writeUsageExport(deps: AppDeps, request: UsageExportRequest, sink: Writable): Promise<void> {
  const server = await listen(createApp(deps), 0, '127.0.0.1');
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}${exportPath(request)}`, {
      headers: { authorization: `Bearer ${deps.config.adminToken}` },
    });
    if (!response.ok || !response.body) {
      const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new ExportError(body?.error?.message ?? `the export answered HTTP ${response.status}`, response.status);
    }
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), sink);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
