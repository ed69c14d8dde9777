// The nemesis suite's client of one member: etcd's v3 gRPC API through @grpc/grpc-js and the
// member's own .proto files (int64 as strings, read back as numbers: revisions stay far below
// 2^53). Every call has a deadline. A write that fails in any way has an unknown outcome (it may
// have been applied, e.g. committed just before the leader was killed), so it answers null; a read
// that fails answers 'failed' and tells nothing.

import { join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type Client, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoDir } from '../../node/server/proto-load.js';
import type { OpInput, OpOutput } from './history.js';

type Ctor = new (addr: string, creds: ReturnType<typeof credentials.createInsecure>, opts?: object) => Client;
let services: Record<'KV' | 'Maintenance' | 'Watch' | 'Cluster' | 'Lease', Ctor> | undefined;

function load(): NonNullable<typeof services> {
  if (services) return services;
  const dir = protoDir();
  const def = loadSync(join(dir, 'rpc.proto'), { keepCase: true, longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true, includeDirs: [dir] });
  services = (loadPackageDefinition(def) as unknown as { etcdserverpb: NonNullable<typeof services> }).etcdserverpb;
  return services;
}

type Unary = (req: unknown, md: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: Record<string, unknown>) => void) => void;

interface Header {
  header: { revision: string };
}
interface KeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: string;
}

/** A failed call's gRPC status code and message, as a client sees them. */
export interface CallError {
  readonly code: number;
  readonly details: string;
}

export function callError(e: unknown): CallError {
  const s = e as Partial<ServiceError>;
  return { code: typeof s.code === 'number' ? s.code : -1, details: s.details ?? String((e as Error)?.message ?? e) };
}

/** A watch the server canceled because its start revision was compacted (etcd's answer). */
export class WatchCompactedError extends Error {
  constructor(readonly compactRevision: number, readonly reason: string) {
    super(`watch canceled: compacted at ${compactRevision}: ${reason}`);
  }
}

function canceledError(res: Record<string, unknown>): Error {
  const compacted = Number(res['compact_revision'] ?? 0);
  return compacted > 0 ? new WatchCompactedError(compacted, String(res['cancel_reason'])) : new Error(`watch canceled: ${String(res['cancel_reason'])}`);
}

export interface Member {
  readonly ID: string;
  readonly name: string;
  readonly peerURLs: string[];
}

export interface WatchedEvent {
  readonly type: 'PUT' | 'DELETE';
  readonly key: string;
  readonly value: string;
  readonly modRev: number;
}

function toEvent(e: { type: string; kv: KeyValue }): WatchedEvent {
  return { type: e.type === 'DELETE' ? 'DELETE' : 'PUT', key: e.kv.key.toString(), value: e.kv.value.toString(), modRev: Number(e.kv.mod_revision) };
}

