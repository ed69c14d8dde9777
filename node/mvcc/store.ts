// The MVCC key-value store: revisions, key index, range, put, delete, txn, compaction,
// leases (replicated half), alarms, hash, snapshot. Pure and deterministic: the same
// sequence of apply() calls gives the same state, revisions and hash on every member.
//
// Data layout:
// - `map` (skey → KeyRec) for point lookups, `index` (B+tree, key-index.ts) for ordered
//   ranges. A KeyRec holds the key's revision list (Rev[], ascending). A Rev with
//   version 0 is a tombstone (delete).
// - `log` (rev-log.ts): the Revs of each write revision, dense, for watch replay and for
//   compaction to know which keys changed.
// Compaction: apply sets compactRev at once (logical: reads and watches below it fail);
// compactStep() then trims key histories and the log in bounded steps (physical).
import {
  AlarmAction,
  AlarmType,
  CompareResult,
  CompareTarget,
  EventType,
  SortOrder,
  SortTarget,
  type AlarmMember,
  type AlarmRequest,
  type AlarmResponse,
  type Command,
  type CommandResponse,
  type CommandType,
  type Compare,
  type CompactionRequest,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type Event,
  type HashKVResponse,
  type HashResponse,
  type KeyValue,
  type LeaseId,
  type LeaseCheckpointRequest,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseLeasesResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from './types.js';
import { CompactedError, FutureRevError, MvccError, NoSpaceError, assert, assertNever } from './errors.js';
import { EMPTY, compareBytes, skeyOf, skeyRange, isEmptyRange, type SkeyRange } from './bytes.js';
import { KeyIndex } from './key-index.js';
import { liveCountSince } from './range-count.js';
import { Lessor, compareIds, type LeaseRecord } from './lessor.js';
import { Crc32cHasher } from './crc32c-hasher.js';
import { etcdKeyRow, keyValueSize, type RevisionRow } from './etcd-kv-encoding.js';
import { crc32cUpdate as crc32cUpdateBytes } from '../lib/crc32c.js';
import { APPLY_MAX_TXN_OPS, MAX_LEASE_TTL_SEC, validateCommand, validateRange } from './validate.js';
import { ByteReader, ByteWriter, varintBigSize, varintSize } from './codec.js';
import { uvarintSize } from '../lib/varint-size.js';
import { InHeapValues, type ValueRef, type ValueStore } from './value-store.js';
import { RevLog } from './rev-log.js';
import { isReadOnlyTxn } from './txn-kind.js';

export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;
/**
 * Size accounting approximates the heap the store really holds (measured with
 * hack/bench-mvcc.ts: ~780 bytes for a 40-byte key with one 256-byte value), so the quota
 * also protects the process: per held revision its value plus REV_OVERHEAD_BYTES (revision
 * record, value Buffer object, log slot), per key its bytes plus KEY_OVERHEAD_BYTES (key
 * string, record, Map and B+tree entries).
 */
export const REV_OVERHEAD_BYTES = 200;
export const KEY_OVERHEAD_BYTES = 300;
/** Bytes counted per lease. */
export const LEASE_OVERHEAD_BYTES = 64;

export interface StoreOptions {
  /** Size quota (see sizeBytes). Default 2 GiB, like etcd. */
  quotaBackendBytes?: number;
  /**
   * Leases granted with a smaller TTL get this one. etcd derives it from the election
   * timeout: ceil(1.5 × election timeout), 2 s with the defaults.
   */
  minLeaseTtlSec?: number;
  /** Where value bytes live (value-store.ts). Default: the Node heap. */
  values?: ValueStore;
}

/**
 * A key with more revisions than this is streamed into a snapshot's chunks (snapshotChunks)
 * instead of being built whole first.
 */
const STREAMED_KEY_REVISIONS = 1024;

// A snapshot's revision records. Plain functions, not closures in snapshotChunks: their loops run
// tens of thousands of times per snapshot, and V8 optimizes a loop in a plain function on its first
// call, where one in a generator's body ran unoptimized (a snapshot comes once per 10,000 entries,
// so its code is seldom warm).

/** One revision's fields: the value's bytes, or with `refs` its length and value-log offset. */
function writeSnapshotRev(w: ByteWriter, r: Rev, refs: boolean): void {
  w.varint(r.main);
  w.uvarint(r.sub);
  w.varint(r.create);
  w.varint(r.version);
  w.varintBig(r.lease);
  if (!refs) w.bytes(r.value);
  else {
    w.uvarint(r.vlen);
    if (r.vlen > 0) {
      if (typeof r.vref !== 'number') throw new MvccError('snapshotInvalid', 'a snapshot by offset of values kept in the heap');
      w.uvarint(r.vref);
    }
  }
}

/** Writes revs[from, end) until `out` holds maxBytes or more; returns the index after the last written. */
function writeSnapshotRevs(out: ByteWriter, revs: readonly Rev[], from: number, end: number, refs: boolean, maxBytes: number): number {
  let i = from;
  while (i < end) {
    writeSnapshotRev(out, revs[i++]!, refs);
    if (out.length >= maxBytes) break;
  }
  return i;
}

/** The bytes writeSnapshotRev writes for revs[from, end) (a streamed key's record length). */
function snapshotRevsSize(revs: readonly Rev[], from: number, end: number, refs: boolean): number {
  let size = 0;
  for (let i = from; i < end; i++) {
    const r = revs[i]!;
    size += varintSize(r.main) + uvarintSize(r.sub) + varintSize(r.create) + varintSize(r.version) + varintBigSize(r.lease) + uvarintSize(r.vlen);
    if (!refs) size += r.vlen;
    else if (r.vlen > 0) size += uvarintSize(r.vref as number);
  }
  return size;
}

/** etcd hashes its key bucket's name first (HashKV). */
const KEY_BUCKET_NAME = Buffer.from('key');

/**
 * One revision of one key (version 0 = tombstone). The value's bytes live in the store's
 * ValueStore; `value` reads them from there (from the OS page cache for the file log).
 */
export class Rev implements RevisionRow {
  constructor(
    readonly rec: KeyRec,
    readonly main: number,
    readonly sub: number,
    readonly create: number,
    readonly version: number,
    readonly lease: LeaseId,
    /** Where the value is; moved by defragment (relocateStep). Unused when vlen is 0. */
    public vref: ValueRef,
    readonly vlen: number,
    private readonly values: ValueStore,
  ) {}

  get value(): Uint8Array {
    return this.vlen === 0 ? EMPTY : this.values.read(this.vref, this.vlen);
  }

  /** Writes the value's vlen bytes into out at `at` (a value log reads them straight there). */
  valueInto(out: Uint8Array, at: number): void {
    if (this.vlen === 0) return;
    const v = this.values;
    if (v.readInto) v.readInto(this.vref, this.vlen, out, at);
    else out.set(v.read(this.vref, this.vlen), at);
  }
}

/** Keeps `bytes` in `values` and returns the reference and length for a Rev. */
function stash(values: ValueStore, bytes: Uint8Array | undefined): { ref: ValueRef; len: number } {
  if (bytes === undefined || bytes.length === 0) return { ref: 0, len: 0 };
  return { ref: values.append(bytes), len: bytes.length };
}

/**
 * One key. Its bytes are kept only as the latin1 string `skey` (one char per byte; the Map
 * and B+tree key); a Buffer is made when a KeyValue or event is handed out (keyBytes).
 * That saves a ~145-byte Buffer object per key.
 */
export interface KeyRec {
  readonly skey: string;
  revs: Rev[];
}

/** The key's bytes, as a fresh Buffer. */
export function keyBytes(rec: KeyRec): Uint8Array {
  return Buffer.from(rec.skey, 'latin1');
}

export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 };
}

/** The result of applying one committed command. */
export type ApplyResult =
  | { ok: true; type: CommandType; revision: number; response: CommandResponse }
  | { ok: false; type: CommandType; revision: number; error: MvccError };

interface WriteCtx {
  readonly main: number;
  readonly changes: Rev[];
}

function toKv(r: Rev, keysOnly = false): KeyValue {
  return {
    key: keyBytes(r.rec),
    createRevision: r.create,
    modRevision: r.main,
    version: r.version,
    value: keysOnly ? EMPTY : r.value,
    lease: r.lease,
  };
}

/** The KeyValue of an event (a DELETE carries the key and its revision only). */
export function eventOf(r: Rev): Event {
  if (r.version === 0) {
    return {
      type: EventType.DELETE,
      kv: { key: keyBytes(r.rec), createRevision: 0, modRevision: r.main, version: 0, value: EMPTY, lease: NO_LEASE },
    };
  }
  return { type: EventType.PUT, kv: toKv(r) };
}

