// Lease safety, judged from the lease workload's record (lease-load.ts), the store's event log
// (agreed by every member: run.ts compares their logs) and when revisions were first seen. Pure:
// the same input gives the same verdict, so a planted violation can be checked on its own.
//
// etcd's rules, as the checks read them:
// - a lease ends once: every key attached to it is deleted at one revision, with a DELETE event
//   for each, and nothing is attached to it afterwards (a put to a revoked lease is refused with
//   "etcdserver: requested lease not found" and is not in the log);
// - an acknowledged put with a lease is in the log at its revision; a refused one is not;
// - an acknowledged revoke deleted the lease's keys at or before its answer's revision;
// - no early expiry: a grant or keep-alive answered with TTL t, sent at s, keeps the lease until
//   at least s + t (the leader renews after the send, and a new leader only extends leases);
//   so unless a revoke was sent first, the lease's keys must not be seen deleted before then. When
//   the deletion happened is bounded above by the first watcher that delivered it and by the first
//   answer whose header revision is at or after it (that revision was applied somewhere by then);
// - a lease seen ended is not renewed afterwards (a keep-alive sent after must answer TTL 0);
// - every lease ends once nobody keeps it alive (run.ts waits for that, bounded, before the log is read).
// Times are monotonic nanoseconds on the test's host; the members' lessors use their wall clock,
// and both run on the same machine at the same rate (skew is the simulator's to inject).

import type { WatchedEvent } from './kv-client.js';
import type { LeaseRecord } from './lease-load.js';

export const LEASE_NOT_FOUND_TEXT = 'etcdserver: requested lease not found';
const NOT_FOUND = 5;

export interface LeaseCheckInput {
  readonly records: readonly LeaseRecord[];
  /** The log's events of lease keys, in revision order. */
  readonly events: readonly WatchedEvent[];
  /** Revision -> when a watcher first delivered it. */
  readonly seen: ReadonlyMap<number, number>;
  /** Every answered call's header revision and return time (any member, any service). */
  readonly answers: ReadonlyArray<{ readonly rev: number; readonly ret: number }>;
}

export interface LeaseVerdict {
  readonly problems: string[];
  readonly leases: number;
  readonly revoked: number;
  readonly expired: number;
  /** For leases that expired: how long after the last TTL ran out the deletion was first seen (ms). */
  readonly overshootMs: number[];
}

const ms = (ns: number): string => `${(ns / 1e6).toFixed(0)} ms`;

/** upperBound(rev): the earliest time revision rev is known to have happened. */
function upperBounds(input: LeaseCheckInput): (rev: number) => number {
  const byRev = [...input.answers].sort((a, b) => b.rev - a.rev);
  // suffixMin[i]: the earliest return among answers with revision >= byRev[i].rev.
  const suffixMin: number[] = [];
  let best = Infinity;
  for (const a of byRev) {
    best = Math.min(best, a.ret);
    suffixMin.push(best);
  }
  return (rev) => {
    // The last index whose revision is >= rev (byRev is descending).
    let lo = 0;
    let hi = byRev.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (byRev[mid]!.rev >= rev) lo = mid + 1;
      else hi = mid;
    }
    const fromAnswers = lo > 0 ? suffixMin[lo - 1]! : Infinity;
    return Math.min(fromAnswers, input.seen.get(rev) ?? Infinity);
  };
}

