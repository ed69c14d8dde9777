// An in-memory twin of a tsetcd cluster's member API. It enforces the etcd rules the operator depends on:
// one learner at a time, promote only when in sync, strict reconfiguration checks (no change that loses
// quorum), MoveLeader only to a started voter, typed errors with etcd's exact texts.
import {
  ERR_LEARNER_NOT_READY,
  ERR_MEMBER_NOT_FOUND,
  ERR_NOT_LEADER,
  ERR_PEER_URL_EXISTS,
  ERR_TOO_MANY_LEARNERS,
  ERR_UNHEALTHY_CLUSTER,
  MemberApiError,
  type EndpointStatus,
  type MemberApi,
  type MemberInfo,
  type MemberList,
} from './member-api.js';

export interface TwinMember {
  id: string;
  name: string;
  peerURL: string;
  /** Where it answers; null until started. */
  endpoint: string | null;
  isLearner: boolean;
  healthy: boolean;
  raftIndex: number;
  /** Backend size and the part in use; Defragment sets dbSize to dbSizeInUse. */
  dbSize: number;
  dbSizeInUse: number;
}

export class MemoryMemberApi implements MemberApi {
  readonly clusterID = '7000';
  members: TwinMember[] = [];
  leaderID = '0';
  /** Calls the operator made, for assertions: "add:<peerURL>", "promote:<id>", ... */
  readonly calls: string[] = [];
  private nextID = 1001;
  /**
   * The cluster's auth refuses the operator (auth on without its user, a wrong password, no root
   * role): Status fails with this, as etcd's root-only Status does; MemberList still answers.
   */
  authRefusal: MemberApiError | null = null;
  /** Make the next call of this kind fail once with the given error. */
  failNext: Map<string, MemberApiError> = new Map();

  /** Creates a started, healthy cluster of voters. */
  bootstrap(members: Array<{ name: string; peerURL: string; endpoint: string }>): void {
    for (const m of members) {
      this.members.push({ id: String(this.nextID++), name: m.name, peerURL: m.peerURL, endpoint: m.endpoint, isLearner: false, healthy: true, raftIndex: 100, dbSize: 20480, dbSizeInUse: 20480 });
    }
    this.leaderID = this.members[0]?.id ?? '0';
  }

  /** The process for a peer URL started (as a pod would): it gets a name and an endpoint. */
  startMember(peerURL: string, name: string, endpoint: string, caughtUp = false): void {
    const m = this.members.find((x) => x.peerURL === peerURL);
    if (m === undefined) return; // not a member: etcd would refuse to start it
    m.name = name;
    m.endpoint = endpoint;
    m.healthy = true;
    m.raftIndex = caughtUp ? this.leaderIndex() : 0;
  }

  catchUp(id: string): void {
    const m = this.byID(id);
    m.raftIndex = this.leaderIndex();
  }

  byID(id: string): TwinMember {
    const m = this.members.find((x) => x.id === id);
    if (m === undefined) throw new MemberApiError('NotFound', ERR_MEMBER_NOT_FOUND);
    return m;
  }

  /** MemberList calls, and whether each asked for a linearizable list. */
  readonly listCalls: boolean[] = [];

  async list(endpoints: readonly string[], opts: { linearizable: boolean } = { linearizable: false }): Promise<MemberList> {
    this.listCalls.push(opts.linearizable);
    this.reachable(endpoints);
    return { clusterID: this.clusterID, members: this.members.map((m) => this.info(m)) };
  }

  async addLearner(endpoints: readonly string[], peerURL: string): Promise<MemberInfo> {
    this.call('add', peerURL, endpoints);
    if (this.members.some((m) => m.peerURL === peerURL)) throw new MemberApiError('FailedPrecondition', ERR_PEER_URL_EXISTS);
    if (this.members.some((m) => m.isLearner)) throw new MemberApiError('FailedPrecondition', ERR_TOO_MANY_LEARNERS);
    const m: TwinMember = { id: String(this.nextID++), name: '', peerURL, endpoint: null, isLearner: true, healthy: false, raftIndex: 0, dbSize: 20480, dbSizeInUse: 20480 };
    this.members.push(m);
    return this.info(m);
  }

  async promote(endpoints: readonly string[], memberID: string): Promise<void> {
    this.call('promote', memberID, endpoints);
    const m = this.byID(memberID);
    if (!m.isLearner) throw new MemberApiError('FailedPrecondition', 'etcdserver: can only promote a learner member');
    if (!m.healthy || m.raftIndex < this.leaderIndex() * 0.9) throw new MemberApiError('FailedPrecondition', ERR_LEARNER_NOT_READY);
    m.isLearner = false;
  }

