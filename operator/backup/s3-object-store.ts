// ObjectStore on any S3-compatible server, through AWS's own client (@aws-sdk/client-s3): the
// reference implementation of the protocol (signing, path-style addressing, error codes), kept
// current by AWS, and it speaks to MinIO, SeaweedFS, Ceph RGW and the cloud alike. Set for third-party
// servers: checksums only where the API requires them (the SDK's default CRC trailers are not
// understood everywhere), two attempts, bounded connect and idle timeouts.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { BackupStoreError, type ObjectHead, type ObjectStore, type StoredObject } from './object-store.js';

export interface S3Location {
  endpoint: string;
  bucket: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyID: string;
  secretAccessKey: string;
  /** Connect and idle bound of one request. */
  timeoutMs?: number;
}

const DELETE_BATCH = 1000;
const PUT_ATTEMPTS = 2;

export class S3ObjectStore implements ObjectStore {
  private readonly s3: S3Client;

  constructor(private readonly loc: S3Location) {
    const timeoutMs = loc.timeoutMs ?? 15_000;
    this.s3 = new S3Client({
      endpoint: loc.endpoint,
      region: loc.region,
      forcePathStyle: loc.forcePathStyle,
      credentials: { accessKeyId: loc.accessKeyID, secretAccessKey: loc.secretAccessKey },
      maxAttempts: 2,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
    });
  }

  locationOf(key: string): string {
    return `s3://${this.loc.bucket}/${key}`;
  }

  async put(key: string, file: string, sizeBytes: number, metadata: Record<string, string>): Promise<void> {
    // The SDK cannot retry a streamed body; a server error or a dropped connection gets one more
    // try here, from a fresh read of the file. Refusals (credentials, bucket) are final.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.call(key, () =>
          this.s3.send(new PutObjectCommand({ Bucket: this.loc.bucket, Key: key, Body: createReadStream(file), ContentLength: sizeBytes, ContentType: 'application/octet-stream', Metadata: metadata })),
        );
        return;
      } catch (err: unknown) {
        const transient = err instanceof BackupStoreError && (err.reason === 'Unreachable' || (err.reason === 'StoreError' && / \(HTTP 5\d\d\)$/.test(err.message)));
        if (attempt >= PUT_ATTEMPTS || !transient) throw err;
      }
    }
  }

  async head(key: string): Promise<ObjectHead | null> {
    try {
      const r = await this.call(key, () => this.s3.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key: key })));
      return { sizeBytes: r.ContentLength ?? 0, metadata: lowerKeys(r.Metadata ?? {}) };
    } catch (err: unknown) {
      if (err instanceof BackupStoreError && err.reason === 'NotFound') return null;
      throw err;
    }
  }

  async read(key: string, start = 0): Promise<Readable> {
    const r = await this.call(key, () => this.s3.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: key, ...(start > 0 ? { Range: `bytes=${start}-` } : {}) })));
    return r.Body as Readable;
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const r = await this.call(prefix, () => this.s3.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, ContinuationToken: token })));
      for (const o of r.Contents ?? []) {
        if (o.Key !== undefined) out.push({ key: o.Key, sizeBytes: o.Size ?? 0, lastModifiedMs: o.LastModified?.getTime() ?? 0 });
      }
      token = r.IsTruncated === true ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const r = await this.call(batch[0] ?? '', () => this.s3.send(new DeleteObjectsCommand({ Bucket: this.loc.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })));
      const failed = r.Errors ?? [];
      if (failed.length > 0) throw new BackupStoreError('StoreError', `deleting ${failed.length} object(s) failed, first ${failed[0]?.Key}: ${failed[0]?.Code} ${failed[0]?.Message}`);
    }
  }

  destroy(): void {
    this.s3.destroy();
  }

  private async call<T>(key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err: unknown) {
      throw this.typed(key, err);
    }
  }

  private typed(key: string, err: unknown): BackupStoreError {
    const where = `${this.loc.endpoint} ${this.locationOf(key)}`;
    if (err instanceof S3ServiceException) {
      const status = err.$metadata.httpStatusCode ?? 0;
      const text = `${where}: ${err.name}${err.message && err.message !== err.name ? `: ${err.message}` : ''} (HTTP ${status})`;
      if (err.name === 'NoSuchBucket') return new BackupStoreError('NoSuchBucket', text);
      if (err.name === 'NoSuchKey' || err.name === 'NotFound' || (status === 404 && err.name !== 'NoSuchBucket')) return new BackupStoreError('NotFound', text);
      if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden'].includes(err.name) || status === 403) return new BackupStoreError('AccessDenied', text);
      return new BackupStoreError('StoreError', text);
    }
    const e = err as { code?: unknown; name?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
    const message = typeof e.message === 'string' ? e.message : String(err);
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN|TimeoutError|RequestTimeout/.test(`${code} ${message}`)) {
      return new BackupStoreError('Unreachable', `${where}: ${code}: ${message}`);
    }
    return new BackupStoreError('StoreError', `${where}: ${code}: ${message}`);
  }
}

function lowerKeys(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
}
