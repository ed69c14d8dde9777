// The runtime over its in-memory twins: MemoryNetwork for the transport, MemoryFs for the disk,
// the real raft core and the real MVCC store. Real timers, short intervals, bounded waits.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryFs, MemorySyncFileOps, ValueLog, openStorage } from '../storage/index.js';
import { MemoryNetwork } from '../transport/memory-transport.js';
import { createLogger, silentLogger } from '../log.js';
import { Member } from './member.js';
import { MvccStateMachine } from './mvcc-adapter.js';
import { memberIdOf, clusterIdOf } from './ids.js';
import { AlarmAction, AlarmType, CompareResult, CompareTarget } from '../mvcc/types.js';
import type * as mvcc from '../mvcc/types.js';
import type { MemberRecord } from './membership.js';
import { encodeStateSnapshot } from './state-snapshot.js';
import { encodeEnvelope } from './envelope.js';
import type { ConfState, Message } from '../raft/index.js';
import type { MemberStorage, StorageOptions } from '../storage/types.js';
import type { Transport } from '../transport/types.js';
import { Registry } from 'prom-client';
import { createMemberMetrics, type MemberMetrics } from '../server/metrics.js';
import { createRuntimeMetrics, type RuntimeMetrics } from './metrics.js';
import { realScheduler, type Scheduler } from './scheduler.js';
import bcrypt from 'bcryptjs';
import { authenticate } from '../server/auth-service.js';
import type { ServerContext } from '../server/rpc-context.js';

const enc = (s: string) => Buffer.from(s);
const dec = (b: Uint8Array) => Buffer.from(b).toString();

async function until(cond: () => boolean, what: string, ms = 50_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Node {
  member: Member;
  fs: MemoryFs;
  rec: MemberRecord;
}

class Harness {
  net = new MemoryNetwork();
  nodes = new Map<bigint, Node>();
  fatal: string[] = [];
  records: MemberRecord[];
  clusterId: bigint;
  /** The state machine each booted member gets (tests may slow it down). */
  makeStateMachine: (rec: MemberRecord) => MvccStateMachine = () => new MvccStateMachine();
  /** Optional wrappers around each booted member's storage and transport (tests observe them). */
  wrapStorage?: (s: MemberStorage, recovered: { hardState: { term: number } }) => MemberStorage;
  wrapTransport?: (t: Transport) => Transport;
  /** Storage options for each boot (e.g. snapshotData 'stream', as bin/tsetcd opens it). */
  storageOpts: Partial<StorageOptions> = {};
  /** Each booted member's metrics, when a test reads them. */
  metrics?: Map<bigint, MemberMetrics>;
  /** The members' timers (default: the real ones; tests may count them). */
  scheduler?: Scheduler;
  constructor(
    n: number,
    readonly snapshotCount = 10_000,
    readonly autoCompaction?: { mode: 'periodic' | 'revision'; retentionMs: number; retentionRevisions: number },
  ) {
    this.records = Array.from({ length: n }, (_, i) => {
      const peerUrls = [`http://127.0.0.1:${30000 + i}`];
      return { id: memberIdOf(peerUrls, 'test'), name: `m${i}`, peerUrls, clientUrls: [], isLearner: false };
    });
    this.clusterId = clusterIdOf(this.records.map((r) => r.id));
  }
  async boot(rec: MemberRecord, fs = new MemoryFs(), initial: MemberRecord[] | undefined = this.records, peerHints: MemberRecord[] = []): Promise<Node> {
    const { storage, recovered } = await openStorage('/data', { fs, segmentSizeBytes: 1 << 20, ...this.storageOpts });
    const member = new Member({
      id: rec.id,
      clusterId: this.clusterId,
      name: rec.name,
      clientUrls: [`http://client-${rec.name}`],
      peerUrls: rec.peerUrls,
      clusterToken: 'test',
      heartbeatIntervalMs: 10,
      electionTimeoutMs: 100,
      snapshotCount: this.snapshotCount,
      maxLearners: 1,
      quotaBackendBytes: 1 << 30,
      // These members run on the real clock: on a busy machine a request must not fail by it.
      requestTimeoutMs: 60_000,
      ...(this.autoCompaction ? { autoCompaction: this.autoCompaction } : {}),
      logger: process.env['TEST_LOG'] ? createLogger({ component: rec.name, level: 'debug' }) : silentLogger,
      storage: this.wrapStorage ? this.wrapStorage(storage, recovered) : storage,
      recovered,
      initialMembers: initial,
      peerHints,
      stateMachine: this.makeStateMachine(rec),
      ...(this.scheduler ? { scheduler: this.scheduler } : {}),
      makeTransport: (h) => (this.wrapTransport ? this.wrapTransport(this.net.transport(rec.id, h)) : this.net.transport(rec.id, h)),
      seed: Number(rec.id % 1000n),
      ...(this.metrics ? { metrics: this.metricsOf(rec.id), runtimeMetrics: this.runtimeMetricsOf(rec.id) } : {}),
      onFatal: (reason) => this.fatal.push(`${rec.name}: ${reason}`),
    });
    await member.start();
    const node = { member, fs, rec };
    this.nodes.set(rec.id, node);
    return node;
  }
  private readonly runtimeMetrics = new Map<bigint, RuntimeMetrics>();
  runtimeMetricsOf(id: bigint): RuntimeMetrics {
    let r = this.runtimeMetrics.get(id);
    if (!r) this.runtimeMetrics.set(id, (r = createRuntimeMetrics(this.metricsOf(id).registry)));
    return r;
  }
  metricsOf(id: bigint): MemberMetrics {
    let m = this.metrics!.get(id);
    if (!m) this.metrics!.set(id, (m = createMemberMetrics(new Registry(), { defaultMetrics: false })));
    return m;
  }
  async bootAll(): Promise<void> {
    for (const r of this.records) await this.boot(r);
  }
  leader(): Node | undefined {
    for (const n of this.nodes.values()) if (n.member.roleNow() === 'leader') return n;
    return undefined;
  }
  async waitLeader(): Promise<Node> {
    await until(() => {
      const l = this.leader();
      return l !== undefined && [...this.nodes.values()].every((n) => n.member.leaderId() === l.rec.id);
    }, 'a leader everyone agrees on');
    return this.leader()!;
  }
  /** Stops a follower (cut off first, so it misses everything after) and forgets it; returns it. */
  async takeDownFollower(leader: Node): Promise<Node> {
    const n = [...this.nodes.values()].find((x) => x !== leader)!;
    this.net.isolate(n.rec.id);
    await n.member.stop();
    this.nodes.delete(n.rec.id);
    this.net.heal();
    return n;
  }
  async stopAll(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.member.stop()));
  }
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stopAll();
  harness = undefined;
});


/** A snapshot message as a leader that compacted past this follower would send it (membership only). */
function leaderSnapshot(fm: Member, from: bigint, index: number, term: number, confState: ConfState): Message {
  return {
    type: 'snap',
    to: fm.id,
    from,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: { data: encodeStateSnapshot(fm['membership'].toJSON(), []), metadata: { index, term, confState } },
  };
}