  async remove(endpoints: readonly string[], memberID: string): Promise<void> {
    this.call('remove', memberID, endpoints);
    const m = this.byID(memberID);
    if (!m.isLearner) {
      const voters = this.members.filter((x) => !x.isLearner && x.id !== memberID);
      const healthy = voters.filter((x) => x.healthy).length;
      if (healthy < Math.floor(voters.length / 2) + 1) throw new MemberApiError('FailedPrecondition', ERR_UNHEALTHY_CLUSTER);
    }
    this.members = this.members.filter((x) => x.id !== memberID);
    if (this.leaderID === memberID) this.leaderID = this.members.find((x) => !x.isLearner && x.healthy)?.id ?? '0';
  }

  async status(endpoint: string): Promise<EndpointStatus> {
    if (this.authRefusal !== null) throw this.authRefusal;
    const m = this.members.find((x) => x.endpoint === endpoint);
    if (m === undefined || !m.healthy) throw new MemberApiError('Unavailable', `${endpoint}: connection refused`);
    return {
      clusterID: this.clusterID,
      memberID: m.id,
      leaderID: this.leaderID,
      raftIndex: m.raftIndex,
      raftAppliedIndex: m.raftIndex,
      raftTerm: 2,
      dbSize: m.dbSize,
      dbSizeInUse: m.dbSizeInUse,
      version: this.version,
      isLearner: m.isLearner,
      errors: [],
    };
  }

  async moveLeader(leaderEndpoint: string, toMemberID: string): Promise<void> {
    this.call('move-leader', toMemberID, [leaderEndpoint]);
    const from = this.members.find((x) => x.endpoint === leaderEndpoint);
    if (from === undefined || from.id !== this.leaderID) throw new MemberApiError('FailedPrecondition', ERR_NOT_LEADER);
    const to = this.byID(toMemberID);
    if (to.isLearner || !to.healthy) throw new MemberApiError('FailedPrecondition', 'etcdserver: bad leader transferee');
    this.leaderID = to.id;
  }

  /** The server version every member reports. */
  version = '3.5.17';

  /** What snapshot() streams from a member (keyed by endpoint), or from any member when absent. */
  snapshotBytes: Map<string, Buffer> = new Map();

  async *snapshot(endpoint: string, _idleTimeoutMs: number): AsyncIterable<Buffer> {
    const m = this.members.find((x) => x.endpoint === endpoint);
    this.calls.push(`snapshot:${m?.id ?? endpoint}`);
    const fail = this.failNext.get('snapshot');
    if (fail) {
      this.failNext.delete('snapshot');
      throw fail;
    }
    if (!m || !m.healthy) throw new MemberApiError('Unavailable', `${endpoint}: connection refused`);
    const bytes = this.snapshotBytes.get(endpoint) ?? this.snapshotBytes.get('*');
    if (bytes === undefined) throw new MemberApiError('Unavailable', `${endpoint}: no snapshot set in the twin`);
    yield bytes;
  }

  async defragment(endpoint: string, timeoutMs: number): Promise<void> {
    const m = this.members.find((x) => x.endpoint === endpoint);
    this.calls.push(`defragment:${m?.id ?? endpoint}`);
    const fail = this.failNext.get('defragment');
    if (fail !== undefined) {
      this.failNext.delete('defragment');
      throw fail;
    }
    if (m === undefined || !m.healthy) throw new MemberApiError('Unavailable', `${endpoint}: connection refused`);
    if (timeoutMs <= 0) throw new MemberApiError('DeadlineExceeded', `${endpoint}: no answer within ${timeoutMs}ms`);
    m.dbSize = m.dbSizeInUse;
  }

  private leaderIndex(): number {
    return this.members.find((x) => x.id === this.leaderID)?.raftIndex ?? 0;
  }

  private info(m: TwinMember): MemberInfo {
    return { id: m.id, name: m.name, peerURLs: [m.peerURL], clientURLs: m.endpoint ? [m.endpoint] : [], isLearner: m.isLearner };
  }

  private reachable(endpoints: readonly string[]): void {
    if (!endpoints.some((e) => this.members.some((m) => m.endpoint === e && m.healthy))) {
      throw new MemberApiError('Unavailable', 'no endpoint answered');
    }
    if (this.leaderID === '0') throw new MemberApiError('Unavailable', 'etcdserver: no leader');
  }

  private call(kind: string, arg: string, endpoints: readonly string[]): void {
    this.calls.push(`${kind}:${arg}`);
    const fail = this.failNext.get(kind);
    if (fail !== undefined) {
      this.failNext.delete(kind);
      throw fail;
    }
    this.reachable(endpoints);
  }
}
