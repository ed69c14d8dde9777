// The operator's view of a tsetcd/etcd cluster's Cluster and Maintenance API, defined by its user (the
// controller). Two implementations: GatewayMemberApi (real, etcd's JSON gateway) and MemoryMemberApi
// (an in-memory twin that enforces etcd's rules, for planner and controller tests).

export interface MemberInfo {
  /** uint64 as a decimal string. */
  id: string;
  /** Empty until a newly added member starts. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface MemberList {
  clusterID: string;
  members: MemberInfo[];
}

export interface EndpointStatus {
  clusterID: string;
  memberID: string;
  /** Leader's member ID; "0" when the member knows no leader. */
  leaderID: string;
  raftIndex: number;
  /** Entries applied to its state machine (etcd >= 3.4); null when the member does not report it. */
  raftAppliedIndex: number | null;
  raftTerm: number;
  /** Bytes the backend file takes (etcd: the bbolt file; tsetcd: its size estimate). */
  dbSize: number;
  /** Bytes in use inside it (etcd >= 3.4); dbSize - dbSizeInUse is what Defragment can give back. null when not reported. */
  dbSizeInUse: number | null;
  version: string;
  isLearner: boolean;
  errors: string[];
}

/** gRPC status codes the operator cares about. */
export type MemberApiErrorCode = 'Unavailable' | 'NotFound' | 'FailedPrecondition' | 'InvalidArgument' | 'DeadlineExceeded' | 'PermissionDenied' | 'Unauthenticated' | 'Unknown';

export class MemberApiError extends Error {
  override readonly name = 'MemberApiError';
  constructor(
    readonly code: MemberApiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface MemberApi {
  /**
   * Tries the endpoints in order; the first that answers wins. Linearizable: the answering member confirms
   * with the leader first (etcd >= 3.5), so a lagging member's stale list is never returned.
   */
  list(endpoints: readonly string[], opts?: { linearizable: boolean }): Promise<MemberList>;
  addLearner(endpoints: readonly string[], peerURL: string): Promise<MemberInfo>;
  promote(endpoints: readonly string[], memberID: string): Promise<void>;
  remove(endpoints: readonly string[], memberID: string): Promise<void>;
  /** Status of one member, asked at its own client endpoint. */
  status(endpoint: string): Promise<EndpointStatus>;
  /** Must be sent to the leader's endpoint. */
  moveLeader(leaderEndpoint: string, toMemberID: string): Promise<void>;
  /** Defragment one member at its own endpoint; fails with DeadlineExceeded after timeoutMs. */
  defragment(endpoint: string, timeoutMs: number): Promise<void>;
  /**
   * Maintenance.Snapshot of one member at its own endpoint: the raw bytes as etcdctl `snapshot save`
   * stores them (the backend database, then its sha256). Fails with DeadlineExceeded when no bytes
   * arrive for idleTimeoutMs (a large snapshot may take long; a stalled one may not).
   */
  snapshot(endpoint: string, idleTimeoutMs: number): AsyncIterable<Buffer>;
}

/** etcd's exact error texts for the member API (api/v3rpc/rpctypes). */
export const ERR_MEMBER_NOT_FOUND = 'etcdserver: member not found';
export const ERR_UNHEALTHY_CLUSTER = 'etcdserver: unhealthy cluster';
export const ERR_TOO_MANY_LEARNERS = 'etcdserver: too many learner members in cluster';
export const ERR_LEARNER_NOT_READY = 'etcdserver: can only promote a learner member which is in sync with leader';
export const ERR_PEER_URL_EXISTS = 'etcdserver: Peer URLs already exists';
export const ERR_NOT_LEADER = 'etcdserver: not leader';

/**
 * A refusal of the operator's credentials rather than of the request: no user while the cluster's
 * auth is on, a wrong password, a user without the root role, or a client certificate with a CN
 * (mode secrets: the user's own Secret). Retrying does not help; the
 * reconciler reports it (Degraded=AuthFailed) and changes nothing in the cluster.
 */
export function isAuthRefusal(err: unknown): err is MemberApiError {
  if (!(err instanceof MemberApiError)) return false;
  return err.code === 'Unauthenticated' || err.code === 'PermissionDenied' || err.message === 'etcdserver: user name is empty' || err.message.includes(ERR_GATEWAY_COMMON_NAME);
}

/** etcd's HTTP 400 to a gateway client whose certificate has a CN, with --client-cert-auth and auth on. */
export const ERR_GATEWAY_COMMON_NAME = 'CommonName of client sending a request against gateway will be ignored and not used as expected';
