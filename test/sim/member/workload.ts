// The clients of a whole-member run. They use the member's own API (what the gRPC server calls):
// put, txn (compare-and-set), delete, range linearizable and serializable (latest and at a
// revision), compaction, watch streams, and leases (grant, put with the lease, keep-alive, revoke).
// Every call and answer is recorded on simulated time: the KV operations as a history for the
// porcupine checker (test/nemesis/history.ts's format), the rest for the run's own checks.

import type * as mvcc from '../../../node/mvcc/types.js';
import { CompareResult, CompareTarget, EventType } from '../../../node/mvcc/types.js';
import type { Member } from '../../../node/runtime/member.js';
import type { Op, OpInput, OpOutput } from '../../nemesis/history.js';
import type { SimRng } from '../rng.js';
import type { SimCluster, Slot } from './cluster.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString() : '');

/** A serializable read, checked against the reference store afterwards. */
export interface SerialRead {
  readonly key: string;
  readonly rev: number;
  readonly exists: boolean;
  readonly value: string;
  readonly modRev: number;
}

export interface WatchedEvent {
  readonly rev: number;
  readonly type: number;
  readonly key: string;
  readonly value: string;
  readonly prevValue: string | undefined;
  readonly prevModRev: number | undefined;
  /** The member's compaction revision when the event arrived (etcd omits prev_kv it compacted). */
  readonly compactRev?: number;
}

/** One watch stream's life: created at startRev on one member incarnation. */
export interface WatchSegment {
  readonly watcher: number;
  readonly member: number;
  readonly startRev: number;
  readonly events: WatchedEvent[];
  /** Set when the member canceled the watch because startRev was compacted. */
  compactRevision?: number;
  createdAtRev?: number;
}

export interface LeaseRecord {
  readonly id: bigint;
  readonly key: string;
  ttlS: number;
  grantCallMs: number;
  /** Call time of the newest keep-alive the leader answered with a TTL > 0. */
  lastRenewCallMs: number;
  /** Call time of the first revoke this client sent (outcome known or not). */
  revokeCallMs?: number;
}

export class Workload {
  readonly ops: Op[] = [];
  readonly serialReads: SerialRead[] = [];
  readonly segments: WatchSegment[] = [];
  readonly leases = new Map<bigint, LeaseRecord>();
  counts = { put: 0, get: 0, getTxn: 0, getSerializable: 0, getAtRev: 0, cas: 0, del: 0, compact: 0, leaseGrant: 0, keepAlive: 0, revoke: 0, unknown: 0, failed: 0 };
  private tick = 0;
  private seq = 0;
  stopped = false;
  /** Planted bugs (falsification): linearizable reads served locally; one watch event dropped. */
  plantStaleReads = false;
  plantDropWatchEvent = false;
  private readonly keys: string[];

  constructor(
    private readonly c: SimCluster,
    private readonly rng: SimRng,
    keys: number,
    /** A client gives up on a call after this long (the member's own timeout is shorter). */
    private readonly clientTimeoutMs: number,
  ) {
    this.keys = Array.from({ length: keys }, (_, i) => `k${i}`);
  }

  /** Nanoseconds on simulated time, strictly increasing across the run (porcupine wants an order). */
  private stamp(): number {
    return Math.round(this.c.world.now * 1000) * 1000 + (this.tick++ % 1000);
  }

  private pickMember(): Slot | undefined {
    const up = this.c.slots.filter((s) => s.state === 'up' && s.member);
    return up.length === 0 ? undefined : this.rng.pick(up);
  }

  /** Races a member call against the client's own timeout (a crashed member never answers). */
  private call<T>(p: Promise<T>): Promise<{ ok: true; v: T } | { ok: false; err: unknown }> {
    return new Promise((resolve) => {
      let done = false;
      const t = this.c.world.enqueue(this.c.world.now + this.clientTimeoutMs, undefined, () => {
        if (done) return;
        done = true;
        resolve({ ok: false, err: new Error('client timeout') });
      });
      p.then(
        (v) => {
          if (done) return;
          done = true;
          t.cancelled = true;
          resolve({ ok: true, v });
        },
        (err: unknown) => {
          if (done) return;
          done = true;
          t.cancelled = true;
          resolve({ ok: false, err });
        },
      );
    });
  }

  private async kvOp(client: number, input: OpInput, run: (m: Member) => Promise<OpOutput>, isRead: boolean): Promise<void> {
    const slot = this.pickMember();
    if (!slot) return;
    const call = this.stamp();
    const r = await this.call(run(slot.member!));
    const ret = this.stamp();
    if (r.ok) this.ops.push({ client, call, return: ret, input, output: r.v });
    else if (isRead) this.counts.failed++;
    else {
      this.counts.unknown++;
      this.ops.push({ client, call, return: null, input, output: null });
    }
  }

