import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Principal } from '../../http/auth.js';
import { nanoToUsdNumber, nanoToUsdString } from '../../lib/money.js';
import type { LimitLevel } from '../limits/limits.cache.js';
import {
  findAlert,
  insertAlertIfMissing,
  listAlerts,
  listUndeliveredAlerts,
  markAlertDelivered,
  markAlertDeliveryFailed,
  type LimitAlert,
} from './alerts.store.js';
import { postAlert, type AlertWebhook } from './alerts.webhook.js';

/**
 * Alerts at 80% and 100% of an org's or a user's monthly limit, once per billing month each
 * (the table's unique key makes that hold across restarts and sidecars). An alert is logged,
 * stored (listed by the API) and posted to ALERT_WEBHOOK_URL off the request path; the
 * limit-alerts job retries undelivered ones with backoff for RETRY_WINDOW_MS.
 */

export const ALERT_THRESHOLDS_PCT = [80, 100] as const;

const RETRY_WINDOW_MS = 7 * 24 * 3_600_000;
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 3_600_000;
const RETRIES_PER_RUN = 100;

export type LimitAlerts = {
  /** Raises every threshold these levels reached that has not fired this period. Never throws. */
  consider(levels: readonly LimitLevel[]): void;
  /** Posts undelivered alerts whose retry time has come (the job). */
  deliverPending(): Promise<{ pending: number; delivered: number; failed: number }>;
  /** Resolves when the alerts being raised and delivered right now are done (tests, shutdown). */
  settled(): Promise<void>;
  webhookConfigured: boolean;
};

