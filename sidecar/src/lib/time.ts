import { DateTime } from 'luxon';

/** Days are 'YYYY-MM-DD' in the billing time zone; months 'YYYY-MM'. Instants are UTC ISO text. */

export function isValidTimeZone(zone: string): boolean {
  return DateTime.now().setZone(zone).isValid;
}

/** The local calendar day of an instant in the given zone. */
export function localDay(instant: Date | string, zone: string): string {
  const at = typeof instant === 'string' ? DateTime.fromISO(instant, { zone: 'utc' }) : DateTime.fromJSDate(instant);
  const day = at.setZone(zone).toISODate();
  if (!day) throw new RangeError(`invalid instant: ${String(instant)}`);
  return day;
}

export function today(zone: string, now: Date = new Date()): string {
  return localDay(now, zone);
}

export function monthOf(day: string): string {
  return day.slice(0, 7);
}

export function isDay(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && DateTime.fromISO(value).isValid;
}

export function isMonth(value: string): boolean {
  return /^\d{4}-\d{2}$/.test(value) && DateTime.fromISO(`${value}-01`).isValid;
}

/** First and last day of a month. */
export function monthDays(month: string): { from: string; to: string } {
  const start = DateTime.fromISO(`${month}-01`, { zone: 'utc' });
  return { from: month + '-01', to: start.endOf('month').toISODate() ?? `${month}-28` };
}

export function addDays(day: string, days: number): string {
  return DateTime.fromISO(day, { zone: 'utc' }).plus({ days }).toISODate() ?? day;
}

/** Whole days from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): number {
  const a = DateTime.fromISO(from, { zone: 'utc' });
  const b = DateTime.fromISO(to, { zone: 'utc' });
  return Math.round(b.diff(a, 'days').days) + 1;
}

/** The instant a local day starts (DST-correct), as UTC ISO text. */
export function dayStartUtc(day: string, zone: string): string {
  const start = DateTime.fromISO(day, { zone }).startOf('day');
  return start.toUTC().toISO() ?? '';
}

/** When the month containing `day` ends, i.e. the next month starts, in local ISO with offset. */
export function nextMonthStart(day: string, zone: string): string {
  return DateTime.fromISO(day, { zone }).startOf('month').plus({ months: 1 }).toISO() ?? '';
}
