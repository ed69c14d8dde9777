// A single-member MemberBackend over node/mvcc's store, without raft: every write is applied at
// once with the next index. For the server's unit tests only (a fake, never the proof: the
// acceptance suite in test/integration runs real bin/tsetcd processes).
// Watches are served by node/mvcc's WatchHub, notified after every apply.

import { AuthError } from '../../mvcc/auth-errors.js';
import { checkCommand } from '../../mvcc/auth-gate.js';
import { AuthStore, type AuthInfo } from '../../mvcc/auth-store.js';
import type { Command } from '../../mvcc/index.js';
import { MvccStore, WatchHub } from '../../mvcc/index.js';
import type { AuthBackend, DowngradeInfo, HeaderInfo, Member, MemberBackend, MemberStatus, SnapshotStream, WatchSink, WatchStream } from '../backend.js';
import { BackendError } from '../backend.js';

export interface MemoryBackendOptions {
  readonly memberId?: bigint;
  readonly clusterId?: bigint;
  readonly name?: string;
  readonly clientUrls?: readonly string[];
  /** Lease expiry check period; 0 disables the timer (tests call expireLeases()). */
  readonly leaseCheckMs?: number;
  readonly nowMs?: () => number;
}

export class MemoryBackend implements MemberBackend {
  readonly store = new MvccStore({ minLeaseTtlSec: 1 });
  private index = 0;
  readonly hub: WatchHub;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  private members: Member[];
  learner = false;
  leader = true;
  private readonly authStore = new AuthStore();
  private readonly tokens = new Map<string, string>();
  readonly auth: AuthBackend = {
    store: this.authStore,
    leaseKeys: (id) => this.store.lease(id)?.keys,
    tokenInfo: (t) => {
      const u = this.authStore.enabled ? this.tokens.get(t) : undefined;
      return u === undefined ? undefined : { username: u, revision: this.authStore.revision() };
    },
    // One member, applied at once: nothing to wait for.
    barrier: async () => {},
    request: async (cmd, ai) => {
      const r = this.authStore.apply(cmd, ai);
      if (cmd.type === 'authDisable') this.tokens.clear();
      if (r.type !== 'authenticated') return r;
      const token = `${r.simpleToken}.${++this.index}`;
      this.tokens.set(token, r.username);
      return { ...r, token };
    },
  };

