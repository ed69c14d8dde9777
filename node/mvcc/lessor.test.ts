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

  it('does not renew a lease whose revoke is in flight (etcd waits for the revoke), and a new leader starts over', () => {
    // Found by the whole-member simulator (test/sim/FOUND-BUGS.md, W1): the keep-alive was
    // answered with the full TTL 100 ms before the revoke already proposed was applied.
    const leases = new Map([rec(1n, 4)].map((l) => [l.id, l]));
    const lessor = new Lessor(() => leases);
    lessor.promote(0, 0);
    expect(lessor.expired(4000, 10)).toEqual([1n]);
    expect(lessor.renew(1n, 4100)).toEqual({ TTL: 4, clearCheckpoint: false, revoking: true });
    // The revoke failed to commit and leadership moved: the new leader counts from the full TTL.
    lessor.demote();
    lessor.promote(5000, 1000);
    expect(lessor.renew(1n, 5100)).toEqual({ TTL: 4, clearCheckpoint: false });
    expect(lessor.expired(9099, 10)).toEqual([]);
    expect(lessor.expired(9100, 10)).toEqual([1n]);
  });
});
