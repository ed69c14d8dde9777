// Request and response types of the MVCC state machine. They mirror etcd's
// `etcdserverpb` (api/etcdserverpb/rpc.proto) and `mvccpb` (api/mvccpb/kv.proto)
// messages field by field, in camelCase. Conventions:
// - int64/uint64 fields are JS numbers (revisions, counts, TTLs), except ids: lease ids and
//   member ids are bigints (LeaseId, MemberId below), exact at all 64 bits.
// - bytes fields are Uint8Array (a Buffer is one). Values handed out by the store are
//   shared with the store: never mutate them.
// - Enums are etcd's NUMERIC values (the constants below), so the gRPC layer can pass
//   them straight through with proto-loader `enums: Number`.
// - Optional request fields may be omitted; they default like proto3 (0, false, empty).

/** mvccpb.Event.EventType */
export const EventType = { PUT: 0, DELETE: 1 } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** RangeRequest.SortOrder */
export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];

/** RangeRequest.SortTarget */
export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
export type SortTarget = (typeof SortTarget)[keyof typeof SortTarget];

/** Compare.CompareResult */
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
export type CompareResult = (typeof CompareResult)[keyof typeof CompareResult];

/** Compare.CompareTarget */
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

/** WatchCreateRequest.FilterType */
export const WatchFilterType = { NOPUT: 0, NODELETE: 1 } as const;
export type WatchFilterType = (typeof WatchFilterType)[keyof typeof WatchFilterType];

/** AlarmType */
export const AlarmType = { NONE: 0, NOSPACE: 1, CORRUPT: 2 } as const;
export type AlarmType = (typeof AlarmType)[keyof typeof AlarmType];

/** AlarmRequest.AlarmAction */
export const AlarmAction = { GET: 0, ACTIVATE: 1, DEACTIVATE: 2 } as const;
export type AlarmAction = (typeof AlarmAction)[keyof typeof AlarmAction];

/**
 * A lease id: etcd's int64, any value a client chooses (0 means "none" / "the store picks").
 * A bigint so that ids at and above 2^53 stay exact; Map keys compare it by value.
 */
export type LeaseId = bigint;

/** A member id: etcd's uint64 (0 means "every member" in an alarm request). */
export type MemberId = bigint;

/** ResponseHeader. The store fills `revision`; the server fills the other three. */
export interface ResponseHeader {
  /** uint64 ids; 0n until the server fills them. */
  clusterId: MemberId;
  memberId: MemberId;
  revision: number;
  raftTerm: number;
}

/** mvccpb.KeyValue */
export interface KeyValue {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  /** 0 on a deleted key (delete events), 1 on creation, +1 on every put. */
  version: number;
  value: Uint8Array;
  /** 0n when no lease is attached. */
  lease: LeaseId;
}

/** mvccpb.Event */
export interface Event {
  type: EventType;
  /** For DELETE: the key and modRevision (the delete's revision) only. */
  kv: KeyValue;
  /** Set only when the watcher asked for prevKv and the previous version exists. */
  prevKv?: KeyValue;
}

// ---------- KV ----------

