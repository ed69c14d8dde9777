import { describe, expect, it } from 'vitest';
import { SimRng } from '../../test/sim/rng.js';
import { cronMatches, latestScheduledMinute, parseCron, utcFields, utcIso, type CronSchedule } from './cron.js';

const at = (iso: string): number => Date.parse(iso);
const sched = (text: string): CronSchedule => {
  const p = parseCron(text);
  if (!p.ok) throw new Error(p.error);
  return p.schedule;
};

describe('utcFields (calendar arithmetic without Date)', () => {
  it('agrees with Date for seeded random instants from 1970 to 2400', () => {
    const seed = 1302;
    console.log(`cron utcFields seed ${seed}`);
    const rng = new SimRng(seed);
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor(rng.float() * 13_569_465_600_000);
      const d = new Date(ms);
      expect(utcIso(ms)).toBe(d.toISOString());
      expect(utcFields(ms), `${d.toISOString()} (seed ${seed})`).toEqual({
        year: d.getUTCFullYear(),
        month: d.getUTCMonth() + 1,
        day: d.getUTCDate(),
        hour: d.getUTCHours(),
        minute: d.getUTCMinutes(),
        dayOfWeek: d.getUTCDay(),
      });
    }
  });
  it('handles leap days and the turn of centuries', () => {
    expect(utcFields(at('2024-02-29T23:59:00Z'))).toMatchObject({ year: 2024, month: 2, day: 29, dayOfWeek: 4 });
    expect(utcFields(at('2100-03-01T00:00:00Z'))).toMatchObject({ year: 2100, month: 3, day: 1 });
    expect(utcFields(at('2000-02-29T12:00:00Z'))).toMatchObject({ month: 2, day: 29 });
  });
});

describe('parseCron', () => {
  it('reads numbers, ranges, steps, lists, names and macros', () => {
    const s = sched('*/15 1-3,22 1 JAN-mar mon-FRI');
    expect([...s.minutes]).toEqual([0, 15, 30, 45]);
    expect([...s.hours]).toEqual([1, 2, 3, 22]);
    expect([...s.months]).toEqual([1, 2, 3]);
    expect([...s.daysOfWeek]).toEqual([1, 2, 3, 4, 5]);
    expect(s.dayOr).toBe(true);
    expect([...sched('5/20 * * * *').minutes]).toEqual([5, 25, 45]);
    expect([...sched('0 0 * * 7').daysOfWeek]).toEqual([0]);
    expect(sched('@daily')).toEqual(sched('0 0 * * *'));
    expect(sched('@weekly').daysOfWeek).toEqual(new Set([0]));
    expect(sched('@hourly').hours.size).toBe(24);
  });
  it('refuses what it cannot read, saying which field', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /expected 5 fields/],
      ['* * * *', /expected 5 fields/],
      ['0 0 * * * *', /expected 5 fields/],
      ['60 * * * *', /minute: "60"/],
      ['* 24 * * *', /hour: "24"/],
      ['* * 0 * *', /day of month: "0"/],
      ['* * * 13 *', /month: "13"/],
      ['* * * * 8', /day of week: "8"/],
      ['*/0 * * * *', /step must be at least 1/],
      ['5-1 * * * *', /runs backwards/],
      ['a * * * *', /minute: "a"/],
      ['@sometimes', /unknown macro/],
      ['1,,2 * * * *', /cannot read ""/],
    ];
    for (const [text, why] of bad) {
      const p = parseCron(text);
      expect(p.ok, text).toBe(false);
      if (!p.ok) expect(p.error, text).toMatch(why);
    }
  });
});

describe('cronMatches and latestScheduledMinute', () => {
  it('matches the minute, hour, day and month in UTC', () => {
    const s = sched('30 3 * * *');
    expect(cronMatches(s, at('2026-12-02T03:30:00Z'))).toBe(true);
    expect(cronMatches(s, at('2026-12-02T03:30:59Z'))).toBe(true);
    expect(cronMatches(s, at('2026-12-02T03:31:00Z'))).toBe(false);
    expect(cronMatches(s, at('2026-12-02T04:30:00Z'))).toBe(false);
  });
  it('day-of-month and day-of-week: AND when one is *, OR when both are restricted (Vixie cron)', () => {
    // 2026-12-01 is a Tuesday, 2026-12-02 a Wednesday.
    expect(cronMatches(sched('0 0 1 * *'), at('2026-12-01T00:00:00Z'))).toBe(true);
    expect(cronMatches(sched('0 0 * * WED'), at('2026-12-01T00:00:00Z'))).toBe(false);
    expect(cronMatches(sched('0 0 * * WED'), at('2026-12-02T00:00:00Z'))).toBe(true);
    expect(cronMatches(sched('0 0 1 * WED'), at('2026-12-02T00:00:00Z'))).toBe(true);
    expect(cronMatches(sched('0 0 1 * WED'), at('2026-12-01T00:00:00Z'))).toBe(true);
    expect(cronMatches(sched('0 0 1 * WED'), at('2026-12-03T00:00:00Z'))).toBe(false);
  });
  it('finds the latest scheduled minute inside the window only', () => {
    const s = sched('0 3 * * *');
    const hour = 3_600_000;
    expect(latestScheduledMinute(s, at('2026-12-02T03:00:00Z'), hour)).toBe(at('2026-12-02T03:00:00Z'));
    expect(latestScheduledMinute(s, at('2026-12-02T03:59:30Z'), hour)).toBe(at('2026-12-02T03:00:00Z'));
    expect(latestScheduledMinute(s, at('2026-12-02T04:00:00Z'), hour)).toBeNull();
    expect(latestScheduledMinute(s, at('2026-12-02T02:59:59Z'), hour)).toBeNull();
    expect(latestScheduledMinute(sched('*/10 * * * *'), at('2026-12-02T03:27:00Z'), hour)).toBe(at('2026-12-02T03:20:00Z'));
  });
});