export function checkLeases(input: LeaseCheckInput): LeaseVerdict {
  const problems: string[] = [];
  const upper = upperBounds(input);
  const overshootMs: number[] = [];
  let revoked = 0;
  let expired = 0;
  const byKey = new Map<string, WatchedEvent[]>();
  for (const e of input.events) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  const claimed = new Set<string>();

  for (const l of input.records) {
    const keys = new Set([...l.puts.map((p) => p.key), ...(l.lateput ? [l.lateput.key] : [])]);
    for (const k of keys) claimed.add(k);
    const puts = [...keys].flatMap((k) => (byKey.get(k) ?? []).filter((e) => e.type === 'PUT'));
    const dels = [...keys].flatMap((k) => (byKey.get(k) ?? []).filter((e) => e.type === 'DELETE'));

    for (const p of [...l.puts, ...(l.lateput ? [l.lateput] : [])]) {
      const inLog = puts.find((e) => e.key === p.key);
      if (inLog && inLog.value !== p.value) problems.push(`${l.name}: ${p.key} is in the log with value ${inLog.value}, not ${p.value}`);
      if (p.rev !== undefined && (!inLog || inLog.modRev !== p.rev)) problems.push(`${l.name}: acknowledged put of ${p.key} at revision ${p.rev} is ${inLog ? `in the log at ${inLog.modRev}` : 'not in the log'}`);
      if (p.error?.code === NOT_FOUND && inLog) problems.push(`${l.name}: put of ${p.key} refused (${p.error.details}) is in the log at revision ${inLog.modRev}`);
    }
    if (l.lateput) {
      const p = l.lateput;
      if (p.rev !== undefined) problems.push(`${l.name}: a put to the lease after its revoke was acknowledged succeeded (revision ${p.rev})`);
      else if (p.error && p.error.code !== 4 && p.error.code !== 14 && (p.error.code !== NOT_FOUND || p.error.details !== LEASE_NOT_FOUND_TEXT)) {
        problems.push(`${l.name}: a put to the revoked lease was refused with code ${p.error.code} ${JSON.stringify(p.error.details)}, not NOT_FOUND ${JSON.stringify(LEASE_NOT_FOUND_TEXT)}`);
      }
    }

    // One end: every key deleted once, all at one revision, after every put.
    for (const k of keys) {
      const evs = byKey.get(k) ?? [];
      if (evs.filter((e) => e.type === 'PUT').length > 1 || evs.filter((e) => e.type === 'DELETE').length > 1) problems.push(`${l.name}: ${k} has ${evs.length} events: ${evs.map((e) => `${e.type}@${e.modRev}`).join(' ')}`);
      if (evs.some((e) => e.type === 'PUT') && !evs.some((e) => e.type === 'DELETE')) problems.push(`${l.name}: ${k} outlived its lease (never deleted)`);
      if (evs.some((e) => e.type === 'DELETE') && !evs.some((e) => e.type === 'PUT')) problems.push(`${l.name}: ${k} deleted but never put`);
    }
    const endRevs = [...new Set(dels.map((e) => e.modRev))];
    if (endRevs.length > 1) problems.push(`${l.name}: its keys were deleted at ${endRevs.length} revisions (${endRevs.join(', ')}), not one`);
    const end = endRevs.length > 0 ? Math.min(...endRevs) : undefined;
    if (end === undefined) continue;
    const lastPut = Math.max(...puts.map((e) => e.modRev));
    if (lastPut >= end) problems.push(`${l.name}: a key was attached at revision ${lastPut}, at or after the lease ended at ${end}`);

    const endSeen = upper(end);
    if (l.revoke?.rev !== undefined && end > l.revoke.rev) problems.push(`${l.name}: revoke answered at revision ${l.revoke.rev} but its keys were deleted at ${end}`);
    const byRevoke = l.revoke !== undefined && l.revoke.call < endSeen;
    if (byRevoke) revoked++;
    else expired++;

    // Renewals: every answer with a TTL keeps the lease until its send + TTL.
    const renewals = [{ call: l.grant.call, ret: l.grant.ret, ttl: l.grant.ttl, what: 'grant' }, ...l.keepAlives.flatMap((k) => (k.ttl !== undefined && k.ttl > 0 ? [{ call: k.call, ret: k.ret, ttl: k.ttl, what: 'keep-alive' }] : []))];
    let holds = -Infinity;
    for (const r of renewals) {
      if (r.call > endSeen) problems.push(`${l.name}: a ${r.what} sent ${ms(r.call - endSeen)} after its keys were seen deleted (revision ${end}) answered TTL ${r.ttl}`);
      holds = Math.max(holds, r.call + r.ttl * 1e9);
    }
    if (!byRevoke && endSeen < holds) {
      problems.push(`${l.name}: expired early: its keys were deleted at revision ${end}, seen ${ms(holds - endSeen)} before the TTL of its last renewal ran out`);
    }
    if (!byRevoke && Number.isFinite(endSeen)) overshootMs.push((endSeen - holds) / 1e6);
    // A keep-alive answered "gone" and a later renewal answered a TTL: the lease came back.
    const gone = l.keepAlives.find((k) => k.ttl === 0);
    if (gone && renewals.some((r) => r.call > gone.ret)) problems.push(`${l.name}: a keep-alive answered TTL 0 (gone), then a later one renewed it`);
  }
  for (const [k, evs] of byKey) if (!claimed.has(k)) problems.push(`the log has ${evs.length} event(s) of ${k}, which no lease client wrote`);
  return { problems, leases: input.records.length, revoked, expired, overshootMs };
}
