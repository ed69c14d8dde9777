// A snapshot on local disk, on its way to or from the object store: written from a stream while
// its sha256 is computed, then checked the way `tsetcd snapshot restore` and etcdutl check it
// (512·n + 32 bytes, the last 32 the sha256 of the rest) and opened as etcd's bbolt database to
// read its revision. A file that fails is never uploaded and never restored.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BoltReader, fileSource } from '../../node/bbolt/reader.js';
import { readEtcdDb, verifySnapshotFile } from '../../node/runtime/etcd-snapshot-import.js';

export const ETCD_SHA256_BYTES = 32;

export class SnapshotCorruptError extends Error {
  override readonly name = 'SnapshotCorruptError';
}

export interface CheckedSnapshot {
  path: string;
  sizeBytes: number;
  /** sha256 of the whole file (what we record with the object), hex. */
  sha256: string;
  /** The trailer etcd appends: sha256 of the database bytes, hex. */
  etcdSha256: string;
  /** The store's current revision in the snapshot. */
  revision: number;
}

/** Writes the stream to `path`, then checks it. The file is removed when anything fails. */
export async function writeCheckedSnapshot(source: AsyncIterable<Buffer> | Readable, path: string): Promise<CheckedSnapshot> {
  const whole = createHash('sha256');
  let sizeBytes = 0;
  let tail = Buffer.alloc(0);
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      whole.update(chunk);
      sizeBytes += chunk.length;
      tail = Buffer.concat([tail, chunk]).subarray(-ETCD_SHA256_BYTES);
      done(null, chunk);
    },
  });
  try {
    await pipeline(source instanceof Readable ? source : Readable.from(source), tap, createWriteStream(path));
    const revision = await checkSnapshotFile(path);
    return { path, sizeBytes, sha256: whole.digest('hex'), etcdSha256: tail.toString('hex'), revision };
  } catch (err: unknown) {
    await rm(path, { force: true });
    throw err;
  }
}

/** etcd's trailing sha256 and a readable etcd database; returns its revision. */
export async function checkSnapshotFile(path: string): Promise<number> {
  let dbBytes: number;
  try {
    ({ dbBytes } = await verifySnapshotFile(path));
  } catch (err: unknown) {
    throw new SnapshotCorruptError(err instanceof Error ? err.message : String(err));
  }
  const src = fileSource(path, dbBytes);
  let db: BoltReader | null = null;
  try {
    db = BoltReader.open(src);
    return readEtcdDb(db, 0).header.rev;
  } catch (err: unknown) {
    throw new SnapshotCorruptError(`snapshot file ${path}: not a readable etcd database: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (db !== null) db.close();
    else src.close?.();
  }
}
