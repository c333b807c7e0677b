import { DateTime } from 'luxon';

/**
 * NBP publishes tables on Polish working days only. Knowing the calendar lets the statutory
 * rate be trusted from stored rows without asking NBP: if every day between a stored table
 * and the cost day is a weekend or public holiday, that table is the last one before it.
 * When the calendar and NBP disagree (a one-off holiday such as 2018-11-12), NBP's answer wins.
 */

export const NBP_TIME_ZONE = 'Europe/Warsaw';

/** Easter Sunday (Gregorian, anonymous algorithm) as 'YYYY-MM-DD'. */
export function easterSunday(year: number): string {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const cache = new Map<number, Set<string>>();

/** Statutory non-working days in Poland (ustawa o dniach wolnych od pracy) for a year. */
export function polishPublicHolidays(year: number): Set<string> {
  const known = cache.get(year);
  if (known) return known;
  const easter = DateTime.fromISO(easterSunday(year), { zone: 'utc' });
  const fromEaster = (days: number) => easter.plus({ days }).toISODate() ?? '';
  const fixed = ['01-01', '05-01', '05-03', '08-15', '11-01', '11-11', '12-25', '12-26'];
  if (year >= 2011) fixed.push('01-06'); // Epiphany, restored in 2011
  if (year >= 2025) fixed.push('12-24'); // Christmas Eve, a holiday since 2025
  const days = new Set([
    ...fixed.map((monthDay) => `${year}-${monthDay}`),
    fromEaster(0),
    fromEaster(1), // Easter Monday
    fromEaster(49), // Pentecost Sunday
    fromEaster(60), // Corpus Christi
  ]);
  if (year === 2018) days.add('2018-11-12'); // one-off: centenary of independence
  cache.set(year, days);
  return days;
}

/** Whether NBP publishes tables on this 'YYYY-MM-DD' day. */
export function isNbpBusinessDay(day: string): boolean {
  const date = DateTime.fromISO(day, { zone: 'utc' });
  if (!date.isValid) throw new RangeError(`invalid day: ${day}`);
  return date.weekday <= 5 && !polishPublicHolidays(date.year).has(day);
}
