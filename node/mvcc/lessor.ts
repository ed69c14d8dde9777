// Leases. Two halves:
// - The REPLICATED half (LeaseRecord: id, granted TTL, checkpointed remaining TTL,
//   attached keys) lives in the store and changes only through apply (grant, revoke,
//   checkpoint, puts/deletes attaching keys). It is in the snapshot and the hash.
// - The LEADER-SIDE half (this Lessor): expiry times in ms on the runtime's clock. It is
//   never replicated; the clock is always passed in (`nowMs`), never read.
//
// How the runtime uses it (like etcd's lessor.go):
// - On becoming leader: `promote(nowMs, extendMs)` with extendMs = the election timeout.
//   Every lease gets expiry = now + extend + (checkpointed remaining TTL, else its TTL),
//   so a leader change never shortens a lease and never loses the checkpointed progress.
// - On losing leadership: `demote()`; followers hold leases "forever".
// - Periodically on the leader: `expired(nowMs, max)` → ids to revoke; propose a
//   leaseRevoke for each through Raft (every member then deletes the keys at the same
//   revision). An id is not returned again for `retryMs` (etcd: 3 s) while its revoke is
//   in flight.
// - Keep-alive is leader-side, in memory only (like etcd): `renew(id, nowMs)`; a follower
//   forwards keep-alives to the leader. When renew says `clearCheckpoint`, propose a
//   leaseCheckpoint {ID, remainingTTL: 0} so a later leader counts from the full TTL.
// - Periodically on the leader: `checkpointsDue(nowMs, intervalMs, max)` → propose one
//   leaseCheckpoint command with them (etcd checkpoints every 5 min), so remaining TTLs
//   survive a leader change.
// Leases granted while leader get their expiry lazily on the next call with a clock
// (now + TTL): at most one expiry-check interval late, never early. The store tells the lessor
// of every grant and revoke (onGrantOrRevoke), so a keep-alive only looks at the grants since the
// last call; the periodic housekeeping (expired, checkpointsDue) still reconciles every lease.
import type { LeaseCheckpoint, LeaseId } from './types.js';

/** Ascending id order for sorts (bigint has no subtraction-to-number compare). */
export function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface LeaseRecord {
  readonly id: LeaseId;
  /** Granted TTL in seconds. */
  ttl: number;
  /** Checkpointed remaining TTL in seconds; 0 = none (count from ttl). */
  remainingTtl: number;
  /** skeys (latin1) of the live keys attached to the lease. */
  readonly keys: Set<string>;
}

export const DEFAULT_REVOKE_RETRY_MS = 3000;

export class Lessor {
  private primary = false;
  private readonly expiryMs = new Map<LeaseId, number>();
  private readonly lastCheckpointMs = new Map<LeaseId, number>();
  /** Expired leases whose revoke is in flight: not renewed (etcd's Renew waits for the revoke). */
  private readonly revoking = new Set<LeaseId>();
  /** Granted while primary and not yet given an expiry (see syncGranted). */
  private readonly granted = new Set<LeaseId>();

  constructor(
    private readonly leases: () => ReadonlyMap<LeaseId, LeaseRecord>,
    private readonly retryMs = DEFAULT_REVOKE_RETRY_MS,
  ) {}

  isPrimary(): boolean {
    return this.primary;
  }

  promote(nowMs: number, extendMs: number): void {
    this.primary = true;
    this.expiryMs.clear();
    this.lastCheckpointMs.clear();
    this.revoking.clear();
    this.granted.clear();
    for (const l of this.leases().values()) this.start(l, nowMs, extendMs);
  }

  demote(): void {
    this.primary = false;
    this.expiryMs.clear();
    this.lastCheckpointMs.clear();
    this.revoking.clear();
    this.granted.clear();
  }

  /**
   * Called by apply (no clock): a lease was granted or revoked. Drops any stale expiry so a
   * re-granted id (client-chosen ids can be reused) starts from its full TTL.
   */
  onGrantOrRevoke(id: LeaseId): void {
    this.expiryMs.delete(id);
    this.lastCheckpointMs.delete(id);
    this.revoking.delete(id);
    if (this.primary && this.leases().has(id)) this.granted.add(id);
    else this.granted.delete(id);
  }

  /**
   * Gives the leases granted since the last call their expiry. It costs the grants, not the
   * leases: every keep-alive runs it, and a scan of every lease per keep-alive was half the
   * leader's time under etcd's lease-keepalive benchmark (1,000 clients, ~2,000 leases).
   */
  private syncGranted(nowMs: number): void {
    if (this.granted.size === 0) return;
    const leases = this.leases();
    for (const id of this.granted) {
      const l = leases.get(id);
      if (l !== undefined && !this.expiryMs.has(id)) this.start(l, nowMs);
    }
    this.granted.clear();
  }

  /** Counts a lease from now: its checkpointed remaining TTL, else its TTL, plus `extendMs`. */
  private start(l: LeaseRecord, nowMs: number, extendMs = 0): void {
    const secs = l.remainingTtl > 0 ? l.remainingTtl : l.ttl;
    this.expiryMs.set(l.id, nowMs + extendMs + secs * 1000);
    this.lastCheckpointMs.set(l.id, nowMs);
  }

