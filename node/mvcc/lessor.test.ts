import { describe, expect, it } from 'vitest';
import { Lessor, type LeaseRecord } from './lessor.js';

const rec = (id: number, ttl: number): LeaseRecord => ({ id, ttl, remainingTtl: 0, keys: new Set() });

describe('lessor', () => {
  it('lists leases soonest expiry first on the leader (etcd LeaseLeases), as given on a follower', () => {
    const leases = new Map([rec(1, 600), rec(2, 300), rec(3, 900)].map((l) => [l.id, l]));
    const lessor = new Lessor(() => leases);
    expect(lessor.byExpiry([1, 2, 3], 0)).toEqual([1, 2, 3]);
    lessor.promote(0, 0);
    expect(lessor.byExpiry([1, 2, 3], 0)).toEqual([2, 1, 3]);
    lessor.renew(2, 400_000); // 2 now expires at 700 s, after 1 (600 s)
    expect(lessor.byExpiry([1, 2, 3], 400_000)).toEqual([1, 2, 3]);
  });
});
