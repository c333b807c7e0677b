import { describe, expect, it } from 'vitest';
import {
  addDays,
  dayStartUtc,
  daysBetween,
  isDay,
  isMonth,
  isValidTimeZone,
  localDay,
  monthDays,
  monthOf,
  nextMonthStart,
  today,
} from './time.js';

const WARSAW = 'Europe/Warsaw';

describe('localDay in Europe/Warsaw', () => {
  it.each([
    // Spring forward, 29 March 2026: 02:00 CET becomes 03:00 CEST (a 23-hour day).
    ['2026-03-28T22:59:59Z', '2026-03-28'], // 23:59:59 CET
    ['2026-03-28T23:00:00Z', '2026-03-29'], // 00:00 CET
    ['2026-03-29T00:59:59Z', '2026-03-29'], // 01:59:59 CET, just before the jump
    ['2026-03-29T01:00:00Z', '2026-03-29'], // 03:00 CEST
    ['2026-03-29T21:59:59Z', '2026-03-29'], // 23:59:59 CEST
    ['2026-03-29T22:00:00Z', '2026-03-30'], // 00:00 CEST
    // Fall back, 25 October 2026: 03:00 CEST becomes 02:00 CET (a 25-hour day).
    ['2026-10-24T21:59:59Z', '2026-10-24'], // 23:59:59 CEST
    ['2026-10-24T22:00:00Z', '2026-10-25'], // 00:00 CEST
    ['2026-10-25T00:30:00Z', '2026-10-25'], // 02:30 CEST, first pass
    ['2026-10-25T01:30:00Z', '2026-10-25'], // 02:30 CET, second pass
    ['2026-10-25T22:59:59Z', '2026-10-25'], // 23:59:59 CET
    ['2026-10-25T23:00:00Z', '2026-10-26'], // 00:00 CET
    // Month and year ends.
    ['2026-01-31T22:59:59Z', '2026-01-31'],
    ['2026-01-31T23:00:00Z', '2026-02-01'],
    ['2026-04-30T21:59:59.999Z', '2026-04-30'],
    ['2026-04-30T22:00:00Z', '2026-05-01'],
    ['2026-12-31T22:59:59Z', '2026-12-31'],
    ['2026-12-31T23:00:00Z', '2027-01-01'],
  ])('%s is local day %s', (instant, day) => {
    expect(localDay(instant, WARSAW)).toBe(day);
    expect(localDay(new Date(instant), WARSAW)).toBe(day);
    expect(today(WARSAW, new Date(instant))).toBe(day);
  });

  it('reads an instant written with an offset as that instant', () => {
    expect(localDay('2026-03-10T00:30:00+01:00', WARSAW)).toBe('2026-03-10');
    expect(localDay('2026-03-10T00:30:00+01:00', 'UTC')).toBe('2026-03-09');
  });

  it('rejects an instant it cannot read', () => {
    expect(() => localDay('not a date', WARSAW)).toThrow(RangeError);
  });
});

describe('day starts and month starts', () => {
  it.each([
    ['2026-03-28', '2026-03-27T23:00:00.000Z'],
    ['2026-03-29', '2026-03-28T23:00:00.000Z'],
    ['2026-03-30', '2026-03-29T22:00:00.000Z'],
    ['2026-10-25', '2026-10-24T22:00:00.000Z'],
    ['2026-10-26', '2026-10-25T23:00:00.000Z'],
  ])('local day %s starts at %s', (day, start) => {
    expect(dayStartUtc(day, WARSAW)).toBe(start);
  });

  it.each([
    ['2026-01-01', '2026-02-01T00:00:00.000+01:00'],
    ['2026-03-29', '2026-04-01T00:00:00.000+02:00'], // DST in between: the offset changes
    ['2026-03-31', '2026-04-01T00:00:00.000+02:00'],
    ['2026-10-25', '2026-11-01T00:00:00.000+01:00'],
    ['2026-12-31', '2027-01-01T00:00:00.000+01:00'],
    ['2028-02-29', '2028-03-01T00:00:00.000+01:00'],
  ])('nextMonthStart(%s) is %s', (day, start) => {
    expect(nextMonthStart(day, WARSAW)).toBe(start);
    // It is the instant the next local month's first day starts.
    expect(new Date(nextMonthStart(day, WARSAW)).toISOString()).toBe(dayStartUtc(start.slice(0, 10), WARSAW));
  });
});

describe('calendar helpers', () => {
  it('validates days and months', () => {
    expect(isDay('2026-02-28')).toBe(true);
    expect(isDay('2026-02-29')).toBe(false);
    expect(isDay('2028-02-29')).toBe(true);
    expect(isDay('2026-13-01')).toBe(false);
    expect(isDay('2026-1-01')).toBe(false);
    expect(isDay('2026-01-01T00:00')).toBe(false);
    expect(isMonth('2026-12')).toBe(true);
    expect(isMonth('2026-13')).toBe(false);
    expect(isMonth('2026-00')).toBe(false);
    expect(isMonth('2026-1')).toBe(false);
  });

  it('gives first and last day of a month', () => {
    expect(monthDays('2026-02')).toEqual({ from: '2026-02-01', to: '2026-02-28' });
    expect(monthDays('2028-02')).toEqual({ from: '2028-02-01', to: '2028-02-29' });
    expect(monthDays('2026-03')).toEqual({ from: '2026-03-01', to: '2026-03-31' });
    expect(monthDays('2026-04')).toEqual({ from: '2026-04-01', to: '2026-04-30' });
    expect(monthDays('2026-12')).toEqual({ from: '2026-12-01', to: '2026-12-31' });
    expect(monthOf('2026-10-25')).toBe('2026-10');
  });

  it('counts and steps days as calendar days, not 24-hour spans', () => {
    expect(daysBetween('2026-03-01', '2026-03-31')).toBe(31);
    expect(daysBetween('2026-10-01', '2026-10-31')).toBe(31);
    expect(daysBetween('2026-03-29', '2026-03-29')).toBe(1);
    expect(daysBetween('2026-01-01', '2026-12-31')).toBe(365);
    expect(addDays('2026-03-28', 1)).toBe('2026-03-29');
    expect(addDays('2026-03-29', 1)).toBe('2026-03-30');
    expect(addDays('2026-10-25', 1)).toBe('2026-10-26');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });

  it('knows which time zones exist', () => {
    expect(isValidTimeZone('Europe/Warsaw')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});
