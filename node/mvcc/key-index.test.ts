// The key index (B+tree) against a sorted model: its order, its ranges, and its live counts.
import { describe, expect, it } from 'vitest';
import { KeyIndex } from './key-index.js';
import { TestRng } from './testing/rng.js';

describe('key index (B+tree)', () => {
  it('matches a sorted array under random inserts and deletes', () => {
    const rng = new TestRng(77);
    const t = new KeyIndex<number>();
    const model = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const k = `k${rng.int(3000).toString(36)}`;
      if (rng.chance(0.6)) {
        t.set(k, i);
        model.set(k, i);
      } else {
        expect(t.delete(k)).toBe(model.delete(k));
      }
      if (i % 2000 === 0) t.checkInvariants();
    }
    t.checkInvariants();
    const sorted = [...model.keys()].sort();
    const seen: string[] = [];
    t.visit('', undefined, (k, v) => {
      expect(v).toBe(model.get(k));
      seen.push(k);
      return true;
    });
    expect(seen).toEqual(sorted);
    const part: string[] = [];
    t.visit('k1', 'k3', (k) => (part.push(k), true));
    expect(part).toEqual(sorted.filter((k) => k >= 'k1' && k < 'k3'));
    for (const k of sorted) t.delete(k);
    t.checkInvariants();
    expect(t.size).toBe(0);
  });

  it('counts the live entries of any range as a walk of it would, through splits, deletes and flips', () => {
    const SEED = 20261206;
    console.log(`key-index live-count seed ${SEED}`);
    const rng = new TestRng(SEED);
    // Entries are boxes whose `live` flag the owner flips and then reports, as the store does.
    const t = new KeyIndex<{ live: boolean }>((v) => v.live);
    const model = new Map<string, { live: boolean }>();
    const key = (): string => `k${rng.int(5000).toString(36).padStart(3, '0')}`;
    const walkCount = (start: string, end: string | undefined): number => {
      let n = 0;
      for (const [k, v] of model) if (k >= start && (end === undefined || k < end) && v.live) n++;
      return n;
    };
    for (let i = 0; i < 30_000; i++) {
      const k = key();
      const cur = model.get(k);
      const roll = rng.int(10);
      if (cur === undefined || roll < 2) {
        const v = { live: rng.chance(0.7) };
        t.set(k, v);
        model.set(k, v);
      } else if (roll < 4) {
        expect(t.delete(k)).toBe(true);
        model.delete(k);
      } else {
        cur.live = !cur.live;
        t.adjustLive(k, cur.live ? 1 : -1);
      }
      if (i % 1000 === 0) {
        t.checkInvariants();
        for (let q = 0; q < 20; q++) {
          const a = key();
          const b = rng.chance(0.2) ? undefined : key();
          expect({ i, a, b, n: t.countLive(a, b) }).toEqual({ i, a, b, n: walkCount(a, b) });
        }
      }
    }
    t.checkInvariants();
    expect(t.countLive('', undefined)).toBe(walkCount('', undefined));
    for (const k of [...model.keys()]) t.delete(k);
    t.checkInvariants();
    expect(t.countLive('', undefined)).toBe(0);
  });
});