export function createLimitAlerts(deps: {
  db: Knex;
  instanceId: string;
  webhook: AlertWebhook | undefined;
  logger: Logger;
  now: () => Date;
}): LimitAlerts {
  /** Thresholds known to have fired, per period: one insert attempt each per process. */
  const raised = new Map<string, Set<string>>();
  const delivering = new Set<number>();
  const retries = new Map<number, { attempts: number; nextAt: number }>();
  const inFlight = new Set<Promise<unknown>>();

  function raisedIn(period: string): Set<string> {
    let keys = raised.get(period);
    if (!keys) {
      keys = new Set();
      raised.set(period, keys);
      // Only this month and the last can still change.
      for (const old of [...raised.keys()].sort().slice(0, -2)) raised.delete(old);
    }
    return keys;
  }

  function track(work: Promise<unknown>): void {
    const tracked = work.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }

  async function raise(level: LimitLevel, thresholdPct: number): Promise<void> {
    const id = await insertAlertIfMissing(deps.db, {
      clientOrgId: level.clientOrgId,
      userId: level.userId,
      period: level.period,
      thresholdPct,
      limitNanoUsd: level.limitNanoUsd,
      usedNanoUsd: level.usedNanoUsd,
      createdAt: deps.now().toISOString(),
    });
    if (id === null) return; // fired before (another process, or before a restart)
    const alert = await findAlert(deps.db, id);
    if (!alert) return;
    deps.logger.warn({ alert: alertView(alert) }, describeAlert(alert));
    await deliver(alert);
  }

  /** Posts one alert and records the outcome; false when it has to be retried. */
  async function deliver(alert: LimitAlert): Promise<boolean> {
    if (!deps.webhook || delivering.has(alert.id)) return false;
    delivering.add(alert.id);
    try {
      await postAlert(deps.webhook, { id: alert.id, alert: alertView(alert), sentAt: deps.now() });
      await markAlertDelivered(deps.db, alert.id, deps.now().toISOString());
      retries.delete(alert.id);
      return true;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const attempts = (retries.get(alert.id)?.attempts ?? 0) + 1;
      const delay = Math.min(FIRST_RETRY_MS * 2 ** (attempts - 1), MAX_RETRY_MS);
      retries.set(alert.id, { attempts, nextAt: deps.now().getTime() + delay });
      deps.logger.warn({ alertId: alert.id, attempts, retryInMs: delay, reason }, 'limit alert webhook failed');
      await markAlertDeliveryFailed(deps.db, alert.id, reason).catch((failure: unknown) =>
        deps.logger.error({ err: failure, alertId: alert.id }, 'could not record the webhook failure'),
      );
      return false;
    } finally {
      delivering.delete(alert.id);
    }
  }

  return {
    webhookConfigured: deps.webhook !== undefined,
    consider(levels) {
      for (const level of levels) {
        // A limit of 0 blocks everything; "80% of nothing" tells nobody anything.
        if (level.limitNanoUsd <= 0n) continue;
        const keys = raisedIn(level.period);
        const due: { pct: number; key: string }[] = [];
        for (const pct of ALERT_THRESHOLDS_PCT) {
          if (level.usedNanoUsd * 100n < level.limitNanoUsd * BigInt(pct)) continue;
          const key = `${level.clientOrgId}\u0000${level.userId}\u0000${pct}`;
          if (keys.has(key)) continue;
          keys.add(key);
          due.push({ pct, key });
        }
        if (due.length === 0) continue;
        // One after the other: 80% is stored and sent before 100%.
        track(
          (async () => {
            for (const { pct, key } of due) {
              try {
                await raise(level, pct);
              } catch (error) {
                keys.delete(key); // tried again at the next change
                deps.logger.error(
                  { err: error, clientOrgId: level.clientOrgId, userId: level.userId, period: level.period, pct },
                  'raising a limit alert failed',
                );
              }
            }
          })(),
        );
      }
    },
    async deliverPending() {
      if (!deps.webhook) return { pending: 0, delivered: 0, failed: 0 };
      const at = deps.now().getTime();
      const pending = await listUndeliveredAlerts(deps.db, {
        instanceId: deps.instanceId,
        createdSince: new Date(at - RETRY_WINDOW_MS).toISOString(),
        limit: RETRIES_PER_RUN,
      });
      let delivered = 0;
      let failed = 0;
      for (const alert of pending) {
        const retry = retries.get(alert.id);
        if (retry && retry.nextAt > at) continue;
        if (await deliver(alert)) delivered += 1;
        else failed += 1;
      }
      const stillPending = new Set(pending.map((alert) => alert.id));
      for (const id of retries.keys()) if (!stillPending.has(id)) retries.delete(id);
      return { pending: pending.length, delivered, failed };
    },
    async settled() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** "Org "Acme" reached 80% of its monthly limit of $100 in 2026-03 ($80.5 used)" */
export function describeAlert(alert: LimitAlert): string {
  const org = `"${alert.clientOrgName ?? alert.clientOrgId}"`;
  const who = alert.userId === '' ? `Org ${org}` : `User ${alert.userEmail ?? alert.userId} of org ${org}`;
  return (
    `${who} reached ${alert.thresholdPct}% of ${alert.userId === '' ? 'its' : 'their'} monthly limit of ` +
    `$${nanoToUsdString(alert.limitNanoUsd)} in ${alert.period} ($${nanoToUsdString(alert.usedNanoUsd)} used)`
  );
}

/** An alert as the API lists it and the webhook sends it. */
export function alertView(alert: LimitAlert) {
  return {
    id: alert.id,
    instance_id: alert.instanceId,
    client_org_id: alert.clientOrgId,
    client_org_name: alert.clientOrgName,
    scope: alert.userId === '' ? ('org' as const) : ('user' as const),
    user_id: alert.userId === '' ? null : alert.userId,
    user_email: alert.userEmail,
    user_name: alert.userName,
    period: alert.period,
    threshold_pct: alert.thresholdPct,
    limit_usd: nanoToUsdNumber(alert.limitNanoUsd),
    limit_nano_usd: alert.limitNanoUsd.toString(),
    used_usd: nanoToUsdNumber(alert.usedNanoUsd),
    used_nano_usd: alert.usedNanoUsd.toString(),
    created_at: alert.createdAt,
    message: describeAlert(alert),
  };
}

/** The API's view adds how delivery to the webhook went. */
export function alertListView(alert: LimitAlert, webhookConfigured: boolean) {
  const status =
    alert.deliveredAt !== null
      ? 'delivered'
      : !webhookConfigured
        ? 'not_configured'
        : alert.deliveryError !== null
          ? 'retrying'
          : 'pending';
  return {
    ...alertView(alert),
    delivery_status: status,
    delivered_at: alert.deliveredAt,
    delivery_error: alert.deliveryError,
  };
}

/** A month's alerts: every org's for the operator, this instance's orgs' for an admin. */
export async function visibleAlerts(
  db: Knex,
  principal: Principal,
  options: { instanceId: string; period: string; clientOrgId?: string },
): Promise<LimitAlert[]> {
  return listAlerts(db, {
    period: options.period,
    clientOrgId: options.clientOrgId,
    instanceId: principal.kind === 'operator' ? undefined : options.instanceId,
  });
}
