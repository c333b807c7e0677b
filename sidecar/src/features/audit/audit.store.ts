import type { Db } from '../../db/dialect.js';
import type { Principal } from '../../http/auth.js';

export type AuditEntry = {
  actor: string;
  action: string;
  targetType: string;
  targetId: string | null;
  /** Never a secret: callers pass masked labels, not keys. */
  details: Record<string, unknown>;
  requestId: string | null;
};

export function actorOf(principal: Principal): string {
  return principal.kind === 'admin' || principal.kind === 'user'
    ? `${principal.kind}:${principal.userId}`
    : principal.kind;
}

export async function recordAudit(db: Db, entry: AuditEntry, at: string): Promise<void> {
  await db('audit_log').insert({
    at,
    actor: entry.actor,
    action: entry.action,
    target_type: entry.targetType,
    target_id: entry.targetId,
    details: JSON.stringify(entry.details, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    ),
    request_id: entry.requestId,
  });
}
