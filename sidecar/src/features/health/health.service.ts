/** What /readyz reports beyond the database: migrations and each scheduled job's last run. */
export type JobOutcome = {
  name: string;
  lastRunAt: string | null;
  ok: boolean | null;
  durationMs: number | null;
  error: string | null;
};

export type Health = {
  /**
   * pending: not run yet, or waiting for the migration lock another process holds; failed: a
   * step failed (retried with backoff); done: the schema is current and the backlog rolled up.
   */
  migrations: { state: 'pending' | 'done' | 'failed'; error: string | null; version: string | null };
  jobs: Map<string, JobOutcome>;
};

export function createHealth(): Health {
  return { migrations: { state: 'pending', error: null, version: null }, jobs: new Map() };
}
