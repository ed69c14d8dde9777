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
    lessor.renew(1n, 250_000); // 1 now expires at 850 s, after 2 (300 s), before 3 (900 s)
    expect(lessor.byExpiry([1n, 2n, 3n], 250_000)).toEqual([2n, 1n, 3n]);
    lessor.renew(1n, 299_000); // 899 s
    lessor.renew(2n, 299_000); // 599 s
    expect(lessor.byExpiry([1n, 2n, 3n], 299_000)).toEqual([2n, 1n, 3n]);
    lessor.renew(1n, 301_000); // 901 s: now after 3
    expect(lessor.byExpiry([1n, 2n, 3n], 301_000)).toEqual([2n, 3n, 1n]);
  });

  it('does not renew an expired lease: its keep-alive answers TTL 0, before and after the revoke is handed out (etcd waits for the revoke)', () => {
    const leases = new Map([rec(1n, 2), rec(2n, 2)].map((l) => [l.id, l]));
    const lessor = new Lessor(() => leases);
    lessor.promote(0, 0);
    expect(lessor.renew(1n, 1000).TTL).toBe(2); // 1 now expires at 3 s, 2 at 2 s
    // 2 s: lease 2 is due, though housekeeping has not run yet.
    expect(lessor.renew(2n, 2000)).toEqual({ TTL: 0, clearCheckpoint: false, expired: true });
    expect(lessor.expired(2000, 10)).toEqual([2n]);
    // The revoke is in flight: a keep-alive must not bring the lease back.
    expect(lessor.renew(2n, 2001)).toEqual({ TTL: 0, clearCheckpoint: false, expired: true });
    // A lease that does not exist is just not found.
    expect(lessor.renew(9n, 2001)).toEqual({ TTL: 0, clearCheckpoint: false });
    expect(lessor.renew(1n, 2001).TTL).toBe(2);
    // A new leader starts over: the lease was never revoked, so it lives (extended) and renews.
    lessor.demote();
    lessor.promote(5000, 1000);
    expect(lessor.renew(2n, 5001).TTL).toBe(2);
  });

  it('does not renew a lease whose revoke is in flight (etcd waits for the revoke), and a new leader starts over', () => {
    // Found by the whole-member simulator (test/sim/FOUND-BUGS.md, W1): the keep-alive was
    // answered with the full TTL 100 ms before the revoke already proposed was applied.
    const leases = new Map([rec(1n, 4)].map((l) => [l.id, l]));
    const lessor = new Lessor(() => leases);
    lessor.promote(0, 0);
    expect(lessor.expired(4000, 10)).toEqual([1n]);
    expect(lessor.renew(1n, 4100)).toEqual({ TTL: 0, clearCheckpoint: false, expired: true });
    // The revoke failed to commit and leadership moved: the new leader counts from the full TTL.
    lessor.demote();
    lessor.promote(5000, 1000);
    expect(lessor.renew(1n, 5100)).toEqual({ TTL: 4, clearCheckpoint: false });
    expect(lessor.expired(9099, 10)).toEqual([]);
    expect(lessor.expired(9100, 10)).toEqual([1n]);
  });

  it('gives a lease granted while leading its expiry at the next keep-alive of any lease, and forgets a revoked one', () => {
    const leases = new Map([rec(1n, 10)].map((l) => [l.id, l]));
    const lessor = new Lessor(() => leases);
    lessor.promote(0, 0);
    leases.set(2n, rec(2n, 5));
    lessor.onGrantOrRevoke(2n); // granted at 0 s; no clock yet
    expect(lessor.renew(1n, 1000).TTL).toBe(10); // lease 2's expiry starts now: 6 s
    expect(lessor.remainingMs(2n, 1000)).toBe(5000);
    expect(lessor.expired(5999, 10)).toEqual([]);
    expect(lessor.expired(6000, 10)).toEqual([2n]);
    // Revoked, then the same id granted again (ids can be the client's): it counts from its full TTL.
    leases.delete(2n);
    lessor.onGrantOrRevoke(2n);
    expect(lessor.remainingMs(2n, 6100)).toBe(-1);
    leases.set(2n, rec(2n, 5));
    lessor.onGrantOrRevoke(2n);
    expect(lessor.renew(2n, 7000)).toEqual({ TTL: 5, clearCheckpoint: false });
    expect(lessor.remainingMs(2n, 7000)).toBe(5000);
  });

  it('finds, at the next housekeeping, a lease granted or revoked without telling the lessor', () => {
    const leases = new Map([rec(1n, 2)].map((l) => [l.id, l]));
    const lessor = new Lessor(() => leases);
    lessor.promote(0, 0);
    leases.set(3n, rec(3n, 2));
    leases.delete(1n);
    expect(lessor.expired(1000, 10)).toEqual([]); // lease 3's expiry starts here: 3 s; lease 1 is forgotten
    expect(lessor.expired(3000, 10)).toEqual([3n]);
  });

  it('renews without walking the lease table (a keep-alive costs the grants since the last one, not the leases)', () => {
    // A table that counts its walks: keep-alives must not make any.
    class CountingMap<K, V> extends Map<K, V> {
      walks = 0;
      override values(): MapIterator<V> {
        this.walks++;
        return super.values();
      }
      override keys(): MapIterator<K> {
        this.walks++;
        return super.keys();
      }
      override entries(): MapIterator<[K, V]> {
        this.walks++;
        return super.entries();
      }
      override [Symbol.iterator](): MapIterator<[K, V]> {
        this.walks++;
        return super[Symbol.iterator]();
      }
    }
    const leases = new CountingMap<bigint, LeaseRecord>();
    for (let id = 1n; id <= 1000n; id++) leases.set(id, rec(id, 60));
    const lessor = new Lessor(() => leases);
    lessor.promote(0, 0);
    leases.walks = 0;
    for (let i = 0; i < 100; i++) {
      const id = BigInt(1001 + i);
      leases.set(id, rec(id, 60));
      lessor.onGrantOrRevoke(id);
      expect(lessor.renew(BigInt(1 + i), 1000 + i).TTL).toBe(60);
      expect(lessor.remainingMs(id, 1000 + i)).toBe(60_000);
    }
    expect(leases.walks).toBe(0);
    expect(lessor.expired(60_999, 1000)).toEqual(Array.from({ length: 900 }, (_, i) => BigInt(101 + i))); // 1-100 were renewed
  });
});

