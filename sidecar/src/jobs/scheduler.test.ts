import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createHealth } from '../features/health/health.service.js';
import { createScheduler } from './scheduler.js';

describe('scheduler', () => {
  it('never runs a job twice at once and records each outcome for /readyz', async () => {
    const health = createHealth();
    let runs = 0;
    let release: () => void = () => undefined;
    const scheduler = createScheduler({
      health,
      logger: pino({ level: 'silent' }),
      jobs: [
        {
          name: 'slow',
          schedule: { everySeconds: 3600 },
          run: async () => {
            runs += 1;
            await new Promise<void>((resolve) => (release = resolve));
            return 'done';
          },
        },
        { name: 'broken', schedule: { everySeconds: 3600 }, run: async () => Promise.reject(new Error('NBP said no')) },
      ],
    });
    expect(health.jobs.get('slow')).toMatchObject({ ok: null, lastRunAt: null });
    const first = scheduler.runNow('slow');
    const second = scheduler.runNow('slow');
    release();
    expect(await Promise.all([first, second])).toEqual(['done', 'done']);
    expect(runs).toBe(1);
    expect(health.jobs.get('slow')).toMatchObject({ ok: true, error: null });
    await expect(scheduler.runNow('broken')).rejects.toThrow('NBP said no');
    expect(health.jobs.get('broken')).toMatchObject({ ok: false, error: 'NBP said no' });
    await scheduler.stop();
  });

  it('fires interval jobs on their schedule and stops them', async () => {
    let runs = 0;
    const scheduler = createScheduler({
      health: createHealth(),
      logger: pino({ level: 'silent' }),
      jobs: [{ name: 'tick', schedule: { everySeconds: 0.05 }, run: async () => void (runs += 1) }],
    });
    scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await scheduler.stop();
    const after = runs;
    expect(after).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(runs).toBe(after);
  });
});
