// The checks after a whole-member run. The reference: every command the members applied, by raft
// index (the cluster already checked that every member applied the same command at each index),
// replayed in order into a fresh MVCC state machine that never compacts. It gives the whole event
// history and every key's value at every revision, and the checks compare the run against it:
//   - durability: every acknowledged write is in the reference at the revision its answer named;
//   - watch guarantees: each watch stream's events are exactly the reference's events from its
//     start revision on (ordered, unique, no gaps, the same prev_kv), and a stream canceled for
//     compaction names a compaction revision above its start;
//   - serializable reads: what a member answered was the key's value at the answer's revision;
//   - lease safety: no lease was revoked by expiry before its TTL had passed since the last
//     renewal the leader acknowledged (allowing for the fastest clock in the run);
//   - linearizability (the porcupine checker) of the KV history, with lease revokes that deleted
//     a key added as the delete operations they were.

import type * as mvcc from '../../../node/mvcc/types.js';
import { EventType } from '../../../node/mvcc/types.js';
import { MvccStateMachine } from '../../../node/runtime/mvcc-adapter.js';
import type { History, Op } from '../../nemesis/history.js';
import type { AppliedRecord } from './cluster.js';
import { watchedEvent, type Workload, type WatchedEvent } from './workload.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString() : '');

export interface Reference {
  readonly sm: MvccStateMachine;
  readonly events: WatchedEvent[];
  /** index of each revision's first event in `events`. */
  readonly firstEventOfRev: Map<number, number>;
}

export function buildReference(applied: ReadonlyMap<number, AppliedRecord>): Reference {
  const sm = new MvccStateMachine({ quotaBackendBytes: 1 << 30, minLeaseTtlSec: 1 }, () => 0);
  const events: WatchedEvent[] = [];
  const ws = sm.openWatchStream((resp) => {
    for (const e of resp.events) events.push(watchedEvent(e));
    return true;
  });
  ws.create({ key: enc('\0'), rangeEnd: enc('\0'), startRevision: 1, prevKv: true, watchId: 1 });
  const indexes = [...applied.keys()].sort((a, b) => a - b);
  for (const i of indexes) {
    const a = applied.get(i)!;
    if (a.cmd.type === 'compaction') continue; // the reference keeps every revision
    sm.apply(a.cmd, i);
    sm.afterApply();
    while (!sm.backgroundStep());
  }
  const firstEventOfRev = new Map<number, number>();
  events.forEach((e, i) => {
    if (!firstEventOfRev.has(e.rev)) firstEventOfRev.set(e.rev, i);
  });
  return { sm, events, firstEventOfRev };
}

function readAt(ref: Reference, key: string, rev: number): mvcc.KeyValue | undefined {
  return ref.sm.range({ key: enc(key), revision: rev }).kvs[0];
}

/** Every acknowledged write is in the reference, at its revision. */
export function checkDurability(ref: Reference, ops: readonly Op[]): string[] {
  const out: string[] = [];
  const cur = ref.sm.currentRevision();
  for (const o of ops) {
    if (!o.output || o.input.kind === 'get') continue;
    const r = o.output.rev;
    if (o.input.kind === 'put' || (o.input.kind === 'cas' && o.output.succeeded)) {
      const kv = r <= cur ? readAt(ref, o.input.key, r) : undefined;
      if (!kv || kv.modRevision !== r || dec(kv.value) !== o.input.value) {
        out.push(`durability: ${o.input.kind}(${o.input.key}=${o.input.value}) was acknowledged at revision ${r}, but the applied history has ${kv ? `${dec(kv.value)}@${kv.modRevision}` : 'nothing'} there (current ${cur})`);
      }
    } else if (o.input.kind === 'del' && (o.output.deleted ?? 0) > 0) {
      const before = readAt(ref, o.input.key, r - 1);
      const after = readAt(ref, o.input.key, r);
      if (!before || after) out.push(`durability: del(${o.input.key}) was acknowledged at revision ${r}, but the applied history does not delete it there`);
    }
  }
  return out;
}

export function checkSerializableReads(ref: Reference, w: Workload): string[] {
  const out: string[] = [];
  for (const s of w.serialReads) {
    if (s.rev > ref.sm.currentRevision()) {
      out.push(`serializable read of ${s.key} answered revision ${s.rev}, beyond anything applied (${ref.sm.currentRevision()})`);
      continue;
    }
    const kv = readAt(ref, s.key, s.rev);
    const same = kv ? s.exists && s.value === dec(kv.value) && s.modRev === kv.modRevision : !s.exists;
    if (!same) out.push(`serializable read of ${s.key} at revision ${s.rev} gave ${s.exists ? `${s.value}@${s.modRev}` : 'absent'}; the history has ${kv ? `${dec(kv.value)}@${kv.modRevision}` : 'absent'}`);
  }
  return out;
}

