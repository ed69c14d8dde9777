// `tsetcd snapshot restore <file> --data-dir ... --name ... --initial-cluster ...`: seeds a new
// member from an etcd snapshot (a bbolt database with etcd's sha256 appended, as
// `etcdctl snapshot save` writes it; tsetcd's own snapshots are the same format). As etcdutl's
// restore: every member of the new cluster restores the same file with the same
// --initial-cluster and --initial-cluster-token, gets a new cluster id, and starts with the
// file's keys, values, revisions, versions, leases and compaction; then `tsetcd` is started with
// the same flags (the data dir wins over --initial-cluster*). See docs/snapshots.md.
// What the data dir gets: the member identity (identity.ts), and a raft snapshot at index 1,
// term 1 whose state is the restored store and the new membership (all voters), with a hard
// state committing it; every member writes the same one, so they agree from the start.
// Lease ids are kept exactly (int64, as etcd's). Alarms name old members and are dropped.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MemberConfig } from '../config.js';
import type { Logger } from '../log.js';
import { BoltReader, fileSource } from '../bbolt/reader.js';
import type { AuthStateJSON } from '../mvcc/auth-store.js';
import { MvccStore, type ExportHeader, type ImportedRev } from '../mvcc/index.js';
import { compareIds } from '../mvcc/lessor.js';
import { openStorage } from '../storage/index.js';
import { hexId } from './ids.js';
import { newClusterIdentity, readIdentity, writeIdentity } from './identity.js';
import { BUCKET, META_KEY, compactRevOf, decodeAuthRole, decodeAuthUser, decodeKeyValue, decodeLease, parseRevKey } from './etcd-schema.js';
import { stateSnapshotParts } from './state-snapshot.js';

export class SnapshotRestoreError extends Error {
  readonly code = 'ErrSnapshotRestore';
}

const SHA256_BYTES = 32;
const RESTORE_CHUNK_BYTES = 1 << 20;

/** Checks etcd's trailing sha256 when the file has one; returns the database's length. */
export async function verifySnapshotFile(path: string, skipHashCheck = false): Promise<{ dbBytes: number; hashChecked: boolean }> {
  const size = (await stat(path)).size;
  if (size % 512 !== SHA256_BYTES) {
    if (!skipHashCheck) throw new SnapshotRestoreError(`snapshot file ${path} has no sha256 trailer (size ${size} is not 512·n + 32); use --skip-hash-check for a copied db file`);
    return { dbBytes: size, hashChecked: false };
  }
  const dbBytes = size - SHA256_BYTES;
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { start: 0, end: dbBytes - 1 })) h.update(c as Buffer);
  const want = Buffer.alloc(SHA256_BYTES);
  const tail = createReadStream(path, { start: dbBytes });
  let off = 0;
  for await (const c of tail) {
    (c as Buffer).copy(want, off);
    off += (c as Buffer).byteLength;
  }
  if (!skipHashCheck && !h.digest().equals(want)) throw new SnapshotRestoreError(`snapshot file ${path}: sha256 mismatch (the file is corrupt or truncated)`);
  return { dbBytes, hashChecked: !skipHashCheck };
}

export interface EtcdDbContents {
  readonly header: ExportHeader;
  /** The key bucket's rows in revision order (consumed once). */
  readonly revisions: Iterable<ImportedRev>;
  readonly droppedAlarms: number;
  readonly storageVersion: string;
  /** The auth buckets: users, roles, the enabled flag and the auth revision. */
  readonly auth: AuthStateJSON;
}

/** etcd's auth buckets as node/mvcc's auth state (passwords stay bcrypt hashes). */
function readAuth(db: BoltReader): AuthStateJSON {
  const enabled = db.get(BUCKET.auth, 'authEnabled');
  const rev = db.get(BUCKET.auth, 'authRevision');
  const b64 = (x: Uint8Array): string => Buffer.from(x).toString('base64');
  return {
    enabled: enabled !== undefined && enabled.byteLength > 0 && enabled[0] === 1,
    revision: rev !== undefined && rev.byteLength === 8 ? Number(Buffer.from(rev).readBigUInt64BE(0)) : 1,
    users: [...db.rows(BUCKET.authUsers)].map(([, v]) => {
      const u = decodeAuthUser(v);
      return { name: u.name, password: b64(u.password), roles: [...u.roles].sort(), noPassword: u.noPassword };
    }),
    roles: [...db.rows(BUCKET.authRoles)].map(([, v]) => {
      const r = decodeAuthRole(v);
      return { name: r.name, perms: r.perms.map((p) => ({ permType: p.permType, key: b64(p.key), rangeEnd: b64(p.rangeEnd) })) };
    }),
  };
}

