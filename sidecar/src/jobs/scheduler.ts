import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Health } from '../features/health/health.service.js';

/** When a job runs: a cron expression in a time zone, or a fixed interval. */
export type JobSchedule = { cron: string; timezone: string } | { everySeconds: number };

export type JobDefinition = {
  name: string;
  schedule: JobSchedule;
  /** Returns a short summary for the log, or nothing. */
  run(): Promise<unknown>;
};

export type Scheduler = {
  start(): void;
  /** Runs a job now, or joins the run already in progress: a job never runs twice at once. */
  runNow(name: string): Promise<unknown>;
  stop(): Promise<void>;
};

export type JobObserver = (outcome: { name: string; ok: boolean; durationMs: number }) => void;

export function createScheduler(deps: {
  jobs: JobDefinition[];
  health: Health;
  logger: Logger;
  /** Told of every finished run (metrics). */
  observe?: JobObserver;
}): Scheduler {
  const running = new Map<string, Promise<unknown>>();
  const stops: (() => void)[] = [];

  for (const job of deps.jobs) {
    deps.health.jobs.set(job.name, { name: job.name, lastRunAt: null, ok: null, durationMs: null, error: null });
  }

  function runNow(name: string): Promise<unknown> {
    const job = deps.jobs.find((candidate) => candidate.name === name);
    if (!job) return Promise.reject(new Error(`unknown job ${name}`));
    const inProgress = running.get(name);
    if (inProgress) return inProgress;
    const startedAt = new Date();
    const finished = (ok: boolean, error: string | null) => {
      const durationMs = Date.now() - startedAt.getTime();
      deps.health.jobs.set(name, { name, lastRunAt: startedAt.toISOString(), ok, durationMs, error });
      try {
        deps.observe?.({ name, ok, durationMs });
      } catch (observerError) {
        deps.logger.warn({ err: observerError, job: name }, 'job observer failed');
      }
    };
    const run = (async () => {
      try {
        const summary = await job.run();
        finished(true, null);
        deps.logger.info({ job: name, durationMs: Date.now() - startedAt.getTime(), summary }, `job ${name} done`);
        return summary;
      } catch (error) {
        finished(false, error instanceof Error ? error.message : String(error));
        deps.logger.error({ job: name, err: error }, `job ${name} failed`);
        throw error;
      } finally {
        running.delete(name);
      }
    })();
    running.set(name, run);
    return run;
  }

  // Scheduled runs swallow the error after recording it; runNow's callers see it.
  const fire = (name: string) => () => void runNow(name).catch(() => undefined);

  return {
    start() {
      for (const job of deps.jobs) {
        if ('cron' in job.schedule) {
          const task: ScheduledTask = cron.schedule(job.schedule.cron, fire(job.name), {
            timezone: job.schedule.timezone,
            name: job.name,
          });
          stops.push(() => void task.stop());
        } else {
          const timer = setInterval(fire(job.name), job.schedule.everySeconds * 1000);
          timer.unref();
          stops.push(() => clearInterval(timer));
        }
      }
    },
    runNow,
    async stop() {
      for (const stop of stops.splice(0)) stop();
      await Promise.allSettled([...running.values()]);
    },
  };
}