/**
 * `got` (from a member) is the reference's `want`. prev_kv may be missing when the previous
 * revision was compacted on that member when the event was sent: etcd's watch server omits it
 * then too (its Range at rev-1 fails with ErrCompacted).
 */
function sameEvent(got: WatchedEvent, want: WatchedEvent): boolean {
  if (got.rev !== want.rev || got.type !== want.type || got.key !== want.key || got.value !== want.value) return false;
  if (got.prevValue === want.prevValue && got.prevModRev === want.prevModRev) return true;
  return got.prevModRev === undefined && got.compactRev !== undefined && got.rev - 1 < got.compactRev;
}

function show(e: WatchedEvent | undefined): string {
  if (!e) return 'nothing';
  return `${e.type === EventType.PUT ? 'PUT' : 'DELETE'} ${e.key}=${e.value}@${e.rev} prev ${e.prevValue ?? '-'}@${e.prevModRev ?? '-'}`;
}

export function checkWatches(ref: Reference, w: Workload): { violations: string[]; events: number } {
  const out: string[] = [];
  let n = 0;
  for (const s of w.segments) {
    n += s.events.length;
    if (s.compactRevision !== undefined && s.compactRevision <= s.startRev) {
      out.push(`watch ${s.watcher} on m${s.member} from ${s.startRev} was canceled as compacted at ${s.compactRevision}, which is not above its start`);
    }
    if (s.events.length === 0) continue;
    // The reference's events from the segment's start revision on.
    let j = 0;
    for (let r = s.startRev; r <= s.events[0]!.rev; r++) {
      const f = ref.firstEventOfRev.get(r);
      if (f !== undefined) {
        j = f;
        break;
      }
      j = ref.events.length;
    }
    for (let i = 0; i < s.events.length; i++, j++) {
      const got = s.events[i]!;
      const want = ref.events[j];
      if (!want || !sameEvent(got, want)) {
        out.push(`watch ${s.watcher} on m${s.member} from revision ${s.startRev}: event ${i} is ${show(got)}, the history has ${show(want)} (ordered, unique, no gaps, prev_kv)`);
        break;
      }
    }
  }
  return { violations: out, events: n };
}

/** No lease revoked by expiry before its TTL passed since the last acknowledged renewal. */
export function checkLeases(applied: ReadonlyMap<number, AppliedRecord>, w: Workload, maxRate: number): { violations: string[]; expired: number } {
  const out: string[] = [];
  let expired = 0;
  for (const a of applied.values()) {
    if (a.cmd.type !== 'leaseRevoke') continue;
    const l = w.leases.get(a.cmd.req.ID);
    if (!l) continue;
    if (l.revokeCallMs !== undefined && l.revokeCallMs <= a.firstAtMs) continue; // the client revoked it
    expired++;
    const earliest = l.lastRenewCallMs + (l.ttlS * 1000) / maxRate;
    if (a.firstAtMs < earliest) {
      out.push(`lease ${l.id.toString(16)} (TTL ${l.ttlS}s) expired at ${a.firstAtMs.toFixed(0)} ms, ${(earliest - a.firstAtMs).toFixed(0)} ms early: last renewal acknowledged for a call at ${l.lastRenewCallMs.toFixed(0)} ms`);
    }
  }
  return { violations: out, expired };
}

/** The KV history for porcupine: the clients' operations, plus each lease revoke that deleted a key. */
export function linHistory(applied: ReadonlyMap<number, AppliedRecord>, w: Workload): History {
  const ops = [...w.ops];
  let n = 0;
  for (const a of [...applied.values()].sort((x, y) => x.index - y.index)) {
    if (a.cmd.type !== 'leaseRevoke' || a.revAfter === a.revBefore) continue;
    const l = w.leases.get(a.cmd.req.ID);
    if (!l) continue;
    const call = Math.round(l.grantCallMs * 1000) * 1000;
    const ret = Math.round(a.firstAtMs * 1000) * 1000 + 999;
    ops.push({ client: 2000 + n++, call, return: ret, input: { kind: 'del', key: l.key }, output: { rev: a.revAfter, deleted: 1 } });
  }
  return { initialRev: 1, ops };
}