  /**
   * Every lease: forgets revoked ones, gives new ones an expiry. For the periodic housekeeping,
   * so a grant or revoke the lessor was not told of is still caught within one interval.
   */
  private syncAll(nowMs: number): void {
    this.granted.clear();
    const leases = this.leases();
    for (const id of this.expiryMs.keys()) {
      if (!leases.has(id)) {
        this.expiryMs.delete(id);
        this.lastCheckpointMs.delete(id);
        this.revoking.delete(id);
      }
    }
    if (this.expiryMs.size === leases.size) return;
    for (const l of leases.values()) if (!this.expiryMs.has(l.id)) this.start(l, nowMs);
  }

  /**
   * Keep-alive (leader only). Returns the granted TTL in seconds, or 0 when the lease
   * does not exist (etcd answers a dead lease with TTL 0), and whether the runtime should
   * propose a checkpoint clearing the lease's remaining TTL.
   * `revoking`: the lease expired and its revoke is in flight; it is NOT renewed (etcd's Renew
   * waits for that revoke and answers "lease not found"): answering with its TTL would tell the
   * client it holds a lease that is about to be revoked.
   */
  renew(id: LeaseId, nowMs: number): { TTL: number; clearCheckpoint: boolean; expired?: true } {
    const l = this.leases().get(id);
    if (l === undefined) return { TTL: 0, clearCheckpoint: false };
    if (this.primary) {
      this.syncGranted(nowMs);
      // An expired lease is not brought back: its revoke is (or is about to be) in flight, and a
      // renewal answered now would promise the client a TTL the revoke then breaks. etcd's Renew
      // waits for the revoke ("not found": TTL 0 on the keep-alive stream) or for the loss of
      // leadership (the new leader renews it); `expired` tells the runtime to wait so.
      if (this.revoking.has(id) || (this.expiryMs.get(id) ?? Infinity) <= nowMs) return { TTL: 0, clearCheckpoint: false, expired: true };
      this.expiryMs.set(id, nowMs + l.ttl * 1000);
      this.lastCheckpointMs.set(id, nowMs);
    }
    return { TTL: l.ttl, clearCheckpoint: l.remainingTtl > 0 };
  }

  /** Remaining ms of a lease: from the expiry on the leader, else the replicated TTLs. -1: not found. */
  remainingMs(id: LeaseId, nowMs: number): number {
    const l = this.leases().get(id);
    if (l === undefined) return -1;
    if (this.primary) {
      this.syncGranted(nowMs);
      const e = this.expiryMs.get(id);
      if (e !== undefined) return Math.max(0, e - nowMs);
    }
    return (l.remainingTtl > 0 ? l.remainingTtl : l.ttl) * 1000;
  }

  /**
   * `ids` soonest expiry first, as etcd lists leases (LeaseLeases). A follower holds every lease
   * forever, so it keeps the order it was given.
   */
  byExpiry(ids: readonly LeaseId[], nowMs: number): LeaseId[] {
    if (!this.primary) return [...ids];
    this.syncAll(nowMs);
    const at = (id: LeaseId): number => this.expiryMs.get(id) ?? Number.MAX_SAFE_INTEGER;
    return [...ids].sort((a, b) => at(a) - at(b) || compareIds(a, b));
  }

  /** Leader only: ids of leases whose expiry has passed, earliest first, at most `max`. */
  expired(nowMs: number, max: number): LeaseId[] {
    if (!this.primary) return [];
    this.syncAll(nowMs);
    const due: Array<[number, LeaseId]> = [];
    for (const [id, e] of this.expiryMs) if (e <= nowMs) due.push([e, id]);
    due.sort((a, b) => a[0] - b[0] || compareIds(a[1], b[1]));
    const out: LeaseId[] = [];
    for (const [, id] of due) {
      if (out.length >= max) break;
      out.push(id);
      this.revoking.add(id);
      this.expiryMs.set(id, nowMs + this.retryMs); // do not hand it out again while the revoke is in flight
    }
    return out;
  }

  /** Leader only: remaining TTLs to checkpoint through Raft (leases not checkpointed for intervalMs). */
  checkpointsDue(nowMs: number, intervalMs: number, max: number): LeaseCheckpoint[] {
    if (!this.primary) return [];
    this.syncAll(nowMs);
    const out: LeaseCheckpoint[] = [];
    for (const [id, last] of this.lastCheckpointMs) {
      if (out.length >= max) break;
      if (nowMs - last < intervalMs) continue;
      const e = this.expiryMs.get(id);
      if (e === undefined) continue;
      const remaining = Math.max(1, Math.ceil((e - nowMs) / 1000));
      out.push({ ID: id, remainingTTL: remaining });
      this.lastCheckpointMs.set(id, nowMs);
    }
    out.sort((a, b) => compareIds(a.ID, b.ID));
    return out;
  }
}