/** The end of the range holding every key that starts with prefix. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  return end;
}

export class KvClient {
  private readonly kv: Client;
  private readonly maintenance: Client;
  private readonly watcher: Client;
  private readonly cluster: Client;
  private readonly lease: Client;

  /** serializableReads: reads answer from the member's own state (may be stale; for planting). */
  constructor(readonly address: string, private readonly deadlineMs: number, private readonly serializableReads = false) {
    const s = load();
    // No retries of our own and none by grpc-js: each call is one attempt, recorded as such.
    const opts = { 'grpc.enable_retries': 0, 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500 };
    this.kv = new s.KV(address, credentials.createInsecure(), opts);
    this.maintenance = new s.Maintenance(address, credentials.createInsecure(), opts);
    this.watcher = new s.Watch(address, credentials.createInsecure(), opts);
    this.cluster = new s.Cluster(address, credentials.createInsecure(), opts);
    this.lease = new s.Lease(address, credentials.createInsecure(), opts);
  }

  private call<T>(client: Client, method: string, req: unknown, deadlineMs = this.deadlineMs): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method]!;
    return new Promise((resolve, reject) => {
      fn.call(client, req, new Metadata(), { deadline: new Date(Date.now() + deadlineMs) }, (err, res) => (err ? reject(err) : resolve(res as T)));
    });
  }

  /** One operation of the workload: its answer, null for a write of unknown outcome, 'failed' for a failed read. */
  async run(input: OpInput, onError?: (e: CallError) => void): Promise<OpOutput | null | 'failed'> {
    const key = Buffer.from(input.key);
    try {
      switch (input.kind) {
        case 'put': {
          const r = await this.call<Header>(this.kv, 'Put', { key, value: Buffer.from(input.value!) });
          return { rev: Number(r.header.revision) };
        }
        case 'del': {
          const r = await this.call<Header & { deleted: string }>(this.kv, 'DeleteRange', { key });
          return { rev: Number(r.header.revision), deleted: Number(r.deleted) };
        }
        case 'cas': {
          const compare = input.expect === undefined
            ? { result: 'EQUAL', target: 'VERSION', key, version: 0 }
            : { result: 'EQUAL', target: 'VALUE', key, value: Buffer.from(input.expect) };
          const r = await this.call<Header & { succeeded: boolean }>(this.kv, 'Txn', {
            compare: [compare],
            success: [{ request_put: { key, value: Buffer.from(input.value!) } }],
            failure: [],
          });
          return { rev: Number(r.header.revision), succeeded: r.succeeded };
        }
        case 'get': {
          const r = await this.call<Header & { kvs: KeyValue[] }>(this.kv, 'Range', { key, revision: input.rev ?? 0, serializable: this.serializableReads });
          const kv = r.kvs[0];
          if (!kv) return { rev: Number(r.header.revision), exists: false };
          return { rev: Number(r.header.revision), exists: true, value: kv.value.toString(), modRev: Number(kv.mod_revision) };
        }
      }
    } catch (e) {
      onError?.(callError(e));
      return input.kind === 'get' ? 'failed' : null;
    }
  }

  /** The cluster's alarms (member ids as decimal strings). */
  async alarms(): Promise<Array<{ memberID: string; alarm: string }>> {
    const r = await this.call<{ alarms: Array<{ memberID: string; alarm: string }> }>(this.maintenance, 'Alarm', { action: 'GET', memberID: 0, alarm: 'NONE' });
    return r.alarms;
  }

  /** Disarms one alarm, as `etcdctl alarm disarm` does for each listed alarm. */
  async alarmDisarm(a: { memberID: string; alarm: string }): Promise<void> {
    await this.call(this.maintenance, 'Alarm', { action: 'DEACTIVATE', memberID: a.memberID, alarm: a.alarm });
  }

  async defragment(): Promise<void> {
    await this.call(this.maintenance, 'Defragment', {}, 30_000);
  }

  /** Compacts the key space at `revision` (the logical compaction etcd's clients ask for). */
  async compact(revision: number): Promise<{ rev: number }> {
    const r = await this.call<Header>(this.kv, 'Compact', { revision, physical: false });
    return { rev: Number(r.header.revision) };
  }

  // Leases: ids are decimal strings (int64).

  async leaseGrant(ttlSec: number): Promise<{ id: string; ttl: number }> {
    const r = await this.call<{ ID: string; TTL: string; error: string }>(this.lease, 'LeaseGrant', { TTL: ttlSec, ID: 0 });
    if (r.error) throw new Error(r.error);
    return { id: r.ID, ttl: Number(r.TTL) };
  }

  /** Revokes the lease; answers the header revision. */
  async leaseRevoke(id: string): Promise<{ rev: number }> {
    const r = await this.call<Header>(this.lease, 'LeaseRevoke', { ID: id });
    return { rev: Number(r.header.revision) };
  }

  /** One keep-alive on its own stream: the TTL granted again (0: the lease is gone). */
  leaseKeepAlive(id: string): Promise<number> {
    const call = (this.lease as unknown as { LeaseKeepAlive(md: Metadata, opts: { deadline: Date }): ClientDuplexStream<unknown, Record<string, unknown>> })
      .LeaseKeepAlive(new Metadata(), { deadline: new Date(Date.now() + this.deadlineMs) });
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (ttl?: number, err?: Error): void => {
        if (done) return;
        done = true;
        call.removeAllListeners('data');
        call.on('error', () => undefined);
        call.cancel();
        if (err) reject(err);
        else resolve(ttl!);
      };
      call.on('data', (res) => finish(Number(res['TTL'])));
      call.on('error', (e) => finish(undefined, e));
      call.on('end', () => finish(undefined, new Error('keep-alive stream ended')));
      call.write({ ID: id });
    });
  }

  /** A put attached to a lease. */
  async putWithLease(key: string, value: string, lease: string): Promise<{ rev: number }> {
    const r = await this.call<Header>(this.kv, 'Put', { key: Buffer.from(key), value: Buffer.from(value), lease });
    return { rev: Number(r.header.revision) };
  }

  /** The ids of the leases alive (a linearizable read). */
  async leaseIds(): Promise<string[]> {
    const r = await this.call<{ leases: Array<{ ID: string }> }>(this.lease, 'LeaseLeases', {});
    return r.leases.map((l) => l.ID);
  }

  /** The member's current revision; linearizable unless `serializable` (then no quorum needed). */
  async revision(serializable: boolean): Promise<number> {
    const r = await this.call<Header>(this.kv, 'Range', { key: Buffer.from('\0'), serializable });
    return Number(r.header.revision);
  }

  /** This member's id and its leader's id (decimal strings; '0' when it knows no leader). */
  async status(): Promise<{ memberId: string; leader: string }> {
    const r = await this.call<{ header: { member_id: string }; leader: string }>(this.maintenance, 'Status', {}, 1000);
    return { memberId: r.header.member_id, leader: r.leader };
  }

  /** The members (ids as decimal strings: they may exceed 2^53). */
  async memberList(): Promise<Member[]> {
    const r = await this.call<{ members: Member[] }>(this.cluster, 'MemberList', { linearizable: true }, 5000);
    return r.members;
  }

  async memberRemove(id: string): Promise<void> {
    await this.call(this.cluster, 'MemberRemove', { ID: id }, 10_000);
  }

  /** Adds a voting member; answers the members after the change. */
  async memberAdd(peerUrl: string): Promise<Member[]> {
    const r = await this.call<{ members: Member[] }>(this.cluster, 'MemberAdd', { peerURLs: [peerUrl], isLearner: false }, 10_000);
    return r.members;
  }

  async hashKv(revision: number): Promise<{ hash: number; compactRevision: number }> {
    const r = await this.call<{ hash: number; compact_revision: string }>(this.maintenance, 'HashKV', { revision }, 10_000);
    return { hash: r.hash, compactRevision: Number(r.compact_revision) };
  }

  /**
   * A watch under `prefix` from `startRev` that hands each response's events to `onEvents` until
   * `signal` aborts (resolves) or the stream fails (rejects).
   */
  stream(prefix: string, startRev: number, onEvents: (events: WatchedEvent[]) => void, signal: AbortSignal): Promise<void> {
    const call = (this.watcher as unknown as { Watch(md: Metadata): ClientDuplexStream<unknown, Record<string, unknown>> }).Watch(new Metadata());
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        call.removeAllListeners('data');
        call.on('error', () => undefined);
        call.cancel();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish();
      signal.addEventListener('abort', onAbort);
      call.on('data', (res) => {
        if (res['canceled']) return finish(canceledError(res));
        const evs = ((res['events'] as Array<{ type: string; kv: KeyValue }> | undefined) ?? []).map(toEvent);
        if (evs.length > 0) onEvents(evs);
      });
      call.on('error', (e) => finish(e));
      call.on('end', () => finish(new Error('watch stream ended')));
      call.write({ create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), start_revision: startRev } });
      if (signal.aborted) finish();
    });
  }

  /** Every event under `prefix` from `startRev` through `endRev`, from one watch stream. */
  events(prefix: string, startRev: number, endRev: number, timeoutMs: number): Promise<WatchedEvent[]> {
    const call = (this.watcher as unknown as { Watch(md: Metadata): ClientDuplexStream<unknown, Record<string, unknown>> }).Watch(new Metadata());
    const out: WatchedEvent[] = [];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`watch: ${out.length} events by ${timeoutMs} ms, wanted through revision ${endRev}`)), timeoutMs);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        call.removeAllListeners('data');
        call.on('error', () => undefined);
        call.cancel();
        if (err) reject(err);
        else resolve(out);
      };
      call.on('data', (res) => {
        for (const e of (res['events'] as Array<{ type: string; kv: KeyValue }> | undefined) ?? []) out.push(toEvent(e));
        if (res['canceled']) return finish(canceledError(res));
        if ((out.at(-1)?.modRev ?? startRev - 1) >= endRev) finish();
      });
      call.on('error', (e) => finish(e));
      call.write({ create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), start_revision: startRev } });
      if (endRev < startRev) finish();
    });
  }

  close(): void {
    this.kv.close();
    this.maintenance.close();
    this.watcher.close();
    this.cluster.close();
    this.lease.close();
  }
}
