import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { POLISH_HOLIDAYS } from '../../../../test/fakes/nbp/fake-nbp.js';
import { easterSunday, isNbpBusinessDay } from './nbp.calendar.js';

describe('NBP business days', () => {
  it('knows Easter', () => {
    expect(['2024', '2025', '2026', '2027', '2038'].map((y) => easterSunday(Number(y)))).toEqual([
      '2024-03-31',
      '2025-04-20',
      '2026-04-05',
      '2027-03-28',
      '2038-04-25',
    ]);
  });

  it('skips weekends and Polish public holidays, Wigilia from 2025 on', () => {
    expect(isNbpBusinessDay('2025-12-23')).toBe(true);
    for (const day of ['2025-12-24', '2025-12-25', '2025-12-26', '2025-12-27', '2025-12-28']) {
      expect(isNbpBusinessDay(day), day).toBe(false);
    }
    expect(isNbpBusinessDay('2024-12-24')).toBe(true); // before the 2025 law
    expect(isNbpBusinessDay('2026-04-06')).toBe(false); // Easter Monday
    expect(isNbpBusinessDay('2026-06-04')).toBe(false); // Corpus Christi
    expect(isNbpBusinessDay('2026-01-06')).toBe(false); // Epiphany
    expect(isNbpBusinessDay('2026-01-02')).toBe(true);
  });

  it('agrees, day by day for 2016 and 2024–2026, with the hand-written list the fake NBP uses', () => {
    const disagreements: string[] = [];
    for (let d = DateTime.fromISO('2016-01-01', { zone: 'utc' }); d.year <= 2026; d = d.plus({ days: 1 })) {
      const day = d.toISODate()!;
      if (d.year > 2016 && d.year < 2024) continue;
      if (isNbpBusinessDay(day) !== (d.weekday <= 5 && !POLISH_HOLIDAYS.has(day))) disagreements.push(day);
    }
    expect(disagreements).toEqual([]);
  });
});
