// tsetcd's state as an etcd 3.6 backend database (bbolt), the file `etcdctl snapshot save`
// receives from the Maintenance/Snapshot stream: etcd's `etcdutl snapshot status` and
// `snapshot restore` read it, and an etcd started on the restored data dir serves the same
// keys, values, revisions, versions and leases (docs/snapshots.md).
// Every revision the store still holds goes into the `key` bucket in (main, sub) order (the
// survivors of a compaction first, as etcd's compaction keeps them), and the compaction is
// recorded in meta, so history and the current revision carry over. Schema: etcd-schema.ts.
// The database is written page by page to a PageSink (a temporary file for the stream), with
// `maybeYield` awaited every few thousand rows (BoltWriter) so a big store does not stall the event loop.

import type { AuthStateJSON } from '../mvcc/auth-store.js';
import type { MvccStore } from '../mvcc/index.js';
import { keyBytes } from '../mvcc/index.js';
import { etcdKeyRow } from '../mvcc/etcd-kv-encoding.js';
import { BoltWriter, type PageSink, type Row } from '../bbolt/writer.js';
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

export async function writeEtcdDb(sink: PageSink, input: EtcdExportInput): Promise<EtcdExportResult> {
  const { header, revisions } = input.store.exportRevisions();
  const maybeYield = input.maybeYield ?? (async () => undefined);
  const w = new BoltWriter(sink, { maybeYield });
  let count = 0;
  try {
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
          for (const r of revisions) {
            count++;
            yield etcdKeyRow(keyBytes(r.rec), r);
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
    const sizeBytes = await w.finish();
    return { sizeBytes, revision: header.rev, compactRevision: header.compactRev, revisions: count };
  } finally {
    revisions.return();
  }
}
