import { describe, expect, it } from 'vitest';
import { Lessor, type LeaseRecord } from './lessor.js';

const rec = (id: bigint, ttl: number): LeaseRecord => ({ id, ttl, remainingTtl: 0, keys: new Set() });

describe('lessor', () => {
  it('lists leases soonest expiry first on the leader (etcd LeaseLeases), as given on a follower', () => {
    const leases = new Map([rec(1n, 600), rec(2n, 300), rec(3n, 900)].map((l) => [l.id, l]));
    const lessor = new Lessor(() => leases);
    expect(lessor.byExpiry([1n, 2n, 3n], 0)).toEqual([1n, 2n, 3n]);
    lessor.promote(0, 0);
    expect(lessor.byExpiry([1n, 2n, 3n], 0)).toEqual([2n, 1n, 3n]);
    lessor.renew(2n, 400_000); // 2 now expires at 700 s, after 1 (600 s)
    expect(lessor.byExpiry([1n, 2n, 3n], 400_000)).toEqual([1n, 2n, 3n]);
  });
});