/** Index of the last rev with main <= at, or -1. */
function lastIndexAtOrBelow(revs: Rev[], at: number): number {
  let lo = 0;
  let hi = revs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (revs[mid]!.main <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The live revision of a key at `at`, or undefined. */
function liveAt(rec: KeyRec, at: number): Rev | undefined {
  const revs = rec.revs;
  const last = revs[revs.length - 1];
  if (last === undefined) return undefined;
  let r: Rev | undefined;
  if (last.main <= at) r = last;
  else {
    const i = lastIndexAtOrBelow(revs, at);
    r = i >= 0 ? revs[i] : undefined;
  }
  return r !== undefined && r.version !== 0 ? r : undefined;
}

function isLiveAt(rec: KeyRec, at: number): boolean {
  return liveAt(rec, at) !== undefined;
}

function latestLive(rec: KeyRec | undefined): Rev | undefined {
  if (rec === undefined) return undefined;
  const last = rec.revs[rec.revs.length - 1];
  return last !== undefined && last.version !== 0 ? last : undefined;
}

/** An older revision's count takes at least this many changes before a walk is preferred. */
const MIN_COUNT_BUDGET = 64;

/** The store's key index: it counts the keys live at the current revision (range counts). */
function newKeyIndex(): KeyIndex<KeyRec> {
  return new KeyIndex<KeyRec>((rec) => latestLive(rec) !== undefined);
}

/**
 * Index of the first rev that survives logical compaction at compactRev: the last one at or
 * below it, unless that is a delete below it. A delete at compactRev itself stays, as in etcd
 * 3.6 (etcd-io/etcd#18274): a watch from the compact revision must still see it.
 */
function firstSurviving(revs: Rev[], compactRev: number): number {
  const i = lastIndexAtOrBelow(revs, compactRev);
  if (i < 0) return 0;
  const r = revs[i]!;
  return r.version === 0 && r.main < compactRev ? i + 1 : i;
}

function cmpNum(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortKvs(kvs: KeyValue[], target: number, order: number): void {
  let cmp: (a: KeyValue, b: KeyValue) => number;
  switch (target) {
    case SortTarget.KEY:
      cmp = (a, b) => compareBytes(a.key, b.key);
      break;
    case SortTarget.VERSION:
      cmp = (a, b) => cmpNum(a.version, b.version);
      break;
    case SortTarget.CREATE:
      cmp = (a, b) => cmpNum(a.createRevision, b.createRevision);
      break;
    case SortTarget.MOD:
      cmp = (a, b) => cmpNum(a.modRevision, b.modRevision);
      break;
    case SortTarget.VALUE:
      cmp = (a, b) => compareBytes(a.value, b.value);
      break;
    default:
      cmp = () => 0;
  }
  // Array.prototype.sort is stable: ties keep key order (etcd's Go sort is not stable; ties are unspecified there).
  if (order === SortOrder.DESCEND) kvs.sort((a, b) => cmp(b, a));
  else kvs.sort(cmp);
}

/** Lease id from the Raft index and a replicated sequence: deterministic, positive, < 2^63. */
function mixLeaseId(index: number, seq: number): LeaseId {
  let h1 = (Math.imul((index % 0x100000000) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.floor(index / 0x100000000)) >>> 0;
  let h2 = (Math.imul(seq ^ 0xc2b2ae35, 0x27d4eb2f) ^ h1) >>> 0;
  h1 = Math.imul(h1 ^ (h2 >>> 15), 0x2c1b3c6d) >>> 0;
  h2 = Math.imul(h2 ^ (h1 >>> 13), 0x297a2d39) >>> 0;
  // 63 bits, positive, like etcd's generated lease ids (an int64 a client can echo back).
  return (BigInt(h1 & 0x7fffffff) << 32n) | BigInt(h2);
}

/** The lease id of a key with no lease. */
const NO_LEASE: LeaseId = 0n;

export class MvccStore {
  readonly quotaBackendBytes: number;
  readonly minLeaseTtlSec: number;
  /** The leader-side lease clock (see lessor.ts). */
  readonly lessor: Lessor;

  private map = new Map<string, KeyRec>();
  private index = newKeyIndex();
  private rev = 1;
  private compactRev = 0;
  private log = new RevLog(2);
  /** Physical compaction has trimmed everything needed up to this revision. */
  private physicalRev = 0;
  /** Next revision whose changed keys physical compaction must visit. */
  private physicalCursor = 2;
  /**
   * The last target physical compaction reached (0: none). Keys changed at it may keep a delete
   * there (firstSurviving); a later target visits them again, or the delete would stay forever.
   * workUpTo needs no clause for it: its log group is held until then, so log.first < target.
   */
  private keptDeletesRev = 0;
  private pins = new Map<number, number>();
  private leases = new Map<LeaseId, LeaseRecord>();
  private leaseIdSeq = 0;
  private alarmList: AlarmMember[] = [];
  private applied = 0;
  private size = 0;
  /** Bytes of the values of held revisions (part of size). */
  private valueBytes = 0;
  private epoch = 0;
  /** Where value bytes live. */
  readonly values: ValueStore;

  constructor(opts: StoreOptions = {}) {
    this.quotaBackendBytes = opts.quotaBackendBytes ?? DEFAULT_QUOTA_BACKEND_BYTES;
    this.values = opts.values ?? new InHeapValues();
    this.minLeaseTtlSec = opts.minLeaseTtlSec ?? 2;
    this.lessor = new Lessor(() => this.leases);
  }

  // ---------------------------------------------------------------- state queries

  /** The current revision (1 on a fresh store). */
  currentRevision(): number {
    return this.rev;
  }

  /** Reads and watches below this revision fail with CompactedError. 0 = never compacted. */
  compactRevision(): number {
    return this.compactRev;
  }

  /** The highest Raft index passed to apply(). */
  appliedIndex(): number {
    return this.applied;
  }

  /** Changes on every restore(); lets long readers (cursors, the hub) notice a swapped state. */
  restoreEpoch(): number {
    return this.epoch;
  }

  /**
   * What this store has done since it started (not replicated, not in snapshots): bytes of the
   * KeyValues put (etcd_debugging_mvcc_total_put_size_in_bytes) and revisions dropped by physical
   * compaction (etcd_debugging_mvcc_db_compaction_keys_total).
   */
  readonly stats = { putBytes: 0, compactedRevisions: 0 };

  /** Number of keys in the index (live or with history still held). */
  keyCount(): number {
    return this.map.size;
  }

  /**
   * Size in bytes: Σ over held revisions of (value + REV_OVERHEAD_BYTES) + Σ over keys of
   * (key + KEY_OVERHEAD_BYTES) + LEASE_OVERHEAD_BYTES per lease (an estimate of heap use). Shrinks as physical compaction trims history. This is
   * what etcd_mvcc_db_total_size_in_use_in_bytes reports; the quota is checked against totalSizeBytes().
   */
  sizeBytes(): number {
    return this.size + this.leases.size * LEASE_OVERHEAD_BYTES;
  }

  /** sizeBytes() without the held values' bytes: what a snapshot that names value offsets costs. */
  indexSizeBytes(): number {
    return this.sizeBytes() - this.valueBytes;
  }

  /**
   * What the store occupies, dead bytes included: sizeBytes() with the held values replaced by
   * everything the value store holds (a file log keeps values of compacted revisions until
   * defragment moves the live ones out). Equal to sizeBytes() for values in the heap.
   */
  totalSizeBytes(): number {
    const held = this.values.totalBytes?.();
    return held === undefined ? this.sizeBytes() : this.sizeBytes() - this.valueBytes + held;
  }

  alarms(): AlarmMember[] {
    return this.alarmList.map((a) => ({ ...a }));
  }

  private hasAlarm(t: AlarmType): boolean {
    return this.alarmList.some((a) => a.alarm === t);
  }

  /**
   * Quota check the runtime makes before proposing (like etcd's quota.Available): false
   * when the write would grow the store to the quota. Then answer NoSpaceError and
   * propose an alarm ACTIVATE NOSPACE with this member's id, as etcd does.
   * Checked, as etcd checks (server/storage/quota.go: be.Size() + cost < quota), against what
   * the store occupies with its dead bytes (totalSizeBytes, Status dbSize,
   * etcd_mvcc_db_total_size_in_bytes), not against the live bytes: so the NOSPACE alarm and
   * the mixin's quota alert (total size / quota) agree, and after a compaction only a Defragment
   * makes room, as in etcd's runbook (compact, defragment, disarm).
   */
  quotaAllows(cmd: Command): boolean {
    const cost = this.cost(cmd);
    return cost === 0 || this.totalSizeBytes() + cost < this.quotaBackendBytes;
  }

  private cost(cmd: Command): number {
    switch (cmd.type) {
      case 'put':
        return cmd.req.key.length + KEY_OVERHEAD_BYTES + (cmd.req.value?.length ?? 0) + REV_OVERHEAD_BYTES;
      case 'txn':
        return this.txnCost(cmd.req);
      case 'leaseGrant':
        return LEASE_OVERHEAD_BYTES;
      case 'deleteRange':
      case 'compaction':
      case 'leaseRevoke':
      case 'leaseCheckpoint':
      case 'alarm':
        return 0;
      default:
        return assertNever(cmd);
    }
  }

  private txnCost(t: TxnRequest): number {
    const branch = (ops: RequestOp[] | undefined): number => {
      let c = 0;
      for (const op of ops ?? []) {
        if ('requestPut' in op) c += op.requestPut.key.length + KEY_OVERHEAD_BYTES + (op.requestPut.value?.length ?? 0) + REV_OVERHEAD_BYTES;
        else if ('requestTxn' in op) c += this.txnCost(op.requestTxn);
      }
      return c;
    };
    return Math.max(branch(t.success), branch(t.failure));
  }

  // ---------------------------------------------------------------- reads

  private resolveReadRev(requested: number | undefined, curRev: number): number {
    const r = requested ?? 0;
    if (r > curRev) throw new FutureRevError();
    const at = r <= 0 ? curRev : r;
    if (at < this.compactRev) throw new CompactedError(this.compactRev);
    return at;
  }

  /**
   * A local (serializable) read. Throws CompactedError / FutureRevError / MvccError('emptyKey').
   * The header revision is the current revision, also for reads at an older revision (as etcd).
   * Holds the thread for the whole range: for big ranges use rangeSteps().
   */
  range(req: RangeRequest): RangeResponse {
    const bad = validateRange(req);
    if (bad) throw bad;
    return this.rangeNow(req, this.rev);
  }

  /**
   * The same read in bounded steps: each next() visits at most `stepKeys` index keys,
   * so the caller can yield to the event loop between steps:
   *   const it = store.rangeSteps(req, 1000); let r = it.next();
   *   while (!r.done) { await yieldToLoop(); r = it.next(); }
   * The read is at the revision current when it starts; from its first yield it pins that
   * revision's history against physical compaction until it finishes (use for..of or drive it
   * to the end, or call it.return() to release the pin). A restore() in between fails it with
   * CompactedError.
   */
  *rangeSteps(req: RangeRequest, stepKeys: number): Generator<void, RangeResponse, void> {
    const bad = validateRange(req);
    if (bad) throw bad;
    const curRev = this.rev;
    const at = this.resolveReadRev(req.revision, curRev);
    const epoch = this.epoch;
    const c = new RangeCollector(this.map, this.index, req, at, curRev, this);
    // A read done in one step never yields, so nothing can compact under it: it takes no pin.
    // (Pinning every read churned the pins Map, whose tables V8 then allocates in old space.)
    if (!c.step(stepKeys)) {
      const unpin = this.pin(at);
      try {
        do {
          yield;
          if (this.epoch !== epoch) throw new CompactedError(this.compactRev);
        } while (!c.step(stepKeys));
      } finally {
        unpin();
      }
    }
    return { header: header(curRev), ...c.finish() };
  }

  /** Synchronous read (no generator, no pin: nothing can change under it). */
  private rangeNow(req: RangeRequest, curRev: number): RangeResponse {
    const at = this.resolveReadRev(req.revision, curRev);
    const c = new RangeCollector(this.map, this.index, req, at, curRev, this);
    c.step(Number.MAX_SAFE_INTEGER);
    return { header: header(curRev), ...c.finish() };
  }

  /**
   * The live keys of a bounded range at `at` without walking it, or undefined (walk it). At the
   * current revision (a writing txn's pending one included) the index counts them. At an older
   * one, outside a writing txn (whose changes the log does not hold yet), the count now is
   * corrected by the changes since `at`, while they are fewer than the keys it counts.
   */
  liveCount(range: SkeyRange, at: number, curRev: number): number | undefined {
    if (at !== curRev && curRev !== this.rev) return undefined;
    const liveAtHead = this.index.countLive(range.start, range.end === '' ? undefined : range.end);
    if (at === curRev) return liveAtHead;
    return liveCountSince(range, at, { log: this.log, head: curRev, liveAtHead, liveAt: isLiveAt, budget: Math.max(liveAtHead, MIN_COUNT_BUDGET) });
  }

  /** Reads (and snapshots) holding a pin now: etcd's open read transactions. */
  openReads(): number {
    let n = 0;
    for (const c of this.pins.values()) n += c;
    return n;
  }

  /**
   * Defer physical compaction past `rev` until the returned release function is called
   * (a long read or a snapshot in progress).
   */
  pin(rev: number): () => void {
    this.pins.set(rev, (this.pins.get(rev) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.pins.get(rev) ?? 1) - 1;
      if (n <= 0) this.pins.delete(rev);
      else this.pins.set(rev, n);
    };
  }

  // ---------------------------------------------------------------- history access (watch hub)

  /** The first revision whose change group is still in the log. */
  firstLoggedRevision(): number {
    return this.log.first;
  }

  /** The changes of one write revision, in sub-revision order; undefined if not held. */
  changesAt(rev: number): readonly Rev[] | undefined {
    return this.log.group(rev); // the log ends at the current revision
  }

  /** The live KeyValue of a key at a revision, if held (prevKv of watch events). */
  kvAt(key: Uint8Array | string, rev: number): KeyValue | undefined {
    const rec = this.map.get(typeof key === 'string' ? key : skeyOf(key));
    if (rec === undefined) return undefined;
    const r = liveAt(rec, rev);
    return r === undefined ? undefined : toKv(r);
  }

  // ---------------------------------------------------------------- apply

  /**
   * Apply one committed command. `index` is its Raft index (recorded as appliedIndex and
   * used to choose lease ids). Expected failures come back as { ok: false, error }; the
   * state is then unchanged. Pure and deterministic.
   */
  apply(cmd: Command, index: number): ApplyResult {
    if (index > this.applied) this.applied = index;
    // The same checks the server made before proposing (validate.ts): a command from the log
    // that fails them gets an error answer, alike on every member, and changes nothing.
    const bad = validateCommand(cmd, APPLY_MAX_TXN_OPS);
    if (bad) return { ok: false, type: cmd.type, revision: this.rev, error: bad };
    try {
      const response = this.applyInner(cmd, index);
      return { ok: true, type: cmd.type, revision: this.rev, response };
    } catch (e: unknown) {
      if (e instanceof MvccError) return { ok: false, type: cmd.type, revision: this.rev, error: e };
      throw e;
    }
  }

  private applyInner(cmd: Command, index: number): CommandResponse {
    if (this.hasAlarm(AlarmType.CORRUPT) && cmd.type !== 'alarm') throw new MvccError('corrupt');
    switch (cmd.type) {
      case 'put': {
        if (this.hasAlarm(AlarmType.NOSPACE)) throw new NoSpaceError();
        this.precheckPut(cmd.req);
        const ctx = this.begin();
        const resp = this.doPut(ctx, cmd.req);
        this.commit(ctx);
        resp.header.revision = this.rev;
        return resp;
      }
      case 'deleteRange': {
        const ctx = this.begin();
        const resp = this.doDelete(ctx, cmd.req);
        this.commit(ctx);
        resp.header.revision = this.rev;
        return resp;
      }
      case 'txn':
        return this.applyTxn(cmd.req);
      case 'compaction':
        return this.applyCompaction(cmd.req);
      case 'leaseGrant':
        return this.applyLeaseGrant(cmd.req, index);
      case 'leaseRevoke':
        return this.applyLeaseRevoke(cmd.req.ID);
      case 'leaseCheckpoint':
        return this.applyLeaseCheckpoint(cmd.req);
      case 'alarm':
        return this.applyAlarm(cmd.req);
      default:
        return assertNever(cmd);
    }
  }

  private begin(): WriteCtx {
    return { main: this.rev + 1, changes: [] };
  }

  private commit(ctx: WriteCtx): void {
    if (ctx.changes.length === 0) return;
    assert(ctx.main === this.rev + 1, 'commit of a stale write context');
    this.rev = ctx.main;
    this.log.push(ctx.changes);
  }

  private addRev(ctx: WriteCtx, rec: KeyRec, create: number, version: number, value: Uint8Array | undefined, lease: LeaseId): Rev {
    const v = stash(this.values, value);
    const r = new Rev(rec, ctx.main, ctx.changes.length, create, version, lease, v.ref, v.len, this.values);
    if (rec.revs.length === 0) rec.revs = [r]; // exact size: most keys hold one revision
    else rec.revs.push(r);
    ctx.changes.push(r);
    this.size += v.len + REV_OVERHEAD_BYTES;
    this.valueBytes += v.len;
    // A put (a delete's tombstone has version 0): etcd adds the stored KeyValue's size.
    if (version !== 0) this.stats.putBytes += keyValueSize(rec.skey.length, create, ctx.main, version, v.len, lease);
    return r;
  }

  /** Checks a put makes against the state before it runs (etcd's checkPut). */
  private precheckPut(p: PutRequest): void {
    if (p.ignoreValue || p.ignoreLease) {
      if (latestLive(this.map.get(skeyOf(p.key))) === undefined) throw new MvccError('keyNotFound');
    }
    const lease = p.lease ?? NO_LEASE;
    if (lease !== NO_LEASE && !this.leases.has(lease)) throw new MvccError('leaseNotFound');
  }

  private doPut(ctx: WriteCtx, p: PutRequest): PutResponse {
    const skey = skeyOf(p.key);
    let rec = this.map.get(skey);
    const cur = latestLive(rec);
    // ignore_value: the value is stored again (a reference is owned by one revision, so
    // defragment can move it).
    const value = p.ignoreValue ? (cur as Rev).value : p.value;
    const lease = p.ignoreLease ? (cur as Rev).lease : (p.lease ?? NO_LEASE);
    const created = rec === undefined;
    if (rec === undefined) {
      rec = { skey, revs: [] };
      this.map.set(skey, rec);
      this.size += skey.length + KEY_OVERHEAD_BYTES;
    }
    this.addRev(ctx, rec, cur ? cur.create : ctx.main, cur ? cur.version + 1 : 1, value, lease);
    // The index counts live keys: a new key enters it live, a deleted one turns live again.
    if (created) this.index.set(skey, rec);
    else if (!cur) this.index.adjustLive(skey, 1);
    if (cur && cur.lease !== NO_LEASE && cur.lease !== lease) this.leases.get(cur.lease)?.keys.delete(skey);
    if (lease !== NO_LEASE) {
      const l = this.leases.get(lease);
      assert(l !== undefined, 'put attaches a lease that was checked to exist');
      l.keys.add(skey);
    }
    const resp: PutResponse = { header: header(0) };
    if (p.prevKv && cur) resp.prevKv = toKv(cur);
    return resp;
  }

  private liveRecsIn(range: SkeyRange): KeyRec[] {
    const out: KeyRec[] = [];
    if (range.end === undefined) {
      const rec = this.map.get(range.start);
      if (latestLive(rec)) out.push(rec as KeyRec);
      return out;
    }
    if (isEmptyRange(range)) return out;
    this.index.visit(range.start, range.end === '' ? undefined : range.end, (_k, rec) => {
      if (latestLive(rec)) out.push(rec);
      return true;
    });
    return out;
  }

  private deleteRec(ctx: WriteCtx, rec: KeyRec): Rev {
    const cur = latestLive(rec) as Rev;
    this.addRev(ctx, rec, 0, 0, EMPTY, NO_LEASE);
    this.index.adjustLive(rec.skey, -1);
    if (cur.lease !== NO_LEASE) this.leases.get(cur.lease)?.keys.delete(rec.skey);
    return cur;
  }

  private doDelete(ctx: WriteCtx, d: DeleteRangeRequest): DeleteRangeResponse {
    const recs = this.liveRecsIn(skeyRange(d.key, d.rangeEnd));
    const prevKvs: KeyValue[] = [];
    for (const rec of recs) {
      const prev = this.deleteRec(ctx, rec);
      if (d.prevKv) prevKvs.push(toKv(prev));
    }
    return { header: header(0), deleted: recs.length, prevKvs };
  }

  // ---------------------------------------------------------------- txn

  private compareOne(c: Compare): boolean {
    const range = skeyRange(c.key, c.rangeEnd);
    const revs = this.liveRecsIn(range).map((rec) => latestLive(rec) as Rev);
    if (revs.length === 0) {
      if (c.target === CompareTarget.VALUE) return false; // a missing key never matches a value
      return this.compareRev(c, undefined);
    }
    for (const r of revs) if (!this.compareRev(c, r)) return false;
    return true;
  }

  private compareRev(c: Compare, r: Rev | undefined): boolean {
    let result: number;
    switch (c.target) {
      case CompareTarget.VALUE:
        result = compareBytes(r ? r.value : EMPTY, c.value ?? EMPTY);
        break;
      case CompareTarget.VERSION:
        result = cmpNum(r ? r.version : 0, c.version ?? 0);
        break;
      case CompareTarget.CREATE:
        result = cmpNum(r ? r.create : 0, c.createRevision ?? 0);
        break;
      case CompareTarget.MOD:
        result = cmpNum(r ? r.main : 0, c.modRevision ?? 0);
        break;
      case CompareTarget.LEASE:
        result = compareIds(r ? r.lease : NO_LEASE, c.lease ?? NO_LEASE);
        break;
      default:
        return assertNever(c.target);
    }
    switch (c.result) {
      case CompareResult.EQUAL:
        return result === 0;
      case CompareResult.NOT_EQUAL:
        return result !== 0;
      case CompareResult.GREATER:
        return result > 0;
      case CompareResult.LESS:
        return result < 0;
      default:
        return assertNever(c.result);
    }
  }

  /** The branch each (nested) txn takes, decided against the state before the txn (as etcd). */
  private txnPath(t: TxnRequest, path: boolean[]): void {
    const ok = (t.compare ?? []).every((c) => this.compareOne(c));
    path.push(ok);
    for (const op of (ok ? t.success : t.failure) ?? []) if ('requestTxn' in op) this.txnPath(op.requestTxn, path);
  }

  private txnHasPut(t: TxnRequest): boolean {
    for (const ops of [t.success ?? [], t.failure ?? []]) {
      for (const op of ops) {
        if ('requestPut' in op) return true;
        if ('requestTxn' in op && this.txnHasPut(op.requestTxn)) return true;
      }
    }
    return false;
  }

  /** etcd's checkRequests over the taken path: puts (lease, ignore_*) and ranges (revision). */
  private precheckTxn(t: TxnRequest, path: boolean[], at: { i: number }): void {
    const ok = path[at.i++] as boolean;
    for (const op of (ok ? t.success : t.failure) ?? []) {
      if ('requestPut' in op) this.precheckPut(op.requestPut);
      else if ('requestRange' in op) this.resolveReadRev(op.requestRange.revision, this.rev);
      else if ('requestTxn' in op) this.precheckTxn(op.requestTxn, path, at);
    }
  }

  /**
   * Runs the taken branch. Each op's header revision is etcd's: a range reads (and reports) the
   * revision including the txn's writes so far, a put the txn's revision, a delete the txn's
   * revision once the txn has changed something (else the current one); a nested txn's header
   * stays empty. Only the outer header gets the final revision (and, in the server, the
   * member's identity).
   */
  private execTxn(ctx: WriteCtx, t: TxnRequest, path: boolean[], at: { i: number }): TxnResponse {
    const ok = path[at.i++] as boolean;
    const responses: ResponseOp[] = [];
    for (const op of (ok ? t.success : t.failure) ?? []) {
      if ('requestRange' in op) {
        const curRev = ctx.changes.length > 0 ? ctx.main : this.rev;
        responses.push({ responseRange: this.rangeNow(op.requestRange, curRev) });
      } else if ('requestPut' in op) {
        const resp = this.doPut(ctx, op.requestPut);
        resp.header.revision = ctx.main;
        responses.push({ responsePut: resp });
      } else if ('requestDeleteRange' in op) {
        const resp = this.doDelete(ctx, op.requestDeleteRange);
        resp.header.revision = ctx.changes.length > 0 ? ctx.main : this.rev;
        responses.push({ responseDeleteRange: resp });
      } else if ('requestTxn' in op) {
        responses.push({ responseTxn: this.execTxn(ctx, op.requestTxn, path, at) });
      } else {
        assertNever(op);
      }
    }
    return { header: header(0), succeeded: ok, responses };
  }

  private applyTxn(t: TxnRequest): TxnResponse {
    if (this.hasAlarm(AlarmType.NOSPACE) && this.txnHasPut(t)) throw new NoSpaceError();
    const path: boolean[] = [];
    this.txnPath(t, path);
    this.precheckTxn(t, path, { i: 0 });
    const ctx = this.begin();
    const resp = this.execTxn(ctx, t, path, { i: 0 });
    this.commit(ctx);
    resp.header.revision = this.rev;
    return resp;
  }

  /**
   * A txn that only reads, against the current state, outside the log (etcd's read-only Txn: a
   * member serves it after a ReadIndex round, or at once if its reads are serializable). The
   * answer is the one applying it would give; the revision does not move, nothing is recorded.
   */
  txnRead(t: TxnRequest): TxnResponse {
    assert(isReadOnlyTxn(t), 'txnRead of a txn that writes');
    const bad = validateCommand({ type: 'txn', req: t }, APPLY_MAX_TXN_OPS);
    if (bad) throw bad;
    const path: boolean[] = [];
    this.txnPath(t, path);
    this.precheckTxn(t, path, { i: 0 });
    const resp = this.execTxn(this.begin(), t, path, { i: 0 });
    resp.header.revision = this.rev;
    return resp;
  }

  // ---------------------------------------------------------------- compaction

  private applyCompaction(c: CompactionRequest): { header: ResponseHeader } {
    // etcd starts at compactMainRev -1, so compacting a never-compacted store to 0 succeeds and
    // changes nothing. (etcd then refuses a second compaction to 0; tsetcd, whose never-compacted
    // compactRev is 0, accepts it again: docs/design-notes.md.)
    if (c.revision === 0 && this.compactRev === 0) return { header: header(this.rev) };
    if (c.revision <= this.compactRev) throw new CompactedError(this.compactRev);
    if (c.revision > this.rev) throw new FutureRevError();
    this.compactRev = c.revision;
    return { header: header(this.rev) };
  }

  /**
   * True while logically compacted history is still held, including work a pin (a long
   * read or snapshot) holds back for now; the runtime can poll it and call compactStep
   * again once the pin is gone.
   */
  physicalCompactionPending(): boolean {
    return this.workUpTo(this.compactRev);
  }

  private workUpTo(target: number): boolean {
    return this.physicalCursor <= target || this.log.first < target;
  }

  private physicalTarget(): number {
    let t = this.compactRev;
    for (const p of this.pins.keys()) if (p < t) t = p;
    return t;
  }

  /**
   * One bounded step of physical compaction: visits the keys changed in at most
   * `maxRevisions` compacted revisions, trims their histories, and drops log groups no
   * watcher may need. Returns true when nothing is left that can be done now (pins may
   * hold some back: see physicalCompactionPending). Deterministic in effect on
   * reads, hashes and snapshots (those are defined over the logical state), so members
   * may run it at different times.
   */
  compactStep(maxRevisions: number): boolean {
    const target = this.physicalTarget();
    let budget = maxRevisions;
    if (this.keptDeletesRev > 0 && this.keptDeletesRev < target) {
      // Its log group is still held: groups are dropped only below the target it was.
      this.log.forEachAt(this.keptDeletesRev, (r) => this.compactKey(r.rec, target));
      this.keptDeletesRev = 0;
      budget--;
    }
    while (budget > 0 && this.physicalCursor <= target) {
      this.log.forEachAt(this.physicalCursor, (r) => this.compactKey(r.rec, target));
      this.physicalCursor++;
      budget--;
    }
    if (target > 1 && this.physicalCursor === target + 1) this.keptDeletesRev = target;
    // Keys changed only at or below an earlier target may still hold a tombstone or
    // older revisions: compactKey at that time handled them. Drop log groups below target
    // (the group at the compact revision itself is kept for watch replay from it).
    while (this.log.first < target && this.log.first < this.physicalCursor && budget-- > 0) this.log.dropFirst();
    this.physicalRev = Math.min(target, this.physicalCursor - 1);
    return !this.workUpTo(target);
  }

  private compactKey(rec: KeyRec, target: number): void {
    if (this.map.get(rec.skey) !== rec) return; // already dropped
    const start = firstSurviving(rec.revs, target);
    if (start === 0) return;
    for (let i = 0; i < start; i++) {
      const r = rec.revs[i]!;
      this.size -= r.vlen + REV_OVERHEAD_BYTES;
      this.valueBytes -= r.vlen;
    }
    rec.revs = rec.revs.slice(start);
    this.stats.compactedRevisions += start;
    if (rec.revs.length === 0) {
      this.map.delete(rec.skey);
      this.size -= rec.skey.length + KEY_OVERHEAD_BYTES;
      this.index.delete(rec.skey);
    }
  }

  // ---------------------------------------------------------------- defragment

  /**
   * One bounded step of defragment: moves the values that the value store calls old
   * (isOld) to its current end, for up to `maxKeys` keys from `cursor.from`, then the log
   * groups (revisions kept for watch replay whose key history compaction already trimmed).
   * Changes no replicated state: only where the bytes are. Returns true when every held value
   * is out of the old part, which the value store may then drop. Applies may run between steps:
   * what they write goes to the current end, and what compaction drops needs no moving.
   */
  relocateStep(cursor: { from: string | undefined; rev: number }, maxKeys: number): boolean {
    const move = (r: Rev): void => {
      if (r.vlen > 0 && this.values.isOld(r.vref)) r.vref = this.values.append(this.values.read(r.vref, r.vlen));
    };
    if (cursor.from !== undefined) {
      cursor.from = this.visitKeysFrom(cursor.from, maxKeys, (rec) => {
        for (const r of rec.revs) move(r);
      });
      if (cursor.from !== undefined) return false;
      cursor.rev = this.log.first;
    }
    let budget = maxKeys;
    for (cursor.rev = Math.max(cursor.rev, this.log.first); cursor.rev <= this.rev && budget > 0; cursor.rev++) {
      budget -= Math.max(1, this.log.forEachAt(cursor.rev, move));
    }
    return cursor.rev > this.rev;
  }

  // ---------------------------------------------------------------- leases

  private applyLeaseGrant(g: LeaseGrantRequest, index: number): LeaseGrantResponse {
    if (this.hasAlarm(AlarmType.NOSPACE)) throw new NoSpaceError();
    if (g.TTL > MAX_LEASE_TTL_SEC) throw new MvccError('leaseTtlTooLarge');
    let id = g.ID ?? NO_LEASE;
    if (id === NO_LEASE) {
      do {
        this.leaseIdSeq++;
        id = mixLeaseId(index, this.leaseIdSeq);
      } while (id === NO_LEASE || this.leases.has(id));
    } else if (this.leases.has(id)) {
      throw new MvccError('leaseExists');
    }
    const ttl = Math.max(g.TTL, this.minLeaseTtlSec);
    this.leases.set(id, { id, ttl, remainingTtl: 0, keys: new Set() });
    this.lessor.onGrantOrRevoke(id);
    return { header: header(this.rev), ID: id, TTL: ttl, error: '' };
  }

  private applyLeaseRevoke(id: LeaseId): { header: ResponseHeader } {
    const l = this.leases.get(id);
    if (l === undefined) throw new MvccError('leaseNotFound');
    const skeys = [...l.keys].sort();
    const ctx = this.begin();
    for (const k of skeys) {
      const rec = this.map.get(k);
      if (latestLive(rec)) this.deleteRec(ctx, rec as KeyRec);
    }
    this.commit(ctx);
    this.leases.delete(id);
    this.lessor.onGrantOrRevoke(id);
    return { header: header(this.rev) };
  }

  private applyLeaseCheckpoint(req: LeaseCheckpointRequest): { header: ResponseHeader } {
    for (const cp of req.checkpoints) {
      const l = this.leases.get(cp.ID);
      if (l) l.remainingTtl = Math.max(0, cp.remainingTTL);
    }
    return { header: header(this.rev) };
  }

  /** Lease time-to-live. nowMs is the caller's clock (used only on the leader). */
  leaseTimeToLive(req: LeaseTimeToLiveRequest, nowMs: number): LeaseTimeToLiveResponse {
    const l = this.leases.get(req.ID);
    if (l === undefined) return { header: header(this.rev), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
    const ms = this.lessor.remainingMs(req.ID, nowMs);
    const keys = req.keys ? [...l.keys].sort().map((k) => keyBytes(this.map.get(k) as KeyRec)) : [];
    return { header: header(this.rev), ID: l.id, TTL: Math.floor(ms / 1000), grantedTTL: l.ttl, keys };
  }

  leaseLeases(): LeaseLeasesResponse {
    const ids = [...this.leases.keys()].sort(compareIds);
    return { header: header(this.rev), leases: ids.map((ID) => ({ ID })) };
  }

  /** The replicated lease record (read-only view), or undefined. */
  lease(id: LeaseId): Readonly<LeaseRecord> | undefined {
    return this.leases.get(id);
  }

  // ---------------------------------------------------------------- alarms

  private applyAlarm(a: AlarmRequest): AlarmResponse {
    switch (a.action) {
      case AlarmAction.GET:
        return { header: header(this.rev), alarms: this.alarms() };
      case AlarmAction.ACTIVATE: {
        if (a.alarm === AlarmType.NONE) return { header: header(this.rev), alarms: [] };
        if (!this.alarmList.some((x) => x.memberID === a.memberID && x.alarm === a.alarm)) {
          this.alarmList.push({ memberID: a.memberID, alarm: a.alarm });
          this.alarmList.sort((x, y) => compareIds(x.memberID, y.memberID) || x.alarm - y.alarm);
        }
        return { header: header(this.rev), alarms: [{ memberID: a.memberID, alarm: a.alarm }] };
      }
      case AlarmAction.DEACTIVATE: {
        const removed = this.alarmList.filter(
          (x) => (a.memberID === 0n || x.memberID === a.memberID) && (a.alarm === AlarmType.NONE || x.alarm === a.alarm),
        );
        this.alarmList = this.alarmList.filter((x) => !removed.includes(x));
        return { header: header(this.rev), alarms: removed };
      }
      default:
        return assertNever(a.action);
    }
  }

  // ---------------------------------------------------------------- hash

  /**
   * HashKV(rev), computed as etcd computes it (server/storage/mvcc/hash.go): CRC-32C over the
   * key bucket's name, then each row etcd would hold at `rev` in revision order (the 17-byte
   * revision key and the mvccpb.KeyValue bytes): every revision above the compaction, and the
   * revision each live key keeps at it. A member of either system gives the same hash for the
   * same history. rev <= 0: the current revision.
   */
  hashKV(rev = 0): HashKVResponse {
    const it = this.hashKVSteps(rev, Number.MAX_SAFE_INTEGER);
    for (;;) {
      const r = it.next();
      if (r.done) return r.value;
    }
  }

  /**
   * hashKV in bounded steps of about `stepKeys` keys or revisions (yield to the event loop
   * between steps). The hash is of the state when it started; it pins history like rangeSteps.
   */
  *hashKVSteps(rev: number, stepKeys: number): Generator<void, HashKVResponse, void> {
    const at = rev <= 0 ? this.rev : rev;
    if (at > this.rev) throw new FutureRevError();
    if (at < this.compactRev) throw new CompactedError(this.compactRev);
    const compactRev = this.compactRev;
    const curRev = this.rev;
    const epoch = this.epoch;
    const unpin = this.pin(compactRev);
    const still = (): void => {
      if (this.epoch !== epoch) throw new CompactedError(this.compactRev);
    };
    try {
      let crc = crc32cUpdateBytes(0, KEY_BUCKET_NAME);
      const row = (r: Rev): void => {
        const [k, v] = etcdKeyRow(keyBytes(r.rec), r);
        crc = crc32cUpdateBytes(crc32cUpdateBytes(crc, k), v);
      };
      if (compactRev > 0) {
        const kept: Rev[] = [];
        const survivors: Rev[] = [];
        let from: string | undefined = '';
        while (from !== undefined) {
          from = this.keptRevisions(kept, survivors, compactRev, at, from, stepKeys);
          if (from !== undefined) {
            yield;
            still();
          }
        }
        const old = (kept.length > 0 ? kept : survivors).filter((r) => r.main <= compactRev);
        old.sort((a, b) => a.main - b.main || a.sub - b.sub);
        for (const r of old) row(r);
      }
      let budget = stepKeys;
      for (let r = Math.max(compactRev + 1, 2); r <= at; r++) {
        this.log.forEachAt(r, row);
        if (--budget <= 0 && r < at) {
          yield;
          still();
          budget = stepKeys;
        }
      }
      // etcd reports compact_revision -1 until the first compaction.
      return { header: header(curRev), hash: crc >>> 0, compactRevision: compactRev === 0 ? -1 : compactRev, hashRevision: at };
    } finally {
      unpin();
    }
  }

  /**
   * etcd hashes a revision at or below the compaction only if it is in keyIndex.Keep(at): the
   * key's last revision at `at`, unless that is a delete. (When no key is live at `at`, Keep is
   * empty and etcd hashes every row compaction kept.) Adds up to `stepKeys` keys' worth from
   * `from` to `kept` and `survivors`; returns where to continue, or undefined when done.
   */
  private keptRevisions(kept: Rev[], survivors: Rev[], compactRev: number, at: number, from: string, stepKeys: number): string | undefined {
    return this.visitKeysFrom(from, stepKeys, (rec) => {
      const s = rec.revs[firstSurviving(rec.revs, compactRev)];
      if (s !== undefined && s.main <= compactRev) survivors.push(s);
      const i = lastIndexAtOrBelow(rec.revs, at);
      const r = i >= 0 ? rec.revs[i]! : undefined;
      if (r !== undefined && r.version !== 0) kept.push(r);
    });
  }

  /** Calls `fn` for up to `stepKeys` keys from `from`, in key order; returns where to continue, or undefined when done. */
  private visitKeysFrom(from: string, stepKeys: number, fn: (rec: KeyRec) => void): string | undefined {
    let visited = 0;
    let last = '';
    const finished = this.index.visit(from, undefined, (k, rec) => {
      if (visited >= stepKeys) return false;
      visited++;
      last = k;
      fn(rec);
      return true;
    });
    return finished ? undefined : last + '\u0000';
  }

  /** Hash up to `stepKeys` keys from `from`; returns where to continue, or undefined when done. */
  private hashKeys(h: Crc32cHasher, at: number, compactRev: number, from: string, stepKeys: number): string | undefined {
    return this.visitKeysFrom(from, stepKeys, (rec) => {
      const revs = rec.revs;
      let wrote = false;
      for (let i = firstSurviving(revs, compactRev); i < revs.length; i++) {
        const r = revs[i]!;
        if (r.main > at) break;
        if (!wrote) {
          h.latin1(rec.skey);
          wrote = true;
        }
        h.int(r.main).int(r.sub).int(r.create).int(r.version).big(r.lease).bytes(r.value);
      }
    });
  }

  /** Hash of the whole replicated state: revision, compaction, keys (as HashKV), leases, alarms. */
  hash(): HashResponse {
    const h = new Crc32cHasher();
    h.int(this.rev).int(this.compactRev).int(this.leaseIdSeq);
    this.hashKeys(h, this.rev, this.compactRev, '', Number.MAX_SAFE_INTEGER);
    for (const id of [...this.leases.keys()].sort(compareIds)) {
      const l = this.leases.get(id) as LeaseRecord;
      h.big(id).int(l.ttl).int(l.remainingTtl);
    }
    for (const a of this.alarmList) h.big(a.memberID).int(a.alarm);
    return { header: header(this.rev), hash: h.digest() };
  }

  // ---------------------------------------------------------------- snapshot

  /**
   * The whole replicated state as a stream of chunks of about `maxBytes` (a chunk holds
   * at least one record, so one huge value can make a bigger chunk). A generator: the
   * caller may yield between chunks while applies go on; the stream is the state at the
   * moment the generator started (it pins history; drive it to the end or call return()).
   * Format: records [type u8][len uvarint][body]; 1 header, 2 key, 3 trailer (CRC-32C of
   * every byte before the trailer).
   *
   * With `footer` (a member's own snapshot over a kept value log, value-log.ts): format 2, where
   * each value is its length and its offset in the value store instead of its bytes, and the
   * trailer carries footer()'s bytes, asked for once the last offset is written (the log's end
   * then, and its segments). SnapshotExpander turns such a stream back into format 1 for a peer.
   */
  *snapshotChunks(maxBytes: number, footer?: () => Uint8Array): Generator<Uint8Array, void, void> {
    const rev = this.rev;
    const compactRev = this.compactRev;
    const epoch = this.epoch;
    const unpin = this.pin(compactRev);
    const refs = footer !== undefined;
    try {
      const out = new ByteWriter(Math.min(Math.max(maxBytes, 64), 1 << 20) + 1024);
      const body = new ByteWriter(1024);
      let crc = 0;
      const emit = (type: number): void => {
        out.u8(type);
        out.uvarint(body.length);
        out.append(body);
        body.reset();
      };
      const take = (): Uint8Array => {
        crc = crc32cUpdateBytes(crc, out.view());
        return out.take();
      };
      // Header.
      body.raw(SNAPSHOT_MAGIC);
      body.uvarint(footer ? SNAPSHOT_FORMAT_REFS : SNAPSHOT_FORMAT);
      body.varint(rev);
      body.varint(compactRev);
      body.varint(this.applied);
      body.varint(this.leaseIdSeq);
      body.uvarint(this.alarmList.length);
      for (const a of this.alarmList) {
        body.varintBig(a.memberID);
        body.u8(a.alarm);
      }
      const leaseIds = [...this.leases.keys()].sort(compareIds);
      body.uvarint(leaseIds.length);
      for (const id of leaseIds) {
        const l = this.leases.get(id) as LeaseRecord;
        body.varintBig(id);
        body.varint(l.ttl);
        body.varint(l.remainingTtl);
      }
      emit(1);
      // The header alone first: a caller that starts the stream where the state must be captured
      // (a member inside its apply slice) pays for the pin and the header only, not for a chunk.
      yield take();

      const stillSame = (): void => {
        if (this.epoch !== epoch) throw new MvccError('snapshotInvalid', 'store restored during snapshot');
      };

      let from = '';
      let keys = 0;
      for (;;) {
        stillSame();
        let last = '';
        let streamed: { rec: KeyRec; start: number; n: number } | undefined;
        const finished = this.index.visit(from, undefined, (k, kr) => {
          if (out.length >= maxBytes) return false;
          last = k;
          const revs = kr.revs;
          const start = firstSurviving(revs, compactRev);
          // Revisions are in order: those at or below rev end at lastIndexAtOrBelow.
          const n = lastIndexAtOrBelow(revs, rev) - start + 1;
          if (n <= 0) return true;
          if (n > STREAMED_KEY_REVISIONS) {
            streamed = { rec: kr, start, n };
            return false;
          }
          body.latin1(kr.skey);
          body.uvarint(n);
          for (let i = start; i < start + n; i++) writeSnapshotRev(body, revs[i]!, refs);
          emit(2);
          keys++;
          return true;
        });
        if (streamed) {
          // A key with this many revisions (etcd's benchmark puts one key 60,000 times) goes
          // straight into the chunks, cut wherever a chunk fills, so it is neither one long step
          // of the caller's nor one huge chunk. Its length comes first, from a sizing pass.
          // The array stays as it is across the yields: appends land past n, and compaction
          // replaces rec.revs instead of changing it.
          const { rec, start, n } = streamed;
          const revs = rec.revs;
          let size = uvarintSize(rec.skey.length) + rec.skey.length + uvarintSize(n);
          size += snapshotRevsSize(revs, start, start + n, refs);
          out.u8(2);
          out.uvarint(size);
          out.latin1(rec.skey);
          out.uvarint(n);
          for (let i = start; i < start + n; ) {
            i = writeSnapshotRevs(out, revs, i, start + n, refs, maxBytes);
            if (out.length >= maxBytes) {
              yield take();
              stillSame();
            }
          }
          keys++;
          from = last + '\u0000';
          continue;
        }
        if (finished) break;
        from = last + '\u0000';
        if (out.length > 0) yield take();
      }
      crc = crc32cUpdateBytes(crc, out.view()); // the trailer covers every byte before it
      body.uvarint(keys);
      if (footer) body.bytes(footer());
      body.raw(u32le(crc));
      emit(3);
      yield out.take();
    } finally {
      unpin();
    }
  }

  // ---------------------------------------------------------------- etcd backend layout
  // etcd's backend (bbolt) keeps one row per revision in (main, sub) order; node/runtime's
  // etcd-db export and import (etcd-snapshot-*.ts) translate between that and this store.

  /**
   * The header and every revision still held, in (main, sub) order: the survivors at or below
   * the compaction first (one per key at most, as etcd's compaction keeps), then each later
   * revision's changes. The state at the moment of the call: history stays pinned until
   * release(), and each call of revisions() walks the same rows again (the etcd-format export
   * sizes its pages in one pass and writes them in a second).
   */
  exportRevisions(): RevisionExport {
    const rev = this.rev;
    const compactRev = this.compactRev;
    const header: ExportHeader = {
      rev,
      compactRev,
      applied: this.applied,
      leases: [...this.leases.values()].sort((a, b) => compareIds(a.id, b.id)).map((l) => ({ id: l.id, ttl: l.ttl, remainingTtl: l.remainingTtl })),
      alarms: this.alarmList.map((a) => ({ ...a })),
    };
    const epoch = this.epoch;
    const self = this;
    const unpin = this.pin(compactRev);
    let released = false;
    function* gen(): Generator<Rev, void, void> {
      if (released) throw new MvccError('snapshotInvalid', 'export: released');
      if (compactRev > 0) {
        const old: Rev[] = [];
        for (const rec of self.map.values()) {
          const r = rec.revs[firstSurviving(rec.revs, compactRev)];
          if (r !== undefined && r.main <= compactRev) old.push(r);
        }
        old.sort((a, b) => a.main - b.main || a.sub - b.sub);
        yield* old;
      }
      for (let r = Math.max(compactRev + 1, 2); r <= rev; r++) {
        if (self.epoch !== epoch) throw new MvccError('snapshotInvalid', 'store restored during export');
        if (released) throw new MvccError('snapshotInvalid', 'export: released');
        assert(self.log.holds(r), `export: revision ${r} is no longer in the log`);
        for (let p = self.log.startOf(r), to = self.log.endOf(r); p < to; p++) yield self.log.at(p);
      }
    }
    return {
      header,
      revisions: gen,
      release: () => {
        released = true;
        unpin();
      },
    };
  }

  /**
   * Replace the whole state with rows in etcd's layout: `revisions` in (main, sub) order, as
   * exportRevisions gives them (a tombstone has version 0). The current revision is
   * header.rev. Leader-side lease clocks are reset, as restore() does.
   */
  importRevisions(header: ExportHeader, revisions: Iterable<ImportedRev>): void {
    const { rev, compactRev } = header;
    const logStart = Math.max(2, compactRev);
    const groups: Rev[][] = [];
    for (let r = logStart; r <= rev; r++) groups.push([]);
    const map = new Map<string, KeyRec>();
    const leases = new Map<LeaseId, LeaseRecord>();
    for (const l of header.leases) leases.set(l.id, { id: l.id, ttl: l.ttl, remainingTtl: l.remainingTtl, keys: new Set() });
    let size = 0;
    let valueBytes = 0;
    let last: { main: number; sub: number } | undefined;
    for (const i of revisions) {
      if (last && !(last.main < i.main || (last.main === i.main && last.sub < i.sub))) throw new MvccError('snapshotInvalid', 'import: revisions out of order');
      if (i.main > rev) throw new MvccError('snapshotInvalid', 'import: revision above the current revision');
      last = { main: i.main, sub: i.sub };
      const skey = skeyOf(i.key);
      let rec = map.get(skey);
      if (!rec) {
        rec = { skey, revs: [] };
        map.set(skey, rec);
        size += skey.length + KEY_OVERHEAD_BYTES;
      }
      const v = stash(this.values, i.version === 0 ? undefined : i.value);
      const rv = new Rev(rec, i.main, i.sub, i.version === 0 ? 0 : i.create, i.version, i.version === 0 ? NO_LEASE : i.lease, v.ref, v.len, this.values);
      rec.revs.push(rv);
      size += v.len + REV_OVERHEAD_BYTES;
      valueBytes += v.len;
      if (i.main >= logStart) groups[i.main - logStart]!.push(rv);
    }
    const index = newKeyIndex();
    for (const skey of [...map.keys()].sort()) {
      const rec = map.get(skey)!;
      index.set(skey, rec);
      const lastRev = rec.revs[rec.revs.length - 1];
      if (lastRev && lastRev.version !== 0 && lastRev.lease !== NO_LEASE) leases.get(lastRev.lease)?.keys.add(skey);
    }
    this.load({
      map,
      index,
      rev,
      compactRev,
      log: RevLog.fromGroups(logStart, groups),
      leases,
      leaseIdSeq: header.leases.length, // any deterministic start: grants skip ids in use
      alarms: header.alarms.map((a) => ({ ...a })),
      applied: header.applied,
      size,
      valueBytes,
    });
  }

  /**
   * Start a restore: feed chunks with write(), then finish() swaps the state in. `checked`: the
   * caller has checked these bytes' own checksum (a snapshot file's, before or while it is read),
   * so the trailer's CRC-32C, a second pass in JS over every byte, is not computed again.
   */
  beginRestore(opts: { checked?: boolean } = {}): SnapshotRestorer {
    return new SnapshotRestorer(this.values, (s) => this.load(s), opts.checked ?? false);
  }

  /** Replace the whole state with a snapshot's. Leader-side lease clocks are reset (demoted). */
  restore(chunks: Iterable<Uint8Array>): void {
    const r = this.beginRestore();
    for (const c of chunks) r.write(c);
    r.finish();
  }

  private load(s: LoadedState): void {
    this.map = s.map;
    this.index = s.index;
    this.rev = s.rev;
    this.compactRev = s.compactRev;
    this.log = s.log;
    this.physicalRev = s.compactRev;
    this.physicalCursor = s.compactRev + 1 > s.log.first ? s.compactRev + 1 : s.log.first;
    this.keptDeletesRev = s.compactRev > 1 ? s.compactRev : 0;
    this.leases = s.leases;
    this.leaseIdSeq = s.leaseIdSeq;
    this.alarmList = s.alarms;
    this.applied = s.applied;
    this.size = s.size;
    this.valueBytes = s.valueBytes;
    this.epoch++;
    this.lessor.demote();
  }

  /** For tests: structural invariants. */
  checkInvariants(): void {
    this.index.checkInvariants();
    assert(this.index.size === this.map.size, 'index and map sizes differ');
    for (const [k, rec] of this.map) {
      assert(this.index.get(k) === rec, 'index and map disagree');
      for (let i = 1; i < rec.revs.length; i++) {
        const a = rec.revs[i - 1]!;
        const b = rec.revs[i]!;
        // One txn may put a key in one nested txn and delete it in a later one (etcd allows it).
        assert(a.main < b.main || (a.main === b.main && a.sub < b.sub), 'revs out of order');
      }
    }
    assert(this.log.first + this.log.count === this.rev + 1, 'log does not end at the current revision');
    void this.physicalRev;
  }
}

/** One range read at a revision, done in bounded steps (see rangeSteps). */
class RangeCollector {
  private kvs: KeyValue[] = [];
  private count = 0;
  private readonly limit: number;
  private readonly fetchLimit: number;
  private readonly skipValues: boolean;
  private readonly range: SkeyRange;
  private from: string;
  private started = false;
  /** The index gave the count: the scan stops once it has fetchLimit keys. */
  private readonly counted: boolean;

  constructor(
    private readonly map: Map<string, KeyRec>,
    private readonly index: KeyIndex<KeyRec>,
    private readonly req: RangeRequest,
    private readonly at: number,
    curRev: number,
    /** Gives the range's live keys at `at` when it knows them without a walk. */
    counter: Pick<MvccStore, 'liveCount'>,
  ) {
    this.limit = req.limit ?? 0;
    const filtered = !!(req.minModRevision || req.maxModRevision || req.minCreateRevision || req.maxCreateRevision);
    // etcd fetches everything when sorting or filtering; otherwise limit + 1 for `more`.
    const fetchAll = (req.sortOrder ?? SortOrder.NONE) !== SortOrder.NONE || filtered;
    this.fetchLimit = req.countOnly ? 0 : fetchAll || this.limit <= 0 ? Number.MAX_SAFE_INTEGER : this.limit + 1;
    this.range = skeyRange(req.key, req.rangeEnd);
    this.from = this.range.start;
    // A keys-only read fetches no value bytes, unless it sorts by value.
    this.skipValues = !!req.keysOnly && req.sortTarget !== SortTarget.VALUE;
    // A limited read of a range takes its count without walking the rest (etcd walks it all).
    const range = this.range;
    const known = range.end !== undefined && !isEmptyRange(range) && this.fetchLimit !== Number.MAX_SAFE_INTEGER ? counter.liveCount(range, at, curRev) : undefined;
    this.counted = known !== undefined;
    if (known !== undefined) this.count = known;
  }

  private take(rec: KeyRec): void {
    const r = liveAt(rec, this.at);
    if (r === undefined) return;
    if (!this.counted) this.count++;
    if (this.kvs.length < this.fetchLimit) this.kvs.push(toKv(r, this.skipValues));
  }

  /** Visit up to stepKeys index keys; true when the scan is complete. */
  step(stepKeys: number): boolean {
    const range = this.range;
    if (range.end === undefined) {
      if (!this.started) {
        const rec = this.map.get(range.start);
        if (rec) this.take(rec);
      }
      this.started = true;
      return true;
    }
    this.started = true;
    if (isEmptyRange(range)) return true;
    const end = range.end === '' ? undefined : range.end;
    const counted = this.counted;
    if (counted && this.kvs.length >= this.fetchLimit) return true;
    let visited = 0;
    let last = '';
    let full = false;
    const finished = this.index.visit(this.from, end, (k, rec) => {
      if (visited >= stepKeys) return false;
      visited++;
      last = k;
      this.take(rec);
      full = counted && this.kvs.length >= this.fetchLimit;
      return !full;
    });
    if (finished || full) return true;
    this.from = last + '\u0000';
    return false;
  }

  finish(): { kvs: KeyValue[]; more: boolean; count: number } {
    const req = this.req;
    let kvs = this.kvs;
    const { minModRevision: minMod, maxModRevision: maxMod, minCreateRevision: minCreate, maxCreateRevision: maxCreate } = req;
    if (maxMod) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
    if (minMod) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
    if (maxCreate) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
    if (minCreate) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);

    const sortTarget = req.sortTarget ?? SortTarget.KEY;
    let sortOrder: number = req.sortOrder ?? SortOrder.NONE;
    if (sortTarget !== SortTarget.KEY && sortOrder === SortOrder.NONE) sortOrder = SortOrder.ASCEND;
    else if (sortTarget === SortTarget.KEY && sortOrder === SortOrder.ASCEND) sortOrder = SortOrder.NONE;
    if (sortOrder !== SortOrder.NONE) sortKvs(kvs, sortTarget, sortOrder);

    let more = false;
    if (this.limit > 0 && kvs.length > this.limit) {
      kvs.length = this.limit;
      more = true;
    }
    // Values are dropped after sorting (a keys-only range sorted by value still sorts by value).
    if (req.keysOnly) for (const kv of kvs) kv.value = EMPTY;
    return { kvs, more, count: this.count };
  }
}


const SNAPSHOT_MAGIC = Buffer.from('tsetcd-mvcc', 'latin1');
const EMPTY_REVS: Rev[] = [];
const SNAPSHOT_FORMAT = 1;
/** Values named by their offset in the value store (a member's own snapshot file only). */
const SNAPSHOT_FORMAT_REFS = 2;

function u32le(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** What exportRevisions gives: see there. */
export interface RevisionExport {
  readonly header: ExportHeader;
  /** The held revisions in (main, sub) order; the same rows at every call until release(). */
  revisions(): Generator<Rev, void, void>;
  /** Lets compaction go on (the pin taken at export); idempotent. */
  release(): void;
}

/** What exportRevisions/importRevisions carry besides the revisions. */
export interface ExportHeader {
  readonly rev: number;
  readonly compactRev: number;
  readonly applied: number;
  readonly leases: ReadonlyArray<{ readonly id: LeaseId; readonly ttl: number; readonly remainingTtl: number }>;
  readonly alarms: readonly AlarmMember[];
}

/** One revision row to import (a tombstone has version 0; its create, value and lease are ignored). */
export interface ImportedRev extends RevisionRow {
  readonly key: Uint8Array;
}

interface LoadedState {
  map: Map<string, KeyRec>;
  index: KeyIndex<KeyRec>;
  rev: number;
  compactRev: number;
  log: RevLog;
  leases: Map<LeaseId, LeaseRecord>;
  leaseIdSeq: number;
  alarms: AlarmMember[];
  applied: number;
  size: number;
  valueBytes: number;
}

/** Incremental snapshot reader: bounded work per write(); the state is swapped in by finish(). */
export class SnapshotRestorer {
  private pending: Uint8Array = EMPTY;
  private crc = 0;
  private s: LoadedState | undefined;
  /** buckets[i]: the changes of revision s.log.first + i (the log itself is filled at finish()). */
  private buckets: Rev[][] = [];
  private keys = 0;
  private done = false;
  private lastSkey: string | undefined;
  /** Format 2: values are offsets in the value store (adopted at the trailer). */
  private refs = false;
  /** Format 2: the highest offset + length named. */
  private maxEnd = 0;

  constructor(
    private readonly values: ValueStore,
    private readonly onFinish: (s: LoadedState) => void,
    private readonly checked: boolean,
  ) {}

  private fail(why: string): never {
    throw new MvccError('snapshotInvalid', why);
  }

  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.done) this.fail('data after the trailer');
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const r = new ByteReader(buf, 'snapshot');
    let pos = 0;
    let crcFrom = 0;
    try {
      for (;;) {
        const rec = nextSnapshotRecord(r, pos);
        if (rec === undefined) break;
        const { type, end: recordEnd } = rec;
        const body = new ByteReader(buf.subarray(rec.start, recordEnd), 'snapshot');
        if (type === 3) {
          if (!this.checked) this.crc = crc32cUpdateBytes(this.crc, buf.subarray(crcFrom, pos));
          crcFrom = pos;
          this.trailer(body);
          if (recordEnd !== buf.length) this.fail('data after the trailer');
          pos = recordEnd;
          break;
        }
        if (type === 1) this.header(body);
        else if (type === 2) this.key(body);
        else this.fail(`unknown record type ${type}`);
        pos = recordEnd;
      }
    } catch (e: unknown) {
      if (e instanceof MvccError) throw e;
      this.fail(e instanceof Error ? e.message : String(e));
    }
    if (!this.done && !this.checked) this.crc = crc32cUpdateBytes(this.crc, buf.subarray(crcFrom, pos));
    this.pending = pos >= buf.length ? EMPTY : Buffer.from(buf.subarray(pos));
  }

  private header(r: ByteReader): void {
    if (this.s) this.fail('two headers');
    const magic = r.buf.subarray(0, SNAPSHOT_MAGIC.length);
    if (Buffer.compare(magic, SNAPSHOT_MAGIC) !== 0) this.fail('bad magic');
    r.pos = SNAPSHOT_MAGIC.length;
    const format = r.uvarint();
    if (format !== SNAPSHOT_FORMAT && format !== SNAPSHOT_FORMAT_REFS) this.fail(`unknown format ${format}`);
    if (format === SNAPSHOT_FORMAT_REFS && !this.values.adopt) this.fail('a snapshot that names value offsets, restored into a store without a value log');
    this.refs = format === SNAPSHOT_FORMAT_REFS;
    const rev = r.varint();
    const compactRev = r.varint();
    const applied = r.varint();
    const leaseIdSeq = r.varint();
    const alarms: AlarmMember[] = [];
    for (let n = r.uvarint(); n > 0; n--) alarms.push({ memberID: r.varintBig(), alarm: r.u8() as AlarmType });
    const leases = new Map<LeaseId, LeaseRecord>();
    for (let n = r.uvarint(); n > 0; n--) {
      const id = r.varintBig();
      leases.set(id, { id, ttl: r.varint(), remainingTtl: r.varint(), keys: new Set() });
    }
    const logStart = Math.max(2, compactRev);
    this.buckets = new Array<Rev[]>(Math.max(0, rev - logStart + 1));
    this.s = {
      map: new Map(),
      index: newKeyIndex(),
      rev,
      compactRev,
      log: new RevLog(logStart), // finish() fills it from the buckets
      leases,
      leaseIdSeq,
      alarms,
      applied,
      size: 0,
      valueBytes: 0,
    };
  }

  private key(r: ByteReader): void {
    const s = this.s ?? this.fail('key before header');
    const skey = skeyOf(r.bytes());
    if (this.lastSkey !== undefined && !(this.lastSkey < skey)) this.fail('keys out of order');
    this.lastSkey = skey;
    const rec: KeyRec = { skey, revs: EMPTY_REVS };
    const n = r.uvarint();
    const revs: Rev[] = [];
    for (let i = 0; i < n; i++) {
      const main = r.varint();
      const sub = r.uvarint();
      const create = r.varint();
      const version = r.varint();
      const lease = r.varintBig();
      let v: { ref: ValueRef; len: number };
      if (!this.refs) v = stash(this.values, r.bytes());
      else {
        const len = r.uvarint();
        v = { ref: len === 0 ? 0 : r.uvarint(), len };
        if (len > 0) this.maxEnd = Math.max(this.maxEnd, (v.ref as number) + len);
      }
      const rv = new Rev(rec, main, sub, create, version, lease, v.ref, v.len, this.values);
      revs.push(rv);
      s.size += v.len + REV_OVERHEAD_BYTES;
      s.valueBytes += v.len;
      const bi = main - s.log.first;
      if (bi >= 0) {
        if (bi >= this.buckets.length) this.fail('revision above the snapshot revision');
        const bucket = this.buckets[bi];
        if (bucket === undefined) this.buckets[bi] = [rv];
        else bucket.push(rv);
      }
    }
    // Exact-size arrays (see addRev).
    rec.revs = revs.length === 1 ? [revs[0]!] : revs.slice();
    const last = rec.revs[rec.revs.length - 1];
    if (last && last.version !== 0 && last.lease !== NO_LEASE) {
      const l = s.leases.get(last.lease);
      if (l) l.keys.add(skey);
    }
    s.map.set(skey, rec);
    s.size += skey.length + KEY_OVERHEAD_BYTES;
    s.index.set(skey, rec);
    this.keys++;
  }

  private trailer(r: ByteReader): void {
    if (!this.s) this.fail('trailer before header');
    const keys = r.uvarint();
    if (keys !== this.keys) this.fail(`trailer counts ${keys} keys, read ${this.keys}`);
    const footer = this.refs ? r.bytes() : undefined;
    const crc = Buffer.from(r.buf.subarray(r.pos, r.pos + 4)).readUInt32LE(0);
    if (!this.checked && crc !== this.crc >>> 0) this.fail('checksum mismatch');
    // The value log is cut back to the snapshot's end here, once every byte checked out.
    if (footer) this.values.adopt!(footer, this.maxEnd);
    this.done = true;
  }

  finish(): void {
    if (!this.done || !this.s) this.fail('snapshot ended before its trailer');
    const s = this.s;
    const groups = this.buckets;
    this.buckets = [];
    for (let i = 0; i < groups.length; i++) {
      const b = (groups[i] ??= []);
      if (b.length > 1) b.sort((x, y) => x.sub - y.sub);
    }
    // A revision below the compaction may have lost every change; empty groups are fine.
    s.log = RevLog.fromGroups(s.log.first, groups);
    this.onFinish(s);
  }
}

/**
 * Turns a snapshot stream that names value offsets (format 2, a member's own snapshot file) into
 * one that carries the values (format 1), for a peer: its value log is its own. The chunks go in
 * as the store wrote them (any split works); the output comes in chunks of about `chunkBytes`,
 * cut at records, with the trailer's CRC-32C computed over the new bytes. A format-1 stream comes
 * out the same. Without `values` it only measures: the output chunks' lengths, no value read (the
 * transport needs a snapshot's length before its first byte).
 */
export class SnapshotExpander {
  private pending: Uint8Array = EMPTY;
  private readonly out = new ByteWriter(1 << 16);
  /** Measuring: bytes of the output chunk being built. */
  private outLen = 0;
  private crc = 0;
  private done = false;
  /** The input's format, once its header went through. */
  format = 0;

  constructor(
    private readonly values: ValueStore | undefined,
    private readonly chunkBytes: number,
  ) {}

  private fail(why: string): never {
    throw new MvccError('snapshotInvalid', why);
  }

  /** Feeds input; returns the output chunks complete so far (measuring: their lengths). */
  write(chunk: Uint8Array): Array<Uint8Array | number> {
    const outChunks: Array<Uint8Array | number> = [];
    if (chunk.length === 0) return outChunks;
    if (this.done) this.fail('data after the trailer');
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const r = new ByteReader(buf, 'snapshot');
    let pos = 0;
    for (;;) {
      const rec = nextSnapshotRecord(r, pos);
      if (rec === undefined) break;
      const type = rec.type;
      const body = buf.subarray(rec.start, rec.end);
      pos = rec.end;
      if (type === 1) this.header(body);
      else if (type === 2) this.key(body);
      else if (type === 3) {
        this.trailer(body);
        if (pos !== buf.length) this.fail('data after the trailer');
      } else this.fail(`unknown record type ${type}`);
      if (this.done || this.size() >= this.chunkBytes) outChunks.push(this.takeOut());
      if (this.done) break;
    }
    this.pending = pos >= buf.length ? EMPTY : Buffer.from(buf.subarray(pos));
    return outChunks;
  }

  /** True once the trailer went through. */
  ended(): boolean {
    return this.done;
  }

  private size(): number {
    return this.values ? this.out.length : this.outLen;
  }

  private takeOut(): Uint8Array | number {
    if (!this.values) {
      const n = this.outLen;
      this.outLen = 0;
      return n;
    }
    const c = this.out.take();
    this.crc = crc32cUpdateBytes(this.crc, c);
    return c;
  }

  private record(type: number, bodyLen: number): void {
    if (!this.values) this.outLen += 1 + uvarintSize(bodyLen) + bodyLen;
    else {
      this.out.u8(type);
      this.out.uvarint(bodyLen);
    }
  }

  private header(body: Uint8Array): void {
    if (this.format !== 0) this.fail('two headers');
    if (Buffer.compare(body.subarray(0, SNAPSHOT_MAGIC.length), SNAPSHOT_MAGIC) !== 0) this.fail('bad magic');
    const format = body[SNAPSHOT_MAGIC.length];
    if (format !== SNAPSHOT_FORMAT && format !== SNAPSHOT_FORMAT_REFS) this.fail(`unknown format ${String(format)}`);
    this.format = format;
    this.record(1, body.length);
    if (this.values) {
      const at = this.out.length;
      this.out.raw(body);
      this.out.view()[at + SNAPSHOT_MAGIC.length] = SNAPSHOT_FORMAT;
    }
  }

  private key(body: Uint8Array): void {
    if (this.format === 0) this.fail('key before header');
    if (this.format === SNAPSHOT_FORMAT) {
      this.record(2, body.length);
      if (this.values) this.out.raw(body);
      return;
    }
    const r = new ByteReader(body, 'snapshot');
    r.bytes();
    const n = r.uvarint();
    const head = r.pos;
    // Per revision: [fields start, fields end, value length, offset].
    const revs: number[] = [];
    let bodyLen = head;
    for (let i = 0; i < n; i++) {
      const from = r.pos;
      r.varint();
      r.uvarint();
      r.varint();
      r.varint();
      r.varintBig();
      const to = r.pos;
      const vlen = r.uvarint();
      const ref = vlen > 0 ? r.uvarint() : 0;
      revs.push(from, to, vlen, ref);
      bodyLen += to - from + uvarintSize(vlen) + vlen;
    }
    this.record(2, bodyLen);
    const values = this.values;
    if (!values) return;
    this.out.raw(body.subarray(0, head));
    for (let i = 0; i < revs.length; i += 4) {
      this.out.raw(body.subarray(revs[i]!, revs[i + 1]!));
      const vlen = revs[i + 2]!;
      this.out.bytes(vlen === 0 ? undefined : values.read(revs[i + 3]!, vlen));
    }
  }

  private trailer(body: Uint8Array): void {
    if (this.format === 0) this.fail('trailer before header');
    const keys = new ByteReader(body, 'snapshot').uvarint();
    const bodyLen = uvarintSize(keys) + 4;
    // The trailer's CRC covers every byte before the trailer record.
    const crc = this.values ? crc32cUpdateBytes(this.crc, this.out.view()) : 0;
    this.record(3, bodyLen);
    if (this.values) {
      this.out.uvarint(keys);
      this.out.raw(u32le(crc));
    }
    this.done = true;
  }
}

/**
 * The next whole record of a snapshot stream at `pos`: its type and body bounds, or undefined when
 * the record (or its length itself) runs past the buffer and the caller keeps the rest for the
 * next chunk. Shared by the restorer and the expander.
 */
function nextSnapshotRecord(r: ByteReader, pos: number): { type: number; start: number; end: number } | undefined {
  r.pos = pos;
  if (r.remaining < 2) return undefined;
  let type: number;
  let len: number;
  try {
    type = r.u8();
    len = r.uvarint();
  } catch {
    return undefined;
  }
  if (r.remaining < len) return undefined;
  return { type, start: r.pos, end: r.pos + len };
}