/** Drops appends and snapshots to `to` while it is set; heartbeats and ReadIndex still flow. */
function lagAppends(h: Harness): { to: bigint | null } {
  const lag: { to: bigint | null } = { to: null };
  h.wrapTransport = (t) =>
    new Proxy(t, {
      get(target, prop) {
        if (prop === 'send') return (msgs: readonly Message[]) => target.send(msgs.filter((m) => !(m.to === lag.to && (m.type === 'app' || m.type === 'snap'))));
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return lag;
}

/**
 * A storage wrapper (Harness.wrapStorage) whose writes of entries, while hold(who) says so (who:
 * the member's boot order), complete only when released: a disk stuck in fdatasync. Writes
 * resolve in call order, as storage's do, so none overtakes a held one.
 */
function holdingWrites(hold: (who: number) => boolean, held: Array<{ who: number; release: () => void }>): NonNullable<Harness['wrapStorage']> {
  let booted = 0;
  return (st) => {
    const who = booted++;
    let last: Promise<void> = Promise.resolve();
    return {
      save: (hs, ents, sync) => {
        const holdThis = hold(who) && ents.length > 0;
        const done = st.save(hs, ents, sync).then(() => (holdThis ? new Promise<void>((release) => held.push({ who, release })) : undefined));
        return (last = last.then(() => done));
      },
      saveSnapshot: (snap, opts) => st.saveSnapshot(snap, opts),
      releaseTo: (i) => st.releaseTo(i),
      close: () => st.close(),
    };
  };
}

describe('member runtime (in-memory twins)', () => {
  it('a single member elects itself and serves puts, reads and leases', async () => {
    const h = (harness = new Harness(1));
    await h.bootAll();
    const { member } = await h.waitLeader();
    const p = await member.put({ key: enc('a'), value: enc('1') });
    expect(p.header.revision).toBe(2);
    const r = await member.range({ key: enc('a') }, { linearizable: true });
    expect(r.kvs.map((kv) => dec(kv.value))).toEqual(['1']);
    const g = await member.leaseGrant({ TTL: 5, ID: 0n });
    expect(g.ID).toBeGreaterThan(0);
    const ka = await member.leaseKeepAlive({ ID: g.ID });
    expect(ka.TTL).toBe(5);
    const ttl = await member.leaseTimeToLive({ ID: g.ID, keys: true });
    expect(ttl.grantedTTL).toBe(5);
    expect((await member.memberList(true)).map((m) => m.name)).toEqual(['m0']);
    expect(h.fatal).toEqual([]);
  });

  it('three members: writes through any member, linearizable reads everywhere, failover keeps acknowledged writes', async () => {
    const h = (harness = new Harness(3));
    await h.bootAll();
    const leader = await h.waitLeader();
    const followers = [...h.nodes.values()].filter((n) => n !== leader);
    const acked: string[] = [];
    for (let i = 0; i < 50; i++) {
      const via = [leader, ...followers][i % 3]!;
      await via.member.put({ key: enc(`k${i}`), value: enc(`v${i}`) });
      acked.push(`k${i}`);
    }
    for (const n of h.nodes.values()) {
      const r = await n.member.range({ key: enc('k'), rangeEnd: enc('l') }, { linearizable: true });
      expect(r.count).toBe(50);
    }
    // Stop the leader; the others elect a new one and keep serving.
    h.net.isolate(leader.rec.id);
    await leader.member.stop();
    h.nodes.delete(leader.rec.id);
    const next = await h.waitLeader();
    expect(next.rec.id).not.toBe(leader.rec.id);
    await next.member.put({ key: enc('after'), value: enc('x') });
    const other = [...h.nodes.values()].find((n) => n !== next)!;
    const r = await other.member.range({ key: enc('k'), rangeEnd: enc('l') }, { linearizable: true });
    expect(r.count).toBe(50);
    // The old leader restarts from its disk and catches up.
    h.net.heal();
    const back = await h.boot(leader.rec, leader.fs);
    await until(() => back.member.appliedIndexNow() >= next.member.appliedIndexNow() && back.member.leaderId() !== 0n, 'restarted member catches up');
    const r2 = await back.member.range({ key: enc('after') }, { linearizable: false });
    expect(r2.kvs.length).toBe(1);
    expect(h.fatal).toEqual([]);
  });

  it('a follower whose write is still on its way to disk forwards a new proposal to the leader at once', async () => {
    const h = (harness = new Harness(3));
    // The storage of member `stall` (boot order) holds each write of entries until released.
    let stall = -1;
    const held: Array<{ who: number; release: () => void }> = [];
    h.wrapStorage = holdingWrites((who) => who === stall, held);
    await h.bootAll();
    const leader = await h.waitLeader();
    const nodes = [...h.nodes.values()];
    const f = nodes.find((n) => n !== leader)!;
    await until(() => f.member.leaderId() === leader.rec.id, 'the follower knows the leader');
    stall = nodes.indexOf(f);
    // A put through the leader: the other follower's answer commits it, f's write of it is held,
    // and f's Ready loop waits for that write.
    await leader.member.put({ key: enc('a'), value: enc('1') });
    await until(() => held.length > 0, "the follower's write is held");
    const applied = leader.member.appliedIndexNow();
    const viaF = f.member.put({ key: enc('b'), value: enc('2') });
    await until(() => leader.member.appliedIndexNow() > applied, 'the leader applies the put made through the stalled follower');
    expect((await leader.member.range({ key: enc('b') }, { linearizable: false })).count).toBe(1);
    expect(held.length).toBeGreaterThan(0); // f's write was still held all along
    stall = -1;
    for (const x of held.splice(0)) x.release();
    await viaF;
    expect(h.fatal).toEqual([]);
  });

  it('only a follower with nothing of its own waiting lets its WAL fdatasync block its thread (quietFollower)', async () => {
    const h = (harness = new Harness(3));
    await h.bootAll();
    const leader = await h.waitLeader();
    const followers = [...h.nodes.values()].filter((n) => n !== leader);
    await until(() => followers.every((f) => f.member.leaderId() === leader.rec.id), 'followers know the leader');
    expect(leader.member.quietFollower()).toBe(false);
    for (const f of followers) expect(f.member.quietFollower()).toBe(true);
    // A put through a follower waits there until applied: not quiet meanwhile.
    const f = followers[0]!;
    const put = f.member.put({ key: enc('k'), value: enc('v') });
    expect(f.member.quietFollower()).toBe(false);
    await put;
    expect(f.member.quietFollower()).toBe(true);
    // So does a linearizable read.
    const read = f.member.range({ key: enc('k') }, { linearizable: true });
    expect(f.member.quietFollower()).toBe(false);
    expect((await read).count).toBe(1);
    expect(f.member.quietFollower()).toBe(true);
  });

  it('snapshots stay on disk: raft holds none of their bytes, a restart restores from the file in bounded chunks, and a lagger gets it streamed', async () => {
    const h = (harness = new Harness(3, 40));
    const reads: number[] = [];
    const READ = 4096;
    h.storageOpts = { snapshotData: 'stream', readChunkBytes: READ };
    await h.bootAll();
    const leader = await h.waitLeader();
    const lagger = await h.takeDownFollower(leader);
    const value = (i: number): string => `${i}:`.padEnd(3000, String.fromCharCode(97 + (i % 26)));
    for (let i = 0; i < 200; i++) await leader.member.put({ key: enc(`k${String(i).padStart(3, '0')}`), value: enc(value(i)) });
    await until(() => leader.member['raftStorage'].snapshot().metadata.index > 100, 'a snapshot taken');
    // Raft's copy of the snapshot is metadata only; the 600 KB of state is in the snapshot file.
    expect(leader.member['raftStorage'].snapshot().data.byteLength).toBe(0);
    const check = async (n: Node): Promise<void> => {
      const r = await n.member.range({ key: enc('k'), rangeEnd: enc('l') }, { linearizable: false });
      expect(r.kvs.map((kv) => Buffer.from(kv.value).toString())).toEqual(Array.from({ length: 200 }, (_, i) => value(i)));
    };
    // A restart of a follower: its state comes back from the snapshot file, read in chunks.
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    await follower.member.stop();
    h.nodes.delete(follower.rec.id);
    const inner = follower.fs;
    const counting: MemoryFs = Object.assign(Object.create(inner) as MemoryFs, {
      openRead: async (p: string) => {
        const f = await inner.openRead(p);
        return { sizeBytes: f.sizeBytes, close: () => f.close(), read: async (pos: number, len: number) => {
          const b = await f.read(pos, len);
          reads.push(b.length);
          return b;
        } };
      },
    });
    const back = await h.boot(follower.rec, counting);
    expect(Math.max(...reads)).toBeLessThanOrEqual(READ);
    expect(reads.reduce((a, b) => a + b, 0)).toBeGreaterThan(600_000);
    await until(() => back.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'the restarted follower caught up');
    await check(back);
    // The lagger is far behind the leader's compacted log: it gets the snapshot, streamed from the file.
    await leader.member['raftStorage'].compact(leader.member['raftStorage'].snapshot().metadata.index);
    const lag = await h.boot(lagger.rec, lagger.fs);
    await until(() => lag.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'the lagger caught up');
    await check(lag);
    expect(lag.member['raftStorage'].snapshot().metadata.index).toBeGreaterThan(100); // by snapshot, not by log
    expect(h.fatal).toEqual([]);
  });

  it('members started together take their snapshots at different indexes, each --snapshot-count after its own last one', async () => {
    const count = 30;
    const h = (harness = new Harness(3, count));
    await h.bootAll();
    const leader = await h.waitLeader();
    const taken = new Map<bigint, number[]>([...h.nodes.keys()].map((id) => [id, []]));
    const record = (): void => {
      for (const [id, n] of h.nodes) {
        const at = n.member['raftStorage'].snapshot().metadata.index;
        const seen = taken.get(id)!;
        if (at > 0 && seen[seen.length - 1] !== at) seen.push(at);
      }
    };
    // One put at a time, every member caught up before the next: each applies one entry a slice.
    for (let i = 0; i < 4 * count; i++) {
      await leader.member.put({ key: enc(`k${i}`), value: enc('v') });
      const applied = leader.member.appliedIndexNow();
      await until(() => [...h.nodes.values()].every((n) => n.member.appliedIndexNow() >= applied), 'every member applied the put');
      await until(() => [...h.nodes.values()].every((n) => !n.member['snapshotInProgress']), 'no snapshot being written');
      record();
    }
    // By rank among the voters: the first snapshot after 30, 40 and 50 entries (a third apart).
    const firsts = [...taken.values()].map((at) => at[0]!).sort((a, b) => a - b);
    expect(firsts[1]! - firsts[0]!).toBeGreaterThanOrEqual(count / 3 - 1);
    expect(firsts[2]! - firsts[1]!).toBeGreaterThanOrEqual(count / 3 - 1);
    // Later ones: every count entries after the member's own last one.
    for (const at of taken.values()) {
      expect(at.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBe(count);
    }
    expect(h.fatal).toEqual([]);
  });

  it('a lagging member catches up by snapshot once the log is compacted', async () => {
    const h = (harness = new Harness(3, 20));
    h.metrics = new Map();
    const leaderSnapshotsSaved: number[] = [];
    await h.bootAll();
    const leader = await h.waitLeader();
    const lagger = await h.takeDownFollower(leader);
    // Auth state the lagger misses too: it must come with the snapshot.
    await leader.member.auth.request({ type: 'userAdd', name: 'root', hashedPassword: 'aA==', noPassword: false }, undefined);
    await leader.member.auth.request({ type: 'userGrantRole', user: 'root', role: 'root' }, undefined);
    await leader.member.auth.request({ type: 'authEnable' }, undefined);
    const root = { username: 'root', revision: leader.member.auth.store.revision() };
    // Far more than snapshotCount + catch-up entries would need... the in-memory log keeps
    // 5000 entries behind a snapshot, so write past that.
    // In rounds of 500, so no put waits behind thousands of others.
    for (let from = 0; from < 5300; from += 500) {
      const writes: Array<Promise<unknown>> = [];
      for (let i = from; i < Math.min(5300, from + 500); i++) writes.push(leader.member.put({ key: enc(`s${i % 100}`), value: enc(`v${i}`) }, root));
      await Promise.all(writes);
    }
    await until(() => leader.member.raftStatus().applied >= 0 && leader.member['raftStorage'].firstIndex() > 2, 'leader compacted its log');
    // What the lagger does with the leader's snapshot: saved as one from the leader (etcd's
    // snap_db figures), and etcd_server_snapshot_apply_in_progress_total is 1 while it applies.
    h.wrapStorage = (s) =>
      new Proxy(s, {
        get(target, prop, recv) {
          if (prop !== 'saveSnapshot') return Reflect.get(target, prop, recv) as unknown;
          const save: MemberStorage['saveSnapshot'] = (snap, opts) => {
            if (opts?.fromLeader) leaderSnapshotsSaved.push(snap.metadata.index);
            return target.saveSnapshot(snap, opts);
          };
          return save;
        },
      });
    const inProgress: number[] = [];
    const gauge = h.runtimeMetricsOf(lagger.rec.id).snapshotApplyInProgress;
    const set = gauge.set.bind(gauge);
    gauge.set = ((v: number) => (inProgress.push(v), set(v))) as typeof gauge.set;
    const back = await h.boot(lagger.rec, lagger.fs);
    h.wrapStorage = undefined;
    await until(() => back.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'catch-up by snapshot', 50_000);
    expect(leaderSnapshotsSaved.length).toBeGreaterThanOrEqual(1);
    expect(inProgress.slice(0, 2)).toEqual([1, 0]);
    expect((await gauge.get()).values[0]?.value).toBe(0);
    const r = await back.member.range({ key: enc('s0') }, { linearizable: false });
    expect(dec(r.kvs[0]!.value)).toBe('v5200');
    expect(back.member.auth.store.enabled).toBe(true);
    expect(back.member['sm'].auth.toJSON()).toEqual(leader.member['sm'].auth.toJSON());
    // A write without credentials is refused at apply on every member alike.
    await expect(leader.member.put({ key: enc('x'), value: enc('y') })).rejects.toThrow('etcdserver: user name is empty');
    expect(h.fatal).toEqual([]);
  }, 60_000);

  it('auth state survives a restart (snapshot plus log replay) and a stale auth revision is refused at apply', async () => {
    const h = (harness = new Harness(1, 5));
    const n = (await h.bootAll(), await h.waitLeader());
    const m = n.member;
    await m.auth.request({ type: 'userAdd', name: 'root', hashedPassword: 'aA==', noPassword: false }, undefined);
    await m.auth.request({ type: 'userGrantRole', user: 'root', role: 'root' }, undefined);
    await m.auth.request({ type: 'userAdd', name: 'w', hashedPassword: 'aA==', noPassword: false }, undefined);
    await m.auth.request({ type: 'roleAdd', name: 'rw' }, undefined);
    await m.auth.request({ type: 'roleGrantPermission', name: 'rw', perm: { permType: 2, key: 'k', rangeEnd: '\u0000' } }, undefined);
    await m.auth.request({ type: 'userGrantRole', user: 'w', role: 'rw' }, undefined);
    await m.auth.request({ type: 'authEnable' }, undefined);
    const w = { username: 'w', revision: m.auth.store.revision() };
    await m.put({ key: enc('k1'), value: enc('v') }, w);
    await m.auth.request({ type: 'roleAdd', name: 'other' }, { username: 'root', revision: m.auth.store.revision() });
    // Checked at the older revision: the role change in between may have taken the permission.
    await expect(m.put({ key: enc('k2'), value: enc('v') }, w)).rejects.toThrow('etcdserver: revision of auth store is old');
    const before = m['sm'].auth.toJSON();
    expect(before.revision).toBe(8);
    await m.stop();
    h.nodes.delete(n.rec.id);
    const back = await h.boot(n.rec, n.fs);
    await h.waitLeader();
    expect(back.member['sm'].auth.toJSON()).toEqual(before);
    expect(h.fatal).toEqual([]);
  }, 30_000);

  it('the downgrade state goes through raft: every member applies it, a restart (snapshot plus log replay) keeps it, cancel clears it', async () => {
    const h = (harness = new Harness(3, 5));
    await h.bootAll();
    const leader = await h.waitLeader();
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    const enabled = { enabled: true, targetVersion: '3.4.0' };
    await follower.member.setDowngrade(enabled);
    for (const n of h.nodes.values()) {
      await n.member.linearizableBarrier();
      expect(n.member.downgradeInfo()).toEqual(enabled);
    }
    // Past snapshotCount (5): the state must come back from the snapshot, not only the log.
    for (let i = 0; i < 12; i++) await leader.member.put({ key: enc(`d${i}`), value: enc('v') });
    await follower.member.stop();
    h.nodes.delete(follower.rec.id);
    const back = await h.boot(follower.rec, follower.fs);
    await h.waitLeader();
    await back.member.linearizableBarrier();
    expect(back.member.downgradeInfo()).toEqual(enabled);
    await back.member.setDowngrade({ enabled: false, targetVersion: '' });
    for (const n of h.nodes.values()) {
      await n.member.linearizableBarrier();
      expect(n.member.downgradeInfo()).toEqual({ enabled: false, targetVersion: '' });
    }
    expect(h.fatal).toEqual([]);
  }, 30_000);

  it('etcd_server_apply_duration_seconds observes each applied request by op and outcome', async () => {
    const h = (harness = new Harness(1));
    h.metrics = new Map();
    await h.bootAll();
    const { member, rec } = await h.waitLeader();
    await member.put({ key: enc('a'), value: enc('1') });
    await member.put({ key: enc('a'), value: enc('2') });
    await expect(member.put({ key: enc('b'), value: enc('1'), lease: 12345n })).rejects.toThrow('lease not found');
    await member.compact({ revision: 2, physical: false });
    await member.setDowngrade({ enabled: true, targetVersion: '3.4.0' });
    const text = await h.metricsOf(rec.id).registry.metrics();
    const count = (op: string, success: boolean): string | undefined =>
      new RegExp(`^etcd_server_apply_duration_seconds_count\\{version="v3",op="${op}",success="${success}"\\} (\\d+)$`, 'm').exec(text)?.[1];
    expect(count('Put', true)).toBe('2');
    expect(count('Put', false)).toBe('1');
    expect(count('Compaction', true)).toBe('1');
    expect(count('DowngradeInfoSet', true)).toBe('1');
    // etcd_debugging_server_alarms: +1 per activation applied, -1 when a deactivation removes it.
    const alarmGauge = async (): Promise<string | undefined> =>
      /^etcd_debugging_server_alarms\{server_id="2a",alarm_type="NOSPACE"\} (\d+)$/m.exec(await h.metricsOf(rec.id).registry.metrics())?.[1];
    await member.alarm({ action: 1, memberID: 42n, alarm: 1 });
    expect(await alarmGauge()).toBe('1');
    await member.alarm({ action: 2, memberID: 42n, alarm: 1 });
    expect(await alarmGauge()).toBe('0');
    expect(h.fatal).toEqual([]);
  });

  it('etcd_server_read_indexes_failed_total counts a ReadIndex round the leader change failed', async () => {
    const h = (harness = new Harness(3));
    h.metrics = new Map();
    await h.bootAll();
    const leader = await h.waitLeader();
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    const failed = async (): Promise<number> => (await h.metricsOf(follower.rec.id).readIndexesFailed.get()).values[0]?.value ?? 0;
    await follower.member.linearizableBarrier();
    expect(await failed()).toBe(0);
    h.net.isolate(leader.rec.id);
    // The follower asks the old leader, which cannot answer; the others elect a new one.
    await expect(follower.member.linearizableBarrier()).rejects.toThrow('etcdserver: leader changed');
    expect(await failed()).toBe(1);
    h.net.heal();
    expect(h.fatal).toEqual([]);
  });

  it('Authenticate on a lagging follower waits until it has applied what was committed (etcd linearizableReadNotify): a user just added logs in there', async () => {
    const h = (harness = new Harness(3));
    const lag = lagAppends(h);
    await h.bootAll();
    const leader = await h.waitLeader();
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    const hash = (pw: string): string => Buffer.from(bcrypt.hashSync(pw, 4)).toString('base64');
    const m = leader.member;
    await m.auth.request({ type: 'userAdd', name: 'root', hashedPassword: hash('rootpw'), noPassword: false }, undefined);
    await m.auth.request({ type: 'userGrantRole', user: 'root', role: 'root' }, undefined);
    await m.auth.request({ type: 'authEnable' }, undefined);
    await until(() => follower.member.appliedIndexNow() >= m.appliedIndexNow(), 'the follower applied auth enable');

    lag.to = follower.rec.id;
    const root = { username: 'root', revision: m.auth.store.revision() };
    await m.auth.request({ type: 'userAdd', name: 'late', hashedPassword: hash('latepw'), noPassword: false }, root);
    expect(follower.member.auth.store.user('late')).toBeUndefined(); // committed, not yet applied there
    const ctx = { backend: follower.member, auth: { bcryptCost: 4 } } as unknown as ServerContext;
    // Without the barrier the follower's store decides at once: "authentication failed".
    const login = authenticate(ctx, { name: 'late', password: 'latepw' });
    lag.to = null;
    const reply = await login;
    expect(typeof reply.token).toBe('string');
    expect(follower.member.auth.tokenInfo(String(reply.token))?.username).toBe('late');
    // A wrong password is still refused after the wait.
    await expect(authenticate(ctx, { name: 'late', password: 'nope' })).rejects.toThrow('etcdserver: authentication failed, invalid user ID or password');
    expect(h.fatal).toEqual([]);
  }, 30_000);

  it('a read-only txn takes no log entry (etcd IsTxnReadonly): on a lagging follower a linearizable one waits for what was committed before it, a serializable one answers from its own state', async () => {
    const h = (harness = new Harness(3));
    const lag = lagAppends(h);
    await h.bootAll();
    const leader = await h.waitLeader();
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    await leader.member.put({ key: enc('k'), value: enc('1') });
    await until(() => follower.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'the follower applied the first put');
    const isTwo = (serializable: boolean): mvcc.TxnRequest => ({
      compare: [{ key: enc('k'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: enc('2') }],
      success: [{ requestRange: { key: enc('k'), serializable } }],
      failure: [{ requestRange: { key: enc('k'), serializable } }, { requestTxn: { success: [{ requestRange: { key: enc('none'), serializable } }] } }],
    });
    const valueOf = (r: mvcc.TxnResponse): string => {
      const op = r.responses[0]!;
      return 'responseRange' in op ? dec(op.responseRange.kvs[0]!.value) : 'not a range';
    };

    lag.to = follower.rec.id;
    await leader.member.put({ key: enc('k'), value: enc('2') });
    const committed = leader.member.raftStatus().hardState.commit;
    const stale = await follower.member.txn(isTwo(true), { readOnly: true });
    expect([stale.succeeded, valueOf(stale), stale.header.revision]).toEqual([false, '1', 2]);
    expect(stale.responses).toHaveLength(2);
    const fresh = follower.member.txn(isTwo(false), { readOnly: true });
    lag.to = null;
    const r = await fresh;
    expect([r.succeeded, valueOf(r), r.header.revision]).toEqual([true, '2', 3]);
    const onLeader = await leader.member.txn(isTwo(false), { readOnly: true });
    expect([onLeader.succeeded, valueOf(onLeader), onLeader.header.revision]).toEqual([true, '2', 3]);
    // None of the three reads went through the log; a txn that writes does.
    expect(leader.member.raftStatus().hardState.commit).toBe(committed);
    const w = await leader.member.txn({ success: [{ requestPut: { key: enc('k'), value: enc('3') } }] }, { readOnly: false });
    expect(w.header.revision).toBe(4);
    expect(leader.member.raftStatus().hardState.commit).toBe(committed + 1);
    // A read at a revision that does not exist yet is refused as a range would be.
    await expect(leader.member.txn({ success: [{ requestRange: { key: enc('k'), revision: 99 } }] }, { readOnly: true })).rejects.toThrow(
      'mvcc: required revision is a future revision',
    );
    expect(h.fatal).toEqual([]);
  }, 30_000);

  it('an alarm list on a lagging follower waits until it has applied a disarm committed before it (etcd answers a GET through Raft)', async () => {
    const h = (harness = new Harness(3));
    const lag = lagAppends(h);
    await h.bootAll();
    const leader = await h.waitLeader();
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    const nospace = { memberID: 42n, alarm: AlarmType.NOSPACE };
    const list = { action: AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE };
    await leader.member.alarm({ action: AlarmAction.ACTIVATE, ...nospace });
    expect((await follower.member.alarm(list)).alarms).toEqual([nospace]);

    lag.to = follower.rec.id;
    await leader.member.alarm({ action: AlarmAction.DEACTIVATE, ...nospace });
    expect(follower.member.activeAlarms()).toEqual([nospace]); // committed, not yet applied there
    const listed = follower.member.alarm(list);
    lag.to = null;
    expect((await listed).alarms).toEqual([]);
    expect(h.fatal).toEqual([]);
  }, 30_000);

  it('membership: add a learner, it joins and catches up, promote it, remove a member', async () => {
    const h = (harness = new Harness(3));
    await h.bootAll();
    const leader = await h.waitLeader();
    await leader.member.put({ key: enc('x'), value: enc('1') });
    const peerUrls = ['http://127.0.0.1:39999'];
    const added = await leader.member.memberAdd(peerUrls, true);
    expect(added.member.isLearner).toBe(true);
    await expect(leader.member.memberAdd(['http://127.0.0.1:39998'], true)).rejects.toMatchObject({ code: 'tooManyLearners' });
    const joiner = await h.boot({ id: added.member.id, name: 'm3', peerUrls, clientUrls: [], isLearner: true }, new MemoryFs(), [], h.records);
    await until(() => joiner.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'learner catches up');
    expect(joiner.member.isLearner()).toBe(true);
    await until(() => joiner.member.members().find((m) => m.id === added.member.id)?.name === 'm3', 'learner publishes its name');
    const follower = [...h.nodes.values()].find((n) => n !== leader && n !== joiner)!;
    const afterPromote = await follower.member.memberPromote(added.member.id);
    expect(afterPromote.find((m) => m.id === added.member.id)?.isLearner).toBe(false);
    await expect(leader.member.memberPromote(added.member.id)).rejects.toMatchObject({ code: 'memberNotLearner' });
    await expect(leader.member.memberRemove(12345n)).rejects.toMatchObject({ code: 'memberNotFound' });
    const after = await leader.member.memberRemove(follower.rec.id);
    expect(after.map((m) => m.id)).not.toContain(follower.rec.id);
    await until(() => h.fatal.some((f) => f.startsWith(`${follower.rec.name}:`)), 'removed member stops itself');

    // A removed member cannot move the others' term (etcd: "cannot process message from removed
    // member"): a heartbeat at a higher term would otherwise make the joiner follow it.
    const raftOf = (n: Node) => (n.member['node'] as { status(): { hardState: { term: number }; lead: bigint } }).status();
    const termBefore = raftOf(joiner).hardState.term;
    const { snapshot: _none, ...base } = leaderSnapshot(joiner.member, follower.rec.id, 0, termBefore + 5, { voters: [], learners: [] });
    joiner.member.receive({ ...base, type: 'heartbeat', to: joiner.rec.id } as Message);
    expect(raftOf(joiner).hardState.term).toBe(termBefore);
    expect(raftOf(joiner).lead).toBe(leader.rec.id);
  }, 30_000);

  it('auto-compaction: periodic mode compacts to the revision of one retention window ago; revision mode keeps N revisions', async () => {
    const h = (harness = new Harness(3, 10_000, { mode: 'periodic', retentionMs: 500, retentionRevisions: 0 }));
    await h.bootAll();
    const leader = await h.waitLeader();
    for (let i = 0; i < 20; i++) await leader.member.put({ key: enc('p'), value: enc(`${i}`) });
    const revAfterWrites = leader.member.header().revision;
    await until(() => [...h.nodes.values()].every((n) => (n.member as unknown as { sm: MvccStateMachine }).sm.compactRevision() >= revAfterWrites - 1), 'periodic auto-compaction on every member', 10_000);
    await h.stopAll();

    const h2 = (harness = new Harness(1, 10_000, { mode: 'revision', retentionMs: 0, retentionRevisions: 5 }));
    await h2.bootAll();
    const only = await h2.waitLeader();
    for (let i = 0; i < 20; i++) await only.member.put({ key: enc('r'), value: enc(`${i}`) });
    const rev = only.member.header().revision;
    await until(() => (only.member as unknown as { sm: MvccStateMachine }).sm.compactRevision() === rev - 5, 'revision auto-compaction', 10_000);
    await expect(only.member.range({ key: enc('r'), revision: rev - 6 }, { linearizable: false })).rejects.toMatchObject({ code: 'compacted' });
  }, 30_000);

  it('a joiner catches up from a leader that is not in the first membership (it keeps the peers it was told of)', async () => {
    const h = (harness = new Harness(3));
    await h.bootAll();
    const leader = await h.waitLeader();
    await leader.member.put({ key: enc('k'), value: enc('v') });
    // More log than one append carries (1 MiB per message) before m3 is added: a joiner must answer
    // the leader before it sees the entry that names m3.
    for (let i = 0; i < 4; i++) await leader.member.put({ key: enc(`big${i}`), value: Buffer.alloc(600_000, i) });
    // m3 joins, is promoted and takes the lead: the leader is now a member the index-0 snapshot does not know.
    const urls3 = ['http://127.0.0.1:39990'];
    const a3 = await leader.member.memberAdd(urls3, true);
    const rec3: MemberRecord = { id: a3.member.id, name: 'm3', peerUrls: urls3, clientUrls: [], isLearner: true };
    const m3 = await h.boot(rec3, new MemoryFs(), [], h.records);
    await until(() => m3.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'm3 catches up');
    // The leader promotes only a learner its progress shows in sync: retry as a client would.
    let promoted = false;
    const promote = (): void => void leader.member.memberPromote(a3.member.id).then(() => (promoted = true), () => setTimeout(promote, 20));
    promote();
    await until(() => promoted && !m3.member.isLearner(), 'm3 promoted');
    await leader.member.moveLeader(a3.member.id);
    await until(() => m3.member.roleNow() === 'leader', 'm3 leads');
    // m4 joins with the current members as hints, as a joining member's bootstrap gives them.
    const urls4 = ['http://127.0.0.1:39991'];
    const a4 = await m3.member.memberAdd(urls4, true);
    const hints = [...h.records, { ...rec3, isLearner: false }];
    // Over TCP the appends may come only after the index-0 snapshot is applied, so m4 must never
    // drop its way to m3 meanwhile (here the first appends race ahead of that, so watch the peers).
    const m4Removed: bigint[] = [];
    h.wrapTransport = (t) =>
      new Proxy(t, {
        get(target, prop, recv) {
          if (prop === 'removePeer') return (id: bigint) => (m4Removed.push(id), target.removePeer(id));
          return Reflect.get(target, prop, recv) as unknown;
        },
      });
    const m4 = await h.boot({ id: a4.member.id, name: 'm4', peerUrls: urls4, clientUrls: [], isLearner: true }, new MemoryFs(), [], hints);
    h.wrapTransport = undefined;
    await until(() => m4.member.appliedIndexNow() >= m3.member.appliedIndexNow(), 'm4 catches up from m3');
    expect(m4Removed).not.toContain(a3.member.id);
    expect(dec((await m4.member.range({ key: enc('k') }, { linearizable: false })).kvs[0]!.value)).toBe('v');
  }, 30_000);

  it('a member that restarts behind the conf change that added the leader learns its address and catches up (whole-member simulator seed 1011)', async () => {
    const h = (harness = new Harness(3));
    await h.bootAll();
    const leader = await h.waitLeader();
    await leader.member.put({ key: enc('k'), value: enc('v1') });
    // One follower goes down before m3 exists.
    const lagging = [...h.nodes.values()].find((n) => n !== leader)!;
    h.net.isolate(lagging.rec.id);
    await lagging.member.stop();
    h.nodes.delete(lagging.rec.id);
    h.net.heal();
    // m3 joins, is promoted and takes the lead.
    const urls3 = ['http://127.0.0.1:39980'];
    const a3 = await leader.member.memberAdd(urls3, true);
    const m3 = await h.boot({ id: a3.member.id, name: 'm3', peerUrls: urls3, clientUrls: [], isLearner: true }, new MemoryFs(), [], h.records);
    await until(() => m3.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'm3 catches up');
    let promoted = false;
    const promote = (): void => void leader.member.memberPromote(a3.member.id).then(() => (promoted = true), () => setTimeout(promote, 20));
    promote();
    await until(() => promoted, 'm3 promoted');
    await leader.member.moveLeader(a3.member.id);
    await m3.member.put({ key: enc('k'), value: enc('v2') });
    // The lagging member restarts from its disk: its membership has no m3, the leader.
    const back = await h.boot(lagging.rec, lagging.fs);
    expect(back.member.members().some((m) => m.id === a3.member.id)).toBe(false);
    await until(() => back.member.appliedIndexNow() >= m3.member.appliedIndexNow() && back.member.leaderId() === a3.member.id, 'the restarted member follows m3 and catches up');
    expect(dec((await back.member.range({ key: enc('k') }, { linearizable: false })).kvs[0]!.value)).toBe('v2');
    expect(h.fatal).toEqual([]);
  }, 30_000);

  it("a disk stall on every member holds raft's clock, as etcd's Save does: no election, no check-quorum step-down, the write commits in the same term", async () => {
    // 8 GiB data-scale run (a CI rehearsal loading the disk beside it): fdatasyncs of 1-2 s held
    // every member's write at once; ticking on meanwhile, followers campaigned for want of the
    // leader's heartbeats (which leave only with its next Ready) and the leader stepped down for
    // want of their answers (which wait behind their writes). Each new term lost the proposals
    // forwarded to the old leader: 58 puts timed out. etcd's raftNode takes no tick during Save.
    const h = (harness = new Harness(3));
    // Each member's heartbeat timer firings (time passing), counted apart from raft's ticks.
    const firings: number[] = [];
    h.scheduler = {
      ...realScheduler,
      every(ms, fn) {
        if (ms !== 10) return realScheduler.every(ms, fn);
        const i = firings.push(0) - 1;
        return realScheduler.every(ms, () => {
          firings[i]!++;
          fn();
        });
      },
    };
    // While `stalled`, each write of entries completes only when released.
    let stalled = false;
    const held: Array<{ who: number; release: () => void }> = [];
    h.wrapStorage = holdingWrites(() => stalled, held);
    await h.bootAll();
    const leader = await h.waitLeader();
    const term = leader.member.raftStatus().hardState.term;
    const before = [...h.nodes.values()].map((n) => n.member.raftStatus().softState.raftState);
    stalled = true;
    const put = leader.member.put({ key: enc('k'), value: enc('v') });
    // The leader's write of the entry waits, and so does each follower's once the append came
    // (the leader sends it before its own write).
    await until(() => new Set(held.map((x) => x.who)).size === 3, 'every member waiting for its write');
    const from = [...firings];
    await until(() => firings.every((f, i) => f - from[i]! >= 40), 'four election timeouts of heartbeat timer on every member');
    expect([...h.nodes.values()].map((n) => n.member.raftStatus().softState.raftState)).toEqual(before);
    expect([...h.nodes.values()].map((n) => n.member.raftStatus().hardState.term)).toEqual([term, term, term]);
    stalled = false;
    for (const x of held.splice(0)) x.release();
    await put;
    expect(leader.member.raftStatus().hardState.term).toBe(term);
    await until(() => [...h.nodes.values()].every((n) => n.member.leaderId() === leader.rec.id && n.member.raftStatus().hardState.term === term), 'everyone still follows the leader in its term');
    expect(h.fatal).toEqual([]);
  });

  it('moves leadership on request', async () => {
    const h = (harness = new Harness(3));
    await h.bootAll();
    const leader = await h.waitLeader();
    const target = [...h.nodes.values()].find((n) => n !== leader)!;
    await expect(target.member.moveLeader(leader.rec.id)).rejects.toMatchObject({ code: 'notLeader' });
    await leader.member.moveLeader(target.rec.id);
    expect(target.member.roleNow()).toBe('leader');
  });

  it('raft never advances its applied index past a membership change the runtime has not applied yet (etcd waitApply)', async () => {
    // A slow state machine: each apply takes ~1 ms, so a burst of committed entries takes
    // several apply slices and the apply loop yields between them.
    class SlowStateMachine extends MvccStateMachine {
      override apply(...args: Parameters<MvccStateMachine['apply']>): ReturnType<MvccStateMachine['apply']> {
        const until = performance.now() + 1;
        while (performance.now() < until);
        return super.apply(...args);
      }
    }
    const h = (harness = new Harness(1));
    h.makeStateMachine = () => new SlowStateMachine();
    await h.bootAll();
    const { member } = await h.waitLeader();
    // Invariant, checked after every advance(): every conf change at or below raft's applied
    // index has been applied by the runtime (so raft's tracker, its campaign guard and its
    // one-pending-conf-change guard all see the membership that raft thinks is applied).
    const violations: string[] = [];
    const node = member['node'];
    const rs = member['raftStorage'];
    const advance = node.advance.bind(node);
    let checked = node.status().applied;
    node.advance = () => {
      advance();
      const applied = node.status().applied;
      if (applied <= checked) return;
      for (const e of rs.entries(Math.max(checked + 1, rs.firstIndex()), applied + 1, Number.MAX_SAFE_INTEGER)) {
        if (e.type === 'confChange' && member.appliedIndexNow() < e.index) {
          violations.push(`raft applied ${applied}, conf change at ${e.index}, runtime applied ${member.appliedIndexNow()}`);
        }
      }
      checked = applied;
    };
    const puts: Array<Promise<unknown>> = [];
    for (let i = 0; i < 40; i++) puts.push(member.put({ key: enc(`w${i}`), value: enc('v') }));
    const added = member.memberAdd(['http://127.0.0.1:39997'], true);
    await Promise.all(puts);
    await added;
    expect(violations).toEqual([]);
    expect(node.status().confState.learners).toHaveLength(1);
    expect(h.fatal).toEqual([]);
  });

  it('a snapshot that arrives while a committed conf change is still being applied is not undone by that stale conf change', async () => {
    class SlowStateMachine extends MvccStateMachine {
      delayMs = 0;
      override apply(...args: Parameters<MvccStateMachine['apply']>): ReturnType<MvccStateMachine['apply']> {
        const until = performance.now() + this.delayMs;
        while (performance.now() < until);
        return super.apply(...args);
      }
    }
    const h = (harness = new Harness(3));
    h.makeStateMachine = () => new SlowStateMachine();
    await h.bootAll();
    const leader = await h.waitLeader();
    const f = [...h.nodes.values()].find((n) => n !== leader)!;
    const fm = f.member;
    (fm['sm'] as SlowStateMachine).delayMs = 1;
    const rs = fm['raftStorage'];
    const start = fm.raftStatus().hardState.commit;
    const puts: Array<Promise<unknown>> = [];
    for (let i = 0; i < 200; i++) puts.push(leader.member.put({ key: enc(`w${i}`), value: enc('v') }));
    const added = leader.member.memberAdd(['http://127.0.0.1:39996'], true);
    // Wait for the window: the follower's raft has handed out the committed conf change
    // (addLearnerNode) but the apply loop has not applied it yet.
    let ccIndex = 0;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error('never saw the conf change committed and unapplied');
      const commit = fm.raftStatus().hardState.commit;
      if (ccIndex === 0 && rs.lastIndex() > start) {
        for (const e of rs.entries(Math.max(start + 1, rs.firstIndex()), rs.lastIndex() + 1, Number.MAX_SAFE_INTEGER)) if (e.type === 'confChange') ccIndex = e.index;
      }
      const applyLoop = fm['applyLoop'];
      const queued = (applyLoop['queue'] as Array<{ kind: string; entry?: { index: number } } | undefined>).slice(applyLoop['head']);
      if (ccIndex > 0 && commit >= ccIndex && queued.some((it) => it?.entry?.index === ccIndex)) break;
      await new Promise((r) => setImmediate(r));
    }
    // Now a snapshot from the leader arrives (here crafted: in production, a leader that had
    // compacted past this follower's log sends one) whose membership no longer has the learner.
    h.net.isolate(f.rec.id);
    const st = fm.raftStatus();
    const confState = { voters: [...st.confState.voters], learners: [] as bigint[] };
    expect(confState.voters).toHaveLength(3);
    const snapIndex = st.hardState.commit + 1000;
    const snapMsg = leaderSnapshot(fm, leader.rec.id, snapIndex, st.hardState.term, confState);
    fm.receive(snapMsg);
    await until(() => fm.appliedIndexNow() >= snapIndex, 'the follower applies the snapshot');
    // Raft's membership must be the snapshot's, not the snapshot's plus the older learner add.
    expect(fm.raftStatus().confState).toEqual(confState);
    expect(h.fatal).toEqual([]);
    await Promise.all(puts);
    await added;
  }, 30_000);

  it('a follower that receives a snapshot while it still applies older entries keeps running (its own snapshots do not trip over it)', async () => {
    class SlowStateMachine extends MvccStateMachine {
      delayMs = 0;
      override apply(...args: Parameters<MvccStateMachine['apply']>): ReturnType<MvccStateMachine['apply']> {
        const until = performance.now() + this.delayMs;
        while (performance.now() < until);
        return super.apply(...args);
      }
    }
    const h = (harness = new Harness(3, 20));
    h.makeStateMachine = () => new SlowStateMachine();
    await h.bootAll();
    const leader = await h.waitLeader();
    const f = [...h.nodes.values()].find((n) => n !== leader)!;
    const fm = f.member;
    (fm['sm'] as SlowStateMachine).delayMs = 1;
    const puts: Array<Promise<unknown>> = [];
    for (let i = 0; i < 300; i++) puts.push(leader.member.put({ key: enc(`w${i}`), value: enc('v') }));
    // Wait until the follower has committed far more than it has applied.
    await until(() => fm.raftStatus().hardState.commit - fm.appliedIndexNow() > 60, 'an apply backlog on the follower');
    h.net.isolate(f.rec.id);
    const st = fm.raftStatus();
    const snapIndex = st.hardState.commit + 1000;
    const snapMsg = leaderSnapshot(fm, leader.rec.id, snapIndex, st.hardState.term, st.confState);
    fm.receive(snapMsg);
    await until(() => fm.appliedIndexNow() >= snapIndex || h.fatal.length > 0, 'the follower applies the snapshot');
    expect(h.fatal).toEqual([]);
    expect(fm.appliedIndexNow()).toBe(snapIndex);
    h.net.heal();
    await Promise.all(puts);
  }, 30_000);

  it('a leader that campaigned and won in one step (single voter + learner) sends nothing in its new term before that term is durable', async () => {
    const h = (harness = new Harness(1));
    await h.bootAll();
    const first = await h.waitLeader();
    // A learner in the configuration (never started): the leader replicates to it.
    const learnerId = (await first.member.memberAdd(['http://127.0.0.1:39995'], true)).member.id;
    await first.member.put({ key: enc('a'), value: enc('1') });
    await first.member.stop();
    h.nodes.delete(first.rec.id);
    // Restart: the single voter campaigns and becomes leader in the same step, so one Ready
    // carries the new term (not yet on disk) and the first appends to the learner. If those
    // left before the term is durable, a crash could restart it in the old term; it would
    // win the same term again and could append different entries under the same (index, term)
    // the learner already holds.
    let durableTerm = 0;
    const violations: string[] = [];
    h.wrapStorage = (st, recovered) => {
      durableTerm = recovered.hardState.term;
      return {
        save: (hs, ents, sync) =>
          st.save(hs, ents, sync).then(() => {
            if (hs && sync && hs.term > durableTerm) durableTerm = hs.term;
          }),
        saveSnapshot: (snap, opts) => st.saveSnapshot(snap, opts),
        releaseTo: (i) => st.releaseTo(i),
        close: () => st.close(),
      };
    };
    h.wrapTransport = (t) =>
      new Proxy(t, {
        get(target, prop, recv) {
          if (prop === 'send') {
            return (msgs: readonly Message[]) => {
              for (const m of msgs) if (m.term > durableTerm) violations.push(`${m.type} to ${m.to} in term ${m.term}, durable term ${durableTerm}`);
              target.send(msgs);
            };
          }
          const v = Reflect.get(target, prop, recv) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const back = await h.boot(first.rec, first.fs);
    // With a learner in the configuration the single voter campaigns on an election tick.
    // Right after the tick that makes it leader (before its first Ready), a proposal forwarded
    // by the learner (which still takes it for the leader) arrives: raft appends it at once
    // and owes the learner an append.
    const node = back.member['node'];
    const tick = node.tick.bind(node);
    let injected = false;
    node.tick = () => {
      tick();
      if (!injected && node.status().softState.raftState === 'leader') {
        injected = true;
        back.member.receive({ type: 'prop', to: first.rec.id, from: learnerId, term: 0, logTerm: 0, index: 0, entries: [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }], commit: 0, reject: false, rejectHint: 0 });
      }
    };
    await until(() => back.member.roleNow() === 'leader', 'the restarted single voter leads');
    await back.member.put({ key: enc('b'), value: enc('2') });
    expect(injected).toBe(true);
    expect(violations).toEqual([]);
    expect(h.fatal).toEqual([]);
  });

  it('apply is total: malformed and invalid entries in the log answer or are skipped alike on every member, and no member stops (issue 17)', async () => {
    const h = (harness = new Harness(3));
    await h.bootAll();
    const leader = await h.waitLeader();
    const lm = leader.member;
    // Proposed straight to the backend, past the server's checks: apply answers with the error.
    const badTxn = { compare: [{ key: enc('k'), result: 9 as 0, target: 0 as const }], success: [{ requestPut: { key: enc('k'), value: enc('v') } }] };
    await expect(lm.txn(badTxn, { readOnly: false })).rejects.toMatchObject({ grpcCode: 'InvalidArgument' });
    await expect(lm.alarm({ action: 9 as 0, memberID: 0n, alarm: 1 })).rejects.toMatchObject({ grpcCode: 'InvalidArgument' });
    // Bytes no member can decode, as a damaged or foreign log would hold them.
    const envelope = (kind: 'mvcc' | 'attrs', body: Uint8Array): Buffer => encodeEnvelope(kind, 0n, 0, body);
    const poison = [Buffer.from([7, 7, 7]), Buffer.alloc(40, 0xff), envelope('mvcc', Buffer.from([1, 3, 200])), envelope('attrs', enc('{not json')), envelope('attrs', enc('{"id":"x"}'))];
    const proposals = (lm as unknown as { proposals: Uint8Array[] }).proposals;
    proposals.push(...poison);
    await lm.put({ key: enc('after'), value: enc('ok') });
    for (const n of h.nodes.values()) {
      await until(() => n.member.appliedIndexNow() >= lm.appliedIndexNow(), `${n.rec.name} applies everything`);
      const r = await n.member.range({ key: enc('after') }, { linearizable: false });
      expect(r.kvs.length).toBe(1);
    }
    const hashes = await Promise.all([...h.nodes.values()].map((n) => n.member.hashKV(0)));
    expect(new Set(hashes.map((x) => x.hash)).size).toBe(1);
    // A restart replays all of it from the WAL (what once stopped the member again, for good).
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    await follower.member.stop();
    const back = await h.boot(follower.rec, follower.fs);
    await until(() => back.member.appliedIndexNow() >= lm.appliedIndexNow(), 'restarted member replays its log');
    expect((await back.member.hashKV(0)).hash).toBe(hashes[0]!.hash);
    // A snapshot message whose data is junk is refused, not taken and then fatal to apply.
    const junk = leaderSnapshot(back.member, leader.rec.id, lm.appliedIndexNow() + 100, lm.header().raftTerm, { voters: h.records.map((r) => r.id), learners: [] });
    junk.snapshot = { ...junk.snapshot!, data: Buffer.from('not a snapshot') };
    back.member.receive(junk);
    await lm.put({ key: enc('after-junk-snapshot'), value: enc('ok') });
    await until(() => back.member.appliedIndexNow() >= lm.appliedIndexNow(), 'the member goes on applying');
    expect(h.fatal).toEqual([]);
  });
});

describe('member runtime on the value log (values on disk)', () => {
  it('Defragment gives the dead bytes of compacted revisions back, and a restarted member rebuilds its values from the snapshot and the WAL', async () => {
    const ops = new MemorySyncFileOps();
    let logs = 0;
    const h = (harness = new Harness(3, 50));
    h.makeStateMachine = () => new MvccStateMachine({ valueLog: ValueLog.open(ops, `/vlog/${logs++}`, { writeBufferBytes: 4096 }) });
    await h.bootAll();
    const leader = await h.waitLeader();
    const value = (i: number): Buffer => Buffer.alloc(2000, i % 251);
    for (let i = 0; i < 200; i++) await leader.member.put({ key: enc(`k${i % 5}`), value: value(i) });
    const rev = (await leader.member.range({ key: enc('k0') }, { linearizable: true })).header.revision;
    await leader.member.compact({ revision: rev, physical: true });
    for (const n of h.nodes.values()) await until(() => n.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'every member applied the compaction');
    for (const n of h.nodes.values()) {
      const before = await n.member.status();
      expect(before.dbSizeBytes - before.dbSizeInUseBytes).toBeGreaterThan(190 * 2000);
      await n.member.defragment();
      const after = await n.member.status();
      expect(after.dbSizeInUseBytes).toBe(before.dbSizeInUseBytes);
      expect(after.dbSizeBytes - after.dbSizeInUseBytes).toBeLessThan(100); // a CRC per held value
    }
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    await follower.member.stop();
    const back = await h.boot(follower.rec, follower.fs);
    await until(() => back.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'the restarted member caught up');
    const all = { key: enc('k'), rangeEnd: enc('l') };
    const want = (await leader.member.range(all, { linearizable: true })).kvs;
    expect(want.map((kv) => dec(kv.key))).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(want.map((kv) => Buffer.from(kv.value).equals(value(195 + Number(dec(kv.key).slice(1)))))).toEqual([true, true, true, true, true]);
    expect((await back.member.range(all, { linearizable: false })).kvs).toEqual(want);
    expect((await back.member.hashKV(0)).hash).toBe((await leader.member.hashKV(0)).hash);
    expect(h.fatal).toEqual([]);
  }, 60_000);

  /** Kept value logs, no snapshot due (count 10,000): 200 puts over 5 keys, then a physical compaction. */
  async function compactedOnKeptLogs() {
    const ops = new MemorySyncFileOps();
    const h = (harness = new Harness(3, 10_000));
    h.storageOpts = { snapshotData: 'stream' };
    h.makeStateMachine = (rec) => new MvccStateMachine({ valueLog: ValueLog.open(ops, `/vlog/${rec.name}`, { writeBufferBytes: 4096, keep: { retainSnapshots: 2 } }) });
    await h.bootAll();
    const leader = await h.waitLeader();
    const value = (i: number): Buffer => Buffer.alloc(2000, i % 251);
    for (let i = 0; i < 200; i++) await leader.member.put({ key: enc(`k${i % 5}`), value: value(i) });
    const rev = (await leader.member.range({ key: enc('k0') }, { linearizable: true })).header.revision;
    await leader.member.compact({ revision: rev, physical: true });
    return { ops, h, leader, value };
  }

  it('kept value logs: Defragment gives the disk space back before it returns, as etcd\'s does (the snapshots that free the old segments are taken at once)', async () => {
    const { ops, h, leader, value } = await compactedOnKeptLogs();
    for (const n of h.nodes.values()) await until(() => n.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'every member applied the compaction');
    const diskOf = (name: string): number => ops.readdir(`/vlog/${name}`).reduce((n, f) => n + ops.files.get(`/vlog/${name}/${f}`)!.len, 0);
    // One member at a time, as the operator does; no snapshot is due (count 10,000) and no client writes.
    for (const n of h.nodes.values()) {
      const before = diskOf(n.rec.name);
      expect(before).toBeGreaterThan(190 * 2000);
      await n.member.defragment();
      expect(diskOf(n.rec.name), `${n.rec.name}: value log on disk after Defragment`).toBeLessThan(before / 10);
      expect((await n.member.status()).dbSizeBytes).toBeLessThan(before / 10);
    }
    const all = { key: enc('k'), rangeEnd: enc('l') };
    const want = (await leader.member.range(all, { linearizable: true })).kvs;
    expect(want.map((kv) => Buffer.from(kv.value).equals(value(195 + Number(dec(kv.key).slice(1)))))).toEqual([true, true, true, true, true]);
    for (const n of h.nodes.values()) expect((await n.member.hashKV(0)).hash).toBe((await leader.member.hashKV(0)).hash);
    // And the old segments stay gone across a restart from the snapshots that freed them.
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    await follower.member.stop();
    const back = await h.boot(follower.rec, follower.fs);
    await until(() => back.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'the restarted member caught up');
    expect((await back.member.range(all, { linearizable: false })).kvs).toEqual(want);
    expect(h.fatal).toEqual([]);
  }, 60_000);

  it('kept value logs: a member that defragments without a leader keeps counting the old segments, and frees them with the next writes', async () => {
    const { ops, h, leader, value } = await compactedOnKeptLogs();
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    await until(() => follower.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'the follower applied the compaction');
    const dir = `/vlog/${follower.rec.name}`;
    const disk = (): number => ops.readdir(dir).reduce((n, f) => n + ops.files.get(`${dir}/${f}`)!.len, 0);
    const before = disk();
    h.net.isolate(follower.rec.id);
    await until(() => follower.member.leaderId() === 0n, 'the isolated follower lost its leader');
    await follower.member.defragment();
    // Nothing could be snapshotted past: the old segments are still on disk, and dbSize says so.
    expect(disk()).toBeGreaterThan(before * 0.9);
    expect((await follower.member.status()).dbSizeBytes).toBeGreaterThan(before * 0.9);
    h.net.heal();
    const next = await h.waitLeader();
    await next.member.put({ key: enc('after'), value: enc('x') });
    await next.member.put({ key: enc('after'), value: enc('y') });
    await until(() => disk() < before / 10, 'the next writes brought the snapshots that free the old segments');
    expect((await follower.member.status()).dbSizeBytes).toBeLessThan(before / 10);
    expect((await follower.member.hashKV(0)).hash).toBe((await next.member.hashKV(0)).hash);
    expect(h.fatal).toEqual([]);
  }, 60_000);

  it('kept value logs: snapshots name offsets, and a restarted member adopts its log instead of writing the values again', async () => {
    const ops = new MemorySyncFileOps();
    const h = (harness = new Harness(3, 50));
    h.storageOpts = { snapshotData: 'stream' };
    h.makeStateMachine = (rec) => new MvccStateMachine({ valueLog: ValueLog.open(ops, `/vlog/${rec.name}`, { writeBufferBytes: 4096, keep: { retainSnapshots: 2 } }) });
    await h.bootAll();
    const leader = await h.waitLeader();
    const value = (i: number): Buffer => Buffer.alloc(2000, i % 251);
    for (let i = 0; i < 200; i++) await leader.member.put({ key: enc(`k${i % 5}`), value: value(i) });
    const rev = (await leader.member.range({ key: enc('k0') }, { linearizable: true })).header.revision;
    await leader.member.compact({ revision: rev, physical: true });
    for (const n of h.nodes.values()) await until(() => n.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'every member applied the compaction');
    for (const n of h.nodes.values()) await n.member.defragment();
    // Past the next snapshot (count 50), so the defragment's old segments may go.
    for (let i = 200; i < 320; i++) await leader.member.put({ key: enc(`k${i % 5}`), value: value(i) });
    const follower = [...h.nodes.values()].find((n) => n !== leader)!;
    await until(() => follower.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'the follower applied every put');
    await follower.member.stop();
    const dir = `/vlog/${follower.rec.name}`;
    const sizeOf = (): number => ops.readdir(dir).reduce((n, f) => n + ops.files.get(`${dir}/${f}`)!.len, 0);
    const before = sizeOf();
    const back = await h.boot(follower.rec, follower.fs);
    await until(() => back.member.appliedIndexNow() >= leader.member.appliedIndexNow(), 'the restarted member caught up');
    // WAL replay after the snapshot appended at most 50 entries' values; the state was not written again.
    expect(sizeOf() - before).toBeLessThanOrEqual(50 * 2004);
    const all = { key: enc('k'), rangeEnd: enc('l') };
    const want = (await leader.member.range(all, { linearizable: true })).kvs;
    expect(want.map((kv) => Buffer.from(kv.value).equals(value(315 + Number(dec(kv.key).slice(1)))))).toEqual([true, true, true, true, true]);
    expect((await back.member.range(all, { linearizable: false })).kvs).toEqual(want);
    expect((await back.member.hashKV(0)).hash).toBe((await leader.member.hashKV(0)).hash);
    expect(h.fatal).toEqual([]);
  }, 60_000);
});