/** The store's contents of an etcd backend database; `applied` becomes the store's applied index. */
export function readEtcdDb(db: BoltReader, applied: number): EtcdDbContents {
  for (const b of [BUCKET.key, BUCKET.meta]) if (!db.hasBucket(b)) throw new SnapshotRestoreError(`not an etcd database: no "${b}" bucket`);
  const compactRev = Math.max(compactRevOf(db.get(BUCKET.meta, META_KEY.finishedCompactRev)), compactRevOf(db.get(BUCKET.meta, META_KEY.scheduledCompactRev)));
  // Lease ids are kept as they are: etcd's int64s, bigints here.
  const leases = [...db.rows(BUCKET.lease)].map(([, v]) => decodeLease(v)).map((l) => ({ id: l.id, ttl: l.ttl, remainingTtl: l.remainingTtl }));
  leases.sort((a, b) => compareIds(a.id, b.id));
  // The current revision: the newest row in the key bucket (an etcdutl --bump-revision marker
  // row counts too), or the compaction if above it, as etcd's store restore computes it.
  let last = 0;
  for (const [k] of lastRow(db.rows(BUCKET.key))) last = parseRevKey(k).main;
  const rev = Math.max(1, last, compactRev);
  const droppedAlarms = [...db.rows(BUCKET.alarm)].length;
  const revisions = function* (): Generator<ImportedRev> {
    for (const [k, v] of db.rows(BUCKET.key)) {
      if (v.byteLength === 0) continue; // etcdutl's revision bump marker: no key
      const r = parseRevKey(k);
      const kv = decodeKeyValue(v);
      if (r.tombstone) yield { key: kv.key, main: r.main, sub: r.sub, create: 0, version: 0, value: Buffer.alloc(0), lease: 0n };
      else yield { key: kv.key, main: r.main, sub: r.sub, create: kv.createRevision, version: kv.version, value: kv.value, lease: BigInt(kv.lease) };
    }
  };
  const sv = db.get(BUCKET.meta, META_KEY.storageVersion);
  return {
    header: { rev, compactRev, applied, leases, alarms: [] },
    revisions: revisions(),
    droppedAlarms,
    storageVersion: sv ? sv.toString('latin1') : '',
    auth: readAuth(db),
  };
}

function* lastRow<T>(rows: Iterable<T>): Generator<T> {
  let last: T | undefined;
  let any = false;
  for (const r of rows) {
    last = r;
    any = true;
  }
  if (any) yield last as T;
}

export interface RestoreResult {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly revision: number;
  readonly compactRevision: number;
  /** Live keys at the current revision. */
  readonly keys: number;
  readonly hashChecked: boolean;
}

export async function restoreEtcdSnapshot(path: string, cfg: MemberConfig, log: Logger, opts: { skipHashCheck?: boolean } = {}): Promise<RestoreResult> {
  if (await readIdentity(cfg.dataDir)) throw new SnapshotRestoreError(`data dir ${cfg.dataDir} already holds a member; restore into a new one`);
  const { dbBytes, hashChecked } = await verifySnapshotFile(path, opts.skipHashCheck);
  const identity = newClusterIdentity(cfg.name, cfg.initialCluster, cfg.initialClusterToken, (why) => new SnapshotRestoreError(why));
  const members = [...identity.initialMembers];
  const ids = members.map((m) => m.id);

  const index = 1;
  const term = 1;
  const store = new MvccStore();
  const db = BoltReader.open(fileSource(path, dbBytes));
  let contents: EtcdDbContents;
  try {
    contents = readEtcdDb(db, index);
    store.importRevisions(contents.header, contents.revisions);
  } finally {
    db.close();
  }
  if (contents.droppedAlarms > 0) log.warn('alarms of the old cluster are not carried over', { alarms: contents.droppedAlarms });

  const membership = { members, removed: [], auth: contents.auth };
  // Streamed to the snapshot file chunk by chunk: no second copy of the whole state.
  const data = stateSnapshotParts(membership, store.snapshotChunks(RESTORE_CHUNK_BYTES));
  const { storage } = await openStorage(join(cfg.dataDir, 'member'), { logger: log.child('storage') });
  try {
    await storage.saveSnapshot({ metadata: { index, term, confState: { voters: ids, learners: [] } }, data });
    await storage.save({ term, vote: 0n, commit: index }, [], true);
  } finally {
    await storage.close();
  }
  await writeIdentity(cfg.dataDir, identity);
  const result: RestoreResult = {
    memberId: identity.memberId,
    clusterId: identity.clusterId,
    revision: store.currentRevision(),
    compactRevision: store.compactRevision(),
    keys: store.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]), countOnly: true }).count,
    hashChecked,
  };
  log.info('restored snapshot', { path, dataDir: cfg.dataDir, storageVersion: contents.storageVersion, ...result, memberId: hexId(result.memberId), clusterId: hexId(result.clusterId) });
  return result;
}
