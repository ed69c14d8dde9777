// tsetcd's state as an etcd 3.6 backend database (bbolt), the file `etcdctl snapshot save`
// receives from the Maintenance/Snapshot stream: etcd's `etcdutl snapshot status` and
// `snapshot restore` read it, and an etcd started on the restored data dir serves the same
// keys, values, revisions, versions and leases (docs/snapshots.md).
// Every revision the store still holds goes into the `key` bucket in (main, sub) order (the
// survivors of a compaction first, as etcd's compaction keeps them), and the compaction is
// recorded in meta, so history and the current revision carry over. Schema: etcd-schema.ts.
// Two ways: writeEtcdDb writes the database page by page to a positioned PageSink in one pass
// (the meta pages last); planEtcdDb first sizes every page from the keys' and values' lengths
// (no value is read), so the meta pages are known, and then writes the whole file front to back
// (etcd-snapshot-stream.ts streams it with no temporary file), each value read from the value
// log straight into its page. `maybeYield` is awaited every few thousand rows (BoltWriter) so a
// big store does not stall the event loop.

import type { AuthStateJSON } from '../mvcc/auth-store.js';
import type { MvccStore, RevisionExport } from '../mvcc/index.js';
import { keyBytes } from '../mvcc/index.js';
import { etcdKeyRow, etcdKeyRowValueBytes, writeEtcdKeyRowValue, type PlaceableRevisionRow } from '../mvcc/etcd-kv-encoding.js';
import { BoltWriter, sizeOnly, type BoltLayout, type LazyValue, type PageSink, type Row } from '../bbolt/writer.js';
import {
  BUCKET,
  ETCD_CLUSTER_VERSION,
  ETCD_STORAGE_VERSION,
  META_KEY,
  encodeAlarm,
  encodeAuthRole,
  encodeAuthUser,
  encodeLease,
  leaseKey,
  revKey,
  u64be,
} from './etcd-schema.js';


export interface EtcdExportInput {
  readonly store: Pick<MvccStore, 'exportRevisions'>;
  /** Raft index and term the state corresponds to (meta consistent_index and term). */
  readonly consistentIndex: number;
  readonly term: number;
  readonly confState: { readonly voters: readonly bigint[]; readonly learners: readonly bigint[] };
  /** The auth state at the same index (node/mvcc/auth-store.ts); none: auth off, revision 1. */
  readonly auth?: AuthStateJSON;
  readonly maybeYield?: () => Promise<void>;
}

