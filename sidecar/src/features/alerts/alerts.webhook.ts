import { createHmac } from 'node:crypto';

/**
 * The alert webhook: a JSON POST signed like GitHub's and Stripe's. The signature is
 * HMAC-SHA256 of the exact body bytes with ALERT_WEBHOOK_SECRET; the body carries `sent_at`,
 * so the signature covers the time too and a receiver can refuse old replays. Retries send the
 * same alert id (`X-Mai-Delivery`) with a new `sent_at`: receivers de-duplicate by that id.
 */

export type AlertWebhook = { url: string; secret: string };

export const SIGNATURE_HEADER = 'x-mai-signature';
export const TIMESTAMP_HEADER = 'x-mai-timestamp';
const TIMEOUT_MS = 10_000;

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return `request failed: ${String(error)}`;
  if (error.name === 'TimeoutError') return `no answer in ${TIMEOUT_MS / 1000} s`;
  // fetch says "fetch failed"; the reason (ECONNREFUSED, a DNS error…) is its cause.
  return `request failed: ${error.cause instanceof Error ? error.cause.message : error.message}`;
}

/** `sha256=<hex>` of the body. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Posts one alert; throws with a short reason unless the receiver answered 2xx. */
export async function postAlert(
  webhook: AlertWebhook,
  delivery: { id: number; alert: Record<string, unknown>; sentAt: Date },
): Promise<void> {
  const body = JSON.stringify({ type: 'limit_alert', sent_at: delivery.sentAt.toISOString(), alert: delivery.alert });
  let response: Response;
  try {
    response = await fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'mai-usage-sidecar',
        'x-mai-event': 'limit_alert',
        'x-mai-delivery': String(delivery.id),
        [TIMESTAMP_HEADER]: String(Math.floor(delivery.sentAt.getTime() / 1000)),
        [SIGNATURE_HEADER]: signBody(body, webhook.secret),
      },
      body,
      // A redirect would resend the signed body somewhere the operator did not configure.
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new Error(describeFetchError(error), { cause: error });
  }
  // The body is not needed; reading it frees the connection.
  const text = await response.text().catch(() => '');
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
}
