// One backup, the I/O: ask every member's status, stream Maintenance.Snapshot from the one with the
// highest applied index (plan/backup.ts chooses) into a local file, check it (etcd's sha256, a
// readable database), upload it with its hashes as metadata, and verify what the store now holds
// (HEAD size and recorded sha256, and the stored tail equal to etcd's trailer). An upload that fails
// verification is deleted again; nothing older is touched. Every failure is a BackupError whose
// reason goes into the condition and the Event.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MemberApiError, type MemberApi } from '../members/member-api.js';
import { pickSnapshotMember } from '../plan/backup.js';
import { BackupStoreError, type BackupStoreErrorReason, type ObjectStore } from './object-store.js';
import { ETCD_SHA256_BYTES, SnapshotCorruptError, writeCheckedSnapshot } from './snapshot-file.js';

export type BackupErrorReason = BackupStoreErrorReason | 'NoMemberAvailable' | 'SnapshotFailed' | 'SnapshotCorrupt' | 'VerificationFailed'
  /** The destination (a claim, the scratch folder) is full: ENOSPC. */
  | 'NoSpace';

export class BackupError extends Error {
  override readonly name = 'BackupError';
  constructor(
    readonly reason: BackupErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface BackupRecord {
  key: string;
  location: string;
  sizeBytes: number;
  revision: number;
  sha256: string;
  /** The member the snapshot came from and its applied index then. */
  memberEndpoint: string;
  appliedIndex: number;
}

export interface TakeBackupInput {
  api: MemberApi;
  /** Every member's client endpoint. */
  endpoints: readonly string[];
  store: ObjectStore;
  key: string;
  /** Where the snapshot waits between stream and upload (the operator's emptyDir). */
  tmpDir: string;
  /** No snapshot bytes for this long fails the stream. */
  idleTimeoutMs?: number;
}

/** Metadata keys written with each backup object. */
export const META_SHA256 = 'sha256';
export const META_REVISION = 'revision';

export async function takeBackup(input: TakeBackupInput): Promise<BackupRecord> {
  const { api, store, key } = input;
  const statuses = await Promise.all(input.endpoints.map(async (endpoint) => ({ endpoint, status: await api.status(endpoint).catch(() => null) })));
  const pick = pickSnapshotMember(statuses);
  if (pick === null) throw new BackupError('NoMemberAvailable', `no voting member answered Maintenance.Status (asked ${input.endpoints.join(', ')})`);

  const tmp = join(input.tmpDir, `snapshot-${randomBytes(6).toString('hex')}.db.part`);
  try {
    let snap;
    try {
      snap = await writeCheckedSnapshot(api.snapshot(pick.endpoint, input.idleTimeoutMs ?? 30_000), tmp);
    } catch (err: unknown) {
      if (err instanceof SnapshotCorruptError) throw new BackupError('SnapshotCorrupt', `the snapshot from ${pick.endpoint} failed its check, not uploaded: ${err.message}`);
      if (isNoSpace(err)) throw new BackupError('NoSpace', `no space left for the snapshot from ${pick.endpoint} in ${input.tmpDir} (it was removed again): ${(err as Error).message}`);
      const why = err instanceof MemberApiError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
      throw new BackupError('SnapshotFailed', `Maintenance.Snapshot from ${pick.endpoint}: ${why}`);
    }
    await storeCall(() => store.put(key, tmp, snap.sizeBytes, { [META_SHA256]: snap.sha256, [META_REVISION]: String(snap.revision) }));
    const verdict = await verifyUpload(store, key, snap.sizeBytes, snap.sha256, snap.etcdSha256);
    if (verdict !== null) {
      await store.delete([key]).catch(() => {});
      throw new BackupError('VerificationFailed', `${store.locationOf(key)} after upload: ${verdict}; the object was deleted`);
    }
    return { key, location: store.locationOf(key), sizeBytes: snap.sizeBytes, revision: snap.revision, sha256: snap.sha256, memberEndpoint: pick.endpoint, appliedIndex: pick.appliedIndex };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** null when the stored object is what was uploaded; otherwise what is wrong. */
async function verifyUpload(store: ObjectStore, key: string, sizeBytes: number, sha256: string, etcdSha256: string): Promise<string | null> {
  const head = await storeCall(() => store.head(key));
  if (head === null) return 'the object is not there';
  if (head.sizeBytes !== sizeBytes) return `size ${head.sizeBytes}, uploaded ${sizeBytes}`;
  if (head.metadata[META_SHA256] !== sha256) return `recorded sha256 ${head.metadata[META_SHA256] ?? '(none)'}, uploaded ${sha256}`;
  const tail = await storeCall(async () => {
    const chunks: Buffer[] = [];
    for await (const c of await store.read(key, sizeBytes - ETCD_SHA256_BYTES)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  });
  if (tail.toString('hex') !== etcdSha256) return `stored trailer ${tail.toString('hex')} is not etcd's sha256 ${etcdSha256}`;
  return null;
}

export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err: unknown) {
    if (err instanceof BackupStoreError) throw new BackupError(err.reason, err.message);
    if (isNoSpace(err)) throw new BackupError('NoSpace', `no space left on the destination: ${(err as Error).message}`);
    throw err;
  }
}

function isNoSpace(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOSPC';
}
