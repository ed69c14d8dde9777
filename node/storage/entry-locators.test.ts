import { describe, expect, it } from 'vitest';
import { EntryLocators } from './entry-locators.js';

const spans = (l: EntryLocators, lo: number, hi: number): string[] => l.covering(lo, hi).map((x) => `${x.path}@${x.offset}:${x.first}-${x.last}`);

describe('EntryLocators', () => {
  it('finds the records holding a range, in order', () => {
    const l = new EntryLocators();
    l.add({ path: 'a', offset: 0, first: 1, last: 3 });
    l.add({ path: 'a', offset: 100, first: 4, last: 4 });
    l.add({ path: 'b', offset: 0, first: 5, last: 9 });
    expect(l.lastIndex()).toBe(9);
    expect(spans(l, 1, 2)).toEqual(['a@0:1-3']);
    expect(spans(l, 3, 6)).toEqual(['a@0:1-3', 'a@100:4-4', 'b@0:5-9']);
    expect(spans(l, 10, 12)).toEqual([]);
  });

  it('a record starting at or below located indexes supersedes them (a truncated log)', () => {
    const l = new EntryLocators();
    l.add({ path: 'a', offset: 0, first: 1, last: 5 });
    l.add({ path: 'a', offset: 64, first: 6, last: 10 });
    l.add({ path: 'a', offset: 128, first: 4, last: 7 });
    expect(spans(l, 1, 11)).toEqual(['a@0:1-3', 'a@128:4-7']);
    expect(l.lastIndex()).toBe(7);
    l.add({ path: 'a', offset: 192, first: 1, last: 1 });
    expect(spans(l, 1, 11)).toEqual(['a@192:1-1']);
  });

  it('forgets the records holding only released indexes', () => {
    const l = new EntryLocators();
    l.add({ path: 'a', offset: 0, first: 1, last: 5 });
    l.add({ path: 'a', offset: 64, first: 6, last: 10 });
    l.add({ path: 'b', offset: 0, first: 11, last: 12 });
    l.dropBefore(8);
    expect(spans(l, 1, 13)).toEqual(['a@64:6-10', 'b@0:11-12']);
    l.dropBefore(11);
    expect(spans(l, 1, 13)).toEqual(['b@0:11-12']);
    expect(l.lastIndex()).toBe(12);
  });

});
