import { describe, expect, it } from 'vitest';
import type { Event, WatchResponse } from '../mvcc/types.js';
import { fragmentWatchResponse } from './watch-fragment.js';

const ev = (n: number): Event => ({ type: 0, kv: { key: Buffer.from(`k${n}`), value: Buffer.alloc(100), createRevision: n, modRevision: n, version: 1, lease: 0n } });
const resp = (events: Event[]): WatchResponse => ({ header: { clusterId: 1n, memberId: 2n, revision: 9, raftTerm: 3 }, watchId: 4, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events });
// A stand-in size: 100 bytes an event plus 10 for the rest.
const size = (r: WatchResponse): number => 10 + 100 * r.events.length;

describe('watch fragmentation (etcd sendFragments)', () => {
  it('cuts a response at or above the limit into pieces below it, all marked fragment but the last', () => {
    const pieces = fragmentWatchResponse(resp([1, 2, 3, 4, 5].map(ev)), 250, size);
    expect(pieces.map((p) => p.events.map((e) => e.kv.modRevision))).toEqual([[1, 2], [3, 4], [5]]);
    expect(pieces.map((p) => p.fragment)).toEqual([true, true, false]);
    expect(pieces.every((p) => p.watchId === 4 && p.header.revision === 9)).toBe(true);
  });

  it('sends whole a response below the limit, or with one event; a lone event above the limit is a piece of its own', () => {
    expect(fragmentWatchResponse(resp([1, 2].map(ev)), 211, size)).toHaveLength(1);
    expect(fragmentWatchResponse(resp([ev(1)]), 50, size)).toHaveLength(1);
    const pieces = fragmentWatchResponse(resp([1, 2, 3].map(ev)), 50, size);
    expect(pieces.map((p) => p.events.length)).toEqual([1, 1, 1]);
    expect(pieces.map((p) => p.fragment)).toEqual([true, true, false]);
  });
});