  /** One client: operations back to back, with a little think time, until stopped. */
  startClient(client: number): void {
    const next = (): void => {
      if (this.stopped) return;
      void this.oneOp(client).then(() => this.c.world.enqueue(this.c.world.now + this.rng.range(1, 30), undefined, next));
    };
    this.c.world.enqueue(this.c.world.now + this.rng.range(0, 20), undefined, next);
  }

  private async oneOp(client: number): Promise<void> {
    const key = this.rng.pick(this.keys);
    const x = this.rng.float();
    const value = `c${client}-${this.seq++}`;
    if (x < 0.3) {
      this.counts.put++;
      await this.kvOp(client, { kind: 'put', key, value }, async (m) => ({ rev: (await m.put({ key: enc(key), value: enc(value) })).header.revision }), false);
    } else if (x < 0.45) {
      this.counts.get++;
      await this.kvOp(client, { kind: 'get', key }, async (m) => readOut(await m.range({ key: enc(key) }, { linearizable: !this.plantStaleReads })), true);
    } else if (x < 0.55) {
      // The same read as a read-only txn, which a member serves outside the log (ReadIndex, then local).
      this.counts.getTxn++;
      await this.kvOp(client, { kind: 'get', key }, async (m) => {
        const t = await m.txn({ success: [{ requestRange: { key: enc(key), serializable: this.plantStaleReads } }] }, { readOnly: true });
        const op = t.responses[0];
        if (!op || !('responseRange' in op)) throw new Error('a read-only txn answered without its range');
        return readOut(op.responseRange);
      }, true);
    } else if (x < 0.62) {
      this.counts.getAtRev++;
      const slot = this.pickMember();
      const cur = slot?.member ? slot.sm!.currentRevision() : 0;
      const rev = Math.max(1, cur - this.rng.intn(20));
      await this.kvOp(client, { kind: 'get', key, rev }, async (m) => readOut(await m.range({ key: enc(key), revision: rev }, { linearizable: true })), true);
    } else if (x < 0.72) {
      this.counts.getSerializable++;
      await this.serializableRead(key);
    } else if (x < 0.88) {
      this.counts.cas++;
      const expect = this.rng.chance(0.2) ? undefined : this.lastValueSeen(key);
      const compare: mvcc.Compare =
        expect === undefined
          ? { key: enc(key), target: CompareTarget.CREATE, result: CompareResult.EQUAL, createRevision: 0 }
          : { key: enc(key), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: enc(expect) };
      await this.kvOp(
        client,
        expect === undefined ? { kind: 'cas', key, value } : { kind: 'cas', key, value, expect },
        async (m) => {
          const r = await m.txn({ compare: [compare], success: [{ requestPut: { key: enc(key), value: enc(value) } }], failure: [] }, { readOnly: false });
          return { rev: r.header.revision, succeeded: r.succeeded };
        },
        false,
      );
    } else if (x < 0.94) {
      this.counts.del++;
      await this.kvOp(client, { kind: 'del', key }, async (m) => {
        const r = await m.deleteRange({ key: enc(key) });
        return { rev: r.header.revision, deleted: r.deleted };
      }, false);
    } else if (x < 0.96) {
      this.counts.compact++;
      const slot = this.pickMember();
      if (!slot) return;
      const rev = slot.sm!.currentRevision() - 30;
      if (rev > slot.sm!.compactRevision() + 5) {
        this.c.note(`client ${client}: compact to ${rev} on m${slot.index}`);
        await this.call(slot.member!.compact({ revision: rev }));
      }
    } else {
      await this.leaseStep();
    }
  }

  private lastValueSeen(key: string): string | undefined {
    for (let i = this.ops.length - 1; i >= 0 && i > this.ops.length - 50; i--) {
      const o = this.ops[i]!;
      if (o.input.key === key && o.input.value !== undefined) return o.input.value;
    }
    return undefined;
  }

  private async serializableRead(key: string): Promise<void> {
    const slot = this.pickMember();
    if (!slot) return;
    const r = await this.call(slot.member!.range({ key: enc(key), serializable: true }, { linearizable: false }));
    if (!r.ok) return;
    const kv = r.v.kvs[0];
    this.serialReads.push({ key, rev: r.v.header.revision, exists: kv !== undefined, value: dec(kv?.value), modRev: kv?.modRevision ?? 0 });
  }

