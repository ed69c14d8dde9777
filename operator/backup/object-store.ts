// Where backups live, as the backup code needs it: put a file, look at an object, read it (whole
// or its tail), list a folder, delete. Two implementations: S3ObjectStore (any S3-compatible server)
// and DirObjectStore (a mounted folder, e.g. a PVC). Failures are BackupStoreErrors whose reason
// is what a condition and an Event say.
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  sizeBytes: number;
  lastModifiedMs: number;
}

export interface ObjectHead {
  sizeBytes: number;
  /** User metadata written with put (S3: x-amz-meta-*), lower-case keys. */
  metadata: Record<string, string>;
}

export interface ObjectStore {
  /** A URL-like name for status and messages: s3://bucket/key, file:///dir/key. */
  locationOf(key: string): string;
  put(key: string, file: string, sizeBytes: number, metadata: Record<string, string>): Promise<void>;
  /** null when the object does not exist. */
  head(key: string): Promise<ObjectHead | null>;
  /** The object's bytes from `start` (inclusive) to the end. Fails with NotFound when it does not exist. */
  read(key: string, start?: number): Promise<Readable>;
  list(prefix: string): Promise<StoredObject[]>;
  delete(keys: readonly string[]): Promise<void>;
}

export type BackupStoreErrorReason =
  /** Credentials refused (wrong key, bad signature, no permission). */
  | 'AccessDenied'
  | 'NoSuchBucket'
  /** Connection refused, DNS, timeout: the endpoint did not answer. */
  | 'Unreachable'
  | 'NotFound'
  | 'StoreError';

export class BackupStoreError extends Error {
  override readonly name = 'BackupStoreError';
  constructor(
    readonly reason: BackupStoreErrorReason,
    message: string,
  ) {
    super(message);
  }
}