  constructor(opts: MemoryBackendOptions = {}) {
    this.memberId = opts.memberId ?? 0x1234abcdn;
    this.clusterId = opts.clusterId ?? 0x5678efn;
    this.now = opts.nowMs ?? Date.now;
    this.members = [
      { id: this.memberId, name: opts.name ?? 'default', peerUrls: ['http://127.0.0.1:2380'], clientUrls: [...(opts.clientUrls ?? [])], isLearner: false },
    ];
    this.hub = new WatchHub(this.store);
    this.store.lessor.promote(this.now(), 0);
    const every = opts.leaseCheckMs ?? 200;
    if (every > 0) {
      this.timer = setInterval(() => this.expireLeases(), every);
      this.timer.unref();
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Bounded catch-up of unsynced watchers, spread over event-loop turns. */
  private catchUp(): void {
    if (this.hub.syncStep(10_000)) return;
    setImmediate(() => this.catchUp());
  }

  expireLeases(): void {
    for (const id of this.store.lessor.expired(this.now(), 100)) this.apply({ type: 'leaseRevoke', req: { ID: id } });
  }

  private apply<T>(cmd: Command, as?: AuthInfo): T {
    const denied: AuthError | undefined = checkCommand(this.authStore, as, cmd, this.auth.leaseKeys);
    if (denied) throw denied;
    const res = this.store.apply(cmd, ++this.index);
    if (!res.ok) throw res.error;
    this.hub.notify();
    this.catchUp();
    return res.response as T;
  }

  private checkWritable(): void {
    if (!this.leader) throw new BackendError('noLeader');
    if (this.learner) throw new BackendError('notSupportedForLearner');
  }

  header(): HeaderInfo {
    return { clusterId: this.clusterId, memberId: this.memberId, raftTerm: 2, revision: this.store.currentRevision() };
  }
  hasLeader(): boolean {
    return this.leader;
  }
  isLearner(): boolean {
    return this.learner;
  }
  activeAlarms() {
    return this.store.alarms();
  }

  async range(req: Parameters<MemberBackend['range']>[0], opts: { linearizable: boolean }) {
    if (opts.linearizable && !this.leader) throw new BackendError('noLeader');
    return this.store.range(req);
  }
  async put(req: Parameters<MemberBackend['put']>[0], as?: AuthInfo) {
    this.checkWritable();
    return this.apply<Awaited<ReturnType<MemberBackend['put']>>>({ type: 'put', req }, as);
  }
  async deleteRange(req: Parameters<MemberBackend['deleteRange']>[0], as?: AuthInfo) {
    this.checkWritable();
    return this.apply<Awaited<ReturnType<MemberBackend['deleteRange']>>>({ type: 'deleteRange', req }, as);
  }
  async txn(req: Parameters<MemberBackend['txn']>[0], _opts?: unknown, as?: AuthInfo) {
    this.checkWritable();
    return this.apply<Awaited<ReturnType<MemberBackend['txn']>>>({ type: 'txn', req }, as);
  }
  async compact(req: Parameters<MemberBackend['compact']>[0], as?: AuthInfo) {
    this.checkWritable();
    const resp = this.apply<Awaited<ReturnType<MemberBackend['compact']>>>({ type: 'compaction', req }, as);
    while (!this.store.compactStep(10_000)) {
      /* physical compaction in steps */
    }
    return resp;
  }
  async leaseGrant(req: Parameters<MemberBackend['leaseGrant']>[0]) {
    this.checkWritable();
    return this.apply<Awaited<ReturnType<MemberBackend['leaseGrant']>>>({ type: 'leaseGrant', req });
  }
  async leaseRevoke(req: Parameters<MemberBackend['leaseRevoke']>[0]) {
    this.checkWritable();
    return this.apply<Awaited<ReturnType<MemberBackend['leaseRevoke']>>>({ type: 'leaseRevoke', req });
  }
  async leaseKeepAlive(req: Parameters<MemberBackend['leaseKeepAlive']>[0]) {
    this.checkWritable();
    const r = this.store.lessor.renew(req.ID, this.now());
    return { header: this.header(), ID: req.ID, TTL: r.TTL };
  }
  async leaseTimeToLive(req: Parameters<MemberBackend['leaseTimeToLive']>[0]) {
    return this.store.leaseTimeToLive(req, this.now());
  }
  async leaseLeases() {
    return this.store.leaseLeases();
  }

  openWatchStream(sink: WatchSink): WatchStream {
    const hub = this.hub;
    const id = hub.openStream({ send: sink });
    const step = (): void => this.catchUp();
    return {
      create: (req) => {
        hub.createWatch(id, req);
        step();
      },
      cancel: (watchId) => hub.cancelWatch(id, watchId),
      requestProgress: () => {
        hub.requestProgress(id);
        step();
      },
      resume: () => {
        hub.resume(id);
        step();
      },
      close: () => hub.closeStream(id),
    };
  }

  async memberAdd(peerUrls: readonly string[], isLearner: boolean) {
    this.checkWritable();
    if (isLearner && this.members.some((m) => m.isLearner)) throw new BackendError('tooManyLearners');
    const member: Member = { id: this.memberId + BigInt(this.members.length), name: '', peerUrls: [...peerUrls], clientUrls: [], isLearner };
    this.members = [...this.members, member];
    return { member, members: this.members };
  }
  async memberRemove(id: bigint) {
    if (!this.members.some((m) => m.id === id)) throw new BackendError('memberNotFound');
    this.members = this.members.filter((m) => m.id !== id);
    return this.members;
  }
  async memberUpdate(id: bigint, peerUrls: readonly string[]) {
    if (!this.members.some((m) => m.id === id)) throw new BackendError('memberNotFound');
    this.members = this.members.map((m) => (m.id === id ? { ...m, peerUrls: [...peerUrls] } : m));
    return this.members;
  }
  async memberList() {
    return this.members;
  }
  async memberPromote(id: bigint) {
    const m = this.members.find((x) => x.id === id);
    if (!m) throw new BackendError('memberNotFound');
    if (!m.isLearner) throw new BackendError('memberNotLearner');
    this.members = this.members.map((x) => (x.id === id ? { ...x, isLearner: false } : x));
    return this.members;
  }

  async status(): Promise<MemberStatus> {
    return {
      dbSizeBytes: this.store.sizeBytes(),
      dbSizeInUseBytes: this.store.sizeBytes(),
      leader: this.leader ? this.memberId : 0n,
      raftIndex: this.index,
      raftTerm: 2,
      raftAppliedIndex: this.index,
      errors: [],
      isLearner: this.learner,
      dbSizeQuotaBytes: this.store.quotaBackendBytes,
    };
  }
  async alarm(req: Parameters<MemberBackend['alarm']>[0]) {
    if (req.action === 0) return { header: this.header(), alarms: this.store.alarms() };
    return this.apply<Awaited<ReturnType<MemberBackend['alarm']>>>({ type: 'alarm', req });
  }
  async defragment(): Promise<void> {}
  async hash() {
    return this.store.hash();
  }
  async hashKV(revision: number) {
    return this.store.hashKV(revision);
  }
  async snapshot(): Promise<SnapshotStream> {
    const chunks = [...this.store.snapshotChunks(64 * 1024)];
    const sizeBytes = chunks.reduce((n, c) => n + c.length, 0);
    return {
      revision: this.store.currentRevision(),
      sizeBytes,
      chunks: (async function* () {
        for (const c of chunks) yield c;
      })(),
    };
  }
  async moveLeader(targetId: bigint): Promise<void> {
    if (targetId !== this.memberId) throw new BackendError('badLeaderTransferee');
  }
  private downgrade: DowngradeInfo = { enabled: false, targetVersion: '' };
  downgradeInfo(): DowngradeInfo {
    return this.downgrade;
  }
  async setDowngrade(info: DowngradeInfo): Promise<void> {
    this.downgrade = { ...info };
  }
  async linearizableBarrier(): Promise<void> {}
}