  /** Leases: grant one with a key, renew the newest ones, revoke some, let the others expire. */
  private async leaseStep(): Promise<void> {
    const slot = this.pickMember();
    if (!slot) return;
    const m = slot.member!;
    const live = [...this.leases.values()].filter((l) => l.revokeCallMs === undefined);
    const x = this.rng.float();
    if (x < 0.35 || live.length === 0) {
      this.counts.leaseGrant++;
      const ttl = this.rng.range(2, 6);
      const grantCallMs = this.c.world.now;
      const g = await this.call(m.leaseGrant({ TTL: ttl }));
      if (!g.ok) return;
      const id = g.v.ID;
      const key = `lease/${id.toString(16)}`;
      const rec: LeaseRecord = { id, key, ttlS: g.v.TTL, grantCallMs, lastRenewCallMs: grantCallMs };
      this.leases.set(id, rec);
      const call = this.stamp();
      const p = await this.call(m.put({ key: enc(key), value: enc('held'), lease: id }));
      const ret = this.stamp();
      if (p.ok) this.ops.push({ client: 900, call, return: ret, input: { kind: 'put', key, value: 'held' }, output: { rev: p.v.header.revision } });
      else this.ops.push({ client: 900, call, return: null, input: { kind: 'put', key, value: 'held' }, output: null });
    } else if (x < 0.9) {
      this.counts.keepAlive++;
      const l = this.rng.pick(live);
      const at = this.c.world.now;
      const k = await this.call(m.leaseKeepAlive({ ID: l.id }));
      if (k.ok && k.v.TTL > 0) l.lastRenewCallMs = Math.max(l.lastRenewCallMs, at);
      this.c.note(`keep-alive ${l.id.toString(16)} via m${slot.index} (leader ${m.leaderId().toString(16).slice(0, 6)}): ${k.ok ? `TTL ${k.v.TTL}` : (k.err as Error).message}`);
    } else {
      this.counts.revoke++;
      const l = this.rng.pick(live);
      l.revokeCallMs = this.c.world.now;
      await this.call(m.leaseRevoke({ ID: l.id }));
    }
  }

  /** One watcher: a stream over every key with prev_kv, re-created on another member when its member goes. */
  startWatcher(w: number): void {
    let lastRev = 0;
    let seg: WatchSegment | undefined;
    let memberInc = -1;
    let stream: { close(): void } | undefined;
    const open = (): void => {
      const slot = this.pickMember();
      if (!slot) return;
      const startRev = lastRev + 1;
      const s: WatchSegment = { watcher: w, member: slot.index, startRev, events: [] };
      this.segments.push(s);
      seg = s;
      memberInc = slot.incarnation;
      const ws = slot.member!.openWatchStream((resp) => {
        if (seg !== s) return true;
        if (resp.canceled) {
          if (resp.compactRevision > 0) {
            s.compactRevision = resp.compactRevision;
            lastRev = resp.compactRevision - 1;
          }
          seg = undefined;
          return true;
        }
        for (const e of resp.events) {
          if (this.plantDropWatchEvent && s.events.length === 3) {
            this.plantDropWatchEvent = false;
            continue;
          }
          s.events.push({ ...watchedEvent(e), compactRev: slot.sm!.compactRevision() });
          lastRev = Math.max(lastRev, e.kv.modRevision);
        }
        return true;
      });
      stream = ws;
      ws.create({ key: enc('\0'), rangeEnd: enc('\0'), startRevision: startRev, prevKv: true, watchId: 1 });
    };
    const check = (): void => {
      if (this.stopped) return;
      const slot = seg ? this.c.slots[seg.member] : undefined;
      const gone = !seg || !slot || slot.state !== 'up' || slot.incarnation !== memberInc;
      // Sometimes move on anyway, so streams also start on lagging members and from old revisions.
      if (gone || this.rng.chance(0.05)) {
        if (seg && slot && slot.state === 'up' && slot.incarnation === memberInc) stream?.close();
        seg = undefined;
        open();
      }
      this.c.world.enqueue(this.c.world.now + 500, undefined, check);
    };
    this.c.world.enqueue(this.c.world.now + 10, undefined, check);
  }
}

/** A watch event as the checks compare it. */
export function watchedEvent(e: mvcc.Event): WatchedEvent {
  return {
    rev: e.kv.modRevision,
    type: e.type,
    key: dec(e.kv.key),
    value: e.type === EventType.PUT ? dec(e.kv.value) : '',
    prevValue: e.prevKv ? dec(e.prevKv.value) : undefined,
    prevModRev: e.prevKv?.modRevision,
  };
}

function readOut(r: mvcc.RangeResponse): OpOutput {
  const kv = r.kvs[0];
  return kv ? { rev: r.header.revision, exists: true, value: dec(kv.value), modRev: kv.modRevision } : { rev: r.header.revision, exists: false };
}
