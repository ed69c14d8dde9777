import { describe, expect, it } from 'vitest';
import { RevLog } from './rev-log.js';
import type { Rev } from './store.js';

// Stand-ins: the log only stores and hands back references.
const rev = (main: number, sub: number): Rev => ({ main, sub }) as unknown as Rev;
const tags = (g: readonly Rev[] | undefined): string[] | undefined => g?.map((r) => `${r.main}.${r.sub}`);
const walk = (log: RevLog, r: number): string[] => {
  const out: string[] = [];
  for (let p = log.startOf(r); p < log.endOf(r); p++) out.push(`${log.at(p).main}.${log.at(p).sub}`);
  return out;
};

describe('RevLog', () => {
  it('holds each revision group in order, with empty groups', () => {
    const log = RevLog.fromGroups(5, [[rev(5, 0)], [], [rev(7, 0), rev(7, 1), rev(7, 2)]]);
    log.push([rev(8, 0)]);
    expect([log.first, log.count]).toEqual([5, 4]);
    expect(tags(log.group(5))).toEqual(['5.0']);
    expect(tags(log.group(6))).toEqual([]);
    expect(tags(log.group(7))).toEqual(['7.0', '7.1', '7.2']);
    expect(walk(log, 7)).toEqual(['7.0', '7.1', '7.2']);
    expect(tags(log.group(8))).toEqual(['8.0']);
    expect(log.group(4)).toBeUndefined();
    expect(log.group(9)).toBeUndefined();
    expect([log.changesBetween(5, 8), log.changesBetween(6, 7), log.changesBetween(6, 6), log.changesBetween(8, 8)]).toEqual([5, 3, 0, 1]);
  });

  it('copies a group out, so the caller may keep or change it', () => {
    const log = new RevLog(2);
    log.push([rev(2, 0), rev(2, 1)]);
    const g = log.group(2)!;
    g.pop();
    expect(tags(log.group(2))).toEqual(['2.0', '2.1']);
  });

  it('drops from the front and keeps positions valid across the trim', () => {
    const log = new RevLog(2);
    // Revision r holds r % 3 changes (some empty), so positions and revisions diverge.
    for (let r = 2; r < 5002; r++) log.push(Array.from({ length: r % 3 }, (_, i) => rev(r, i)));
    for (let n = 0; n < 3000; n++) {
      log.dropFirst();
      expect(log.first).toBe(3 + n);
      // Spot-check the front, the middle and the end after every drop (trims happen at >1024).
      for (const r of [log.first, log.first + 700, 5001]) expect(walk(log, r)).toEqual(Array.from({ length: r % 3 }, (_, i) => `${r}.${i}`));
    }
    expect(log.count).toBe(5002 - 3002);
    expect(log.holds(3001)).toBe(false);
    expect(log.holds(3002)).toBe(true);
    log.push([rev(5002, 0)]);
    expect(tags(log.group(5002))).toEqual(['5002.0']);
  });

  it('drops to empty and goes on from the next revision', () => {
    const log = new RevLog(2);
    log.push([rev(2, 0)]);
    log.dropFirst();
    expect([log.first, log.count]).toEqual([3, 0]);
    log.dropFirst(); // nothing held: no change
    expect([log.first, log.count]).toEqual([3, 0]);
    log.push([rev(3, 0)]);
    expect(tags(log.group(3))).toEqual(['3.0']);
  });
});