export interface RangeRequest {
  key: Uint8Array;
  /** Empty: the single key. [0x00]: every key >= key. Otherwise [key, rangeEnd). */
  rangeEnd?: Uint8Array;
  limit?: number;
  /** <= 0: the current revision. */
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  /** Ignored by the store (the server decides ReadIndex or not). */
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Uint8Array;
  value?: Uint8Array;
  lease?: LeaseId;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

/** RequestOp: exactly one of the four is set (a oneof in etcd). */
export type RequestOp =
  | { requestRange: RangeRequest }
  | { requestPut: PutRequest }
  | { requestDeleteRange: DeleteRangeRequest }
  | { requestTxn: TxnRequest };

/** ResponseOp: mirrors the RequestOp at the same position. */
export type ResponseOp =
  | { responseRange: RangeResponse }
  | { responsePut: PutResponse }
  | { responseDeleteRange: DeleteRangeResponse }
  | { responseTxn: TxnResponse };

/**
 * Compare. Set the field matching `target` (version | createRevision | modRevision |
 * value | lease); a missing one compares against 0 / empty, like etcd.
 */
export interface Compare {
  result: CompareResult;
  target: CompareTarget;
  key: Uint8Array;
  version?: number;
  createRevision?: number;
  modRevision?: number;
  value?: Uint8Array;
  lease?: LeaseId;
  /** Compare every key in [key, rangeEnd); [0x00] means every key >= key. */
  rangeEnd?: Uint8Array;
}

export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  /** Ignored by the store: compaction is logical at once, physical in steps (see compactStep). */
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

// ---------- Lease ----------

export interface LeaseGrantRequest {
  /** Seconds. */
  TTL: number;
  /** 0n: the store chooses (deterministically, from the Raft index). */
  ID?: LeaseId;
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: LeaseId;
  TTL: number;
  error: string;
}

export interface LeaseRevokeRequest {
  ID: LeaseId;
}

export interface LeaseRevokeResponse {
  header: ResponseHeader;
}

export interface LeaseCheckpoint {
  ID: LeaseId;
  /** Seconds left; 0 clears the checkpoint (the lease counts from its full TTL again). */
  remainingTTL: number;
}

export interface LeaseCheckpointRequest {
  checkpoints: LeaseCheckpoint[];
}

export interface LeaseCheckpointResponse {
  header: ResponseHeader;
}

export interface LeaseKeepAliveRequest {
  ID: LeaseId;
}

export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: LeaseId;
  /** Seconds; 0 when the lease is not found (etcd's answer to a dead lease). */
  TTL: number;
}

export interface LeaseTimeToLiveRequest {
  ID: LeaseId;
  keys?: boolean;
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: LeaseId;
  /** Remaining seconds; -1 when the lease does not exist (etcd's convention). */
  TTL: number;
  grantedTTL: number;
  keys: Uint8Array[];
}

export interface LeaseStatus {
  ID: LeaseId;
}

export interface LeaseLeasesResponse {
  header: ResponseHeader;
  leases: LeaseStatus[];
}

// ---------- Maintenance ----------

export interface AlarmMember {
  memberID: MemberId;
  alarm: AlarmType;
}

export interface AlarmRequest {
  action: AlarmAction;
  /** 0 with DEACTIVATE/GET: every member. */
  memberID: MemberId;
  alarm: AlarmType;
}

export interface AlarmResponse {
  header: ResponseHeader;
  alarms: AlarmMember[];
}

export interface HashResponse {
  header: ResponseHeader;
  hash: number;
}

export interface HashKVResponse {
  header: ResponseHeader;
  hash: number;
  compactRevision: number;
  /** The revision the hash covers (etcd 3.5.x field hash_revision). */
  hashRevision: number;
}

// ---------- Watch ----------

export interface WatchCreateRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** <= 0: from the next revision (live only). */
  startRevision?: number;
  progressNotify?: boolean;
  filters?: WatchFilterType[];
  prevKv?: boolean;
  /** 0: the hub assigns the next free id on the stream. */
  watchId?: number;
  /** The hub never fragments; the Watch service cuts big responses for such watchers (watch-fragment.ts). */
  fragment?: boolean;
}

export interface WatchResponse {
  header: ResponseHeader;
  /** -1 for a stream-wide progress notification. */
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  fragment: boolean;
  events: Event[];
}

// ---------- Write commands (go through Raft) ----------

/** Every write goes through Raft as one of these; every member applies it. */
export type Command =
  | { type: 'put'; req: PutRequest }
  | { type: 'deleteRange'; req: DeleteRangeRequest }
  | { type: 'txn'; req: TxnRequest }
  | { type: 'compaction'; req: CompactionRequest }
  | { type: 'leaseGrant'; req: LeaseGrantRequest }
  | { type: 'leaseRevoke'; req: LeaseRevokeRequest }
  | { type: 'leaseCheckpoint'; req: LeaseCheckpointRequest }
  | { type: 'alarm'; req: AlarmRequest };

export type CommandType = Command['type'];

/** The response for each command type. */
export interface CommandResponseMap {
  put: PutResponse;
  deleteRange: DeleteRangeResponse;
  txn: TxnResponse;
  compaction: CompactionResponse;
  leaseGrant: LeaseGrantResponse;
  leaseRevoke: LeaseRevokeResponse;
  leaseCheckpoint: LeaseCheckpointResponse;
  alarm: AlarmResponse;
}

export type CommandResponse = CommandResponseMap[CommandType];