export interface EtcdExportResult {
  readonly sizeBytes: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly revisions: number;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function sortedRows(rows: Row[]): Row[] {
  return rows.sort((x, y) => Buffer.compare(x[0], y[0]));
}

const fromB64 = (s: string): Buffer => Buffer.from(s, 'base64');

function authUserRows(auth: AuthStateJSON | undefined): Row[] {
  return sortedRows(
    (auth?.users ?? []).map((u) => [
      Buffer.from(u.name),
      // The store keeps base64 of the bcrypt hash text; etcd keeps the hash text's bytes.
      encodeAuthUser({ name: u.name, password: fromB64(u.password), roles: u.roles, noPassword: u.noPassword }),
    ]),
  );
}

function authRoleRows(auth: AuthStateJSON | undefined): Row[] {
  return sortedRows(
    (auth?.roles ?? []).map((r) => [
      Buffer.from(r.name),
      encodeAuthRole({ name: r.name, perms: r.perms.map((p) => ({ permType: p.permType, key: fromB64(p.key), rangeEnd: fromB64(p.rangeEnd) })) }),
    ]),
  );
}

/** A key bucket row's value, made when its page is (the revision's value read straight into it). */
class KeyRowValue implements LazyValue {
  readonly byteLength: number;
  constructor(private readonly r: PlaceableRevisionRow & { readonly rec: { readonly skey: string } }) {
    this.byteLength = etcdKeyRowValueBytes(r.rec.skey.length, r);
  }
  writeInto(out: Buffer, at: number): void {
    writeEtcdKeyRowValue(out, at, Buffer.from(this.r.rec.skey, 'latin1'), this.r);
  }
}

/**
 * Every bucket into `w`, rows from `exp`. The key bucket's values: 'rows' whole Buffers
 * (etcdKeyRow, as HashKV hashes them), 'size' their lengths only (a sizing pass), 'lazy'
 * KeyRowValues. Returns the key bucket's row count.
 */
async function writeBuckets(w: BoltWriter, exp: RevisionExport, input: EtcdExportInput, mode: 'rows' | 'lazy' | 'size'): Promise<number> {
  const { header } = exp;
  let count = 0;
  const buckets: Array<[string, () => Iterable<Row> | AsyncIterable<Row>]> = [
    [BUCKET.alarm, () => sortedRows(header.alarms.map((a) => [encodeAlarm({ memberId: BigInt(a.memberID), alarm: a.alarm }), Buffer.alloc(0)] as const))],
    [
      BUCKET.auth,
      () => [
        [b('authEnabled'), Buffer.from([input.auth?.enabled ? 1 : 0])],
        [b('authRevision'), u64be(input.auth?.revision ?? 1)],
      ],
    ],
    [BUCKET.authRoles, () => authRoleRows(input.auth)],
    [BUCKET.authUsers, () => authUserRows(input.auth)],
    [BUCKET.cluster, () => [[b('clusterVersion'), b(ETCD_CLUSTER_VERSION)]]],
    [
      BUCKET.key,
      function* () {
        for (const r of exp.revisions()) {
          count++;
          if (mode === 'rows') yield etcdKeyRow(keyBytes(r.rec), r);
          else if (mode === 'size') yield [revKey(r.main, r.sub, r.version === 0), sizeOnly(etcdKeyRowValueBytes(r.rec.skey.length, r))];
          else yield [revKey(r.main, r.sub, r.version === 0), new KeyRowValue(r)];
        }
      },
    ],
    [BUCKET.lease, () => sortedRows(header.leases.map((l) => [leaseKey(BigInt(l.id)), encodeLease({ id: BigInt(l.id), ttl: l.ttl, remainingTtl: l.remainingTtl })] as const))],
    [BUCKET.members, () => []],
    [BUCKET.membersRemoved, () => []],
    [
      BUCKET.meta,
      () => {
        // Go's encoding/json of raftpb.ConfState: uint64 ids as exact JSON numbers (JSON.stringify cannot write a bigint).
        const ids = (xs: readonly bigint[]): string => `[${xs.join(',')}]`;
        const learners = input.confState.learners.length > 0 ? `,"learners":${ids(input.confState.learners)}` : '';
        const confState = `{"voters":${ids(input.confState.voters)}${learners},"auto_leave":false}`;
        const rows: Row[] = [
          [b(META_KEY.confState), b(confState)],
          [b(META_KEY.consistentIndex), u64be(input.consistentIndex)],
          [b(META_KEY.storageVersion), b(ETCD_STORAGE_VERSION)],
          [b(META_KEY.term), u64be(input.term)],
        ];
        if (header.compactRev > 0) {
          rows.push([b(META_KEY.finishedCompactRev), revKey(header.compactRev, 0, false)]);
          rows.push([b(META_KEY.scheduledCompactRev), revKey(header.compactRev, 0, false)]);
        }
        return sortedRows(rows);
      },
    ],
  ];
  buckets.sort((x, y) => Buffer.compare(b(x[0]), b(y[0])));
  for (const [name, rows] of buckets) await w.bucket(b(name), rows());
  return count;
}

/** The whole database to a positioned sink in one pass (the meta pages written last). */
export async function writeEtcdDb(sink: PageSink, input: EtcdExportInput): Promise<EtcdExportResult> {
  const exp = input.store.exportRevisions();
  try {
    const w = new BoltWriter(sink, { maybeYield: input.maybeYield });
    const count = await writeBuckets(w, exp, input, 'rows');
    const { sizeBytes } = await w.finish();
    return { sizeBytes, revision: exp.header.rev, compactRevision: exp.header.compactRev, revisions: count };
  } finally {
    exp.release();
  }
}

/** A database sized and ready to be written front to back: planEtcdDb. */
export interface EtcdDbPlan extends EtcdExportResult {
  readonly layout: BoltLayout;
  /**
   * Writes the database to `sink` in ascending positions, the meta pages first; the same bytes
   * writeEtcdDb gives. Once at most; then release().
   */
  write(sink: PageSink): Promise<void>;
  /** Lets compaction go on; call it once the plan is written or abandoned (idempotent). */
  release(): void;
}

/**
 * Sizes the database (a pass over the rows reading no value), holding the store's export (its
 * history pinned) until release(): then write() streams it with the meta pages first.
 */
export async function planEtcdDb(input: EtcdExportInput): Promise<EtcdDbPlan> {
  const exp = input.store.exportRevisions();
  try {
    const sizer = new BoltWriter(undefined, { maybeYield: input.maybeYield });
    const count = await writeBuckets(sizer, exp, input, 'size');
    const layout = await sizer.finish();
    let written = false;
    return {
      layout,
      sizeBytes: layout.sizeBytes,
      revision: exp.header.rev,
      compactRevision: exp.header.compactRev,
      revisions: count,
      async write(sink: PageSink): Promise<void> {
        if (written) throw new Error('etcd export: a plan is written once');
        written = true;
        const w = new BoltWriter(sink, { maybeYield: input.maybeYield, layout });
        await writeBuckets(w, exp, input, 'lazy');
        await w.finish();
      },
      release: () => exp.release(),
    };
  } catch (err) {
    exp.release();
    throw err;
  }
}
