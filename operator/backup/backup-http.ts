// A PersistentVolumeClaim's backups over HTTP, read-only: `tsetcd-operator serve-backup` runs in the
// restore source pod (plan/backup-pod.ts) with the claim mounted and serves HEAD and GET of its files
// (DirObjectStore: size, the metadata recorded beside each file, ranges); HttpObjectStore is the
// ObjectStore the operator's restore check and each member's restore init container read it with, so
// fetch-backup.ts checks a claim's file exactly as it checks an S3 object. Nothing here writes.
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DirObjectStore } from './dir-object-store.js';
import { BackupStoreError, type ObjectHead, type ObjectStore, type StoredObject } from './object-store.js';

const META_HEADER = 'x-tsetcd-meta-';

/** Serves `dir` read-only on `port`: GET /healthz, HEAD and GET /<key> (Range: bytes=N- honoured). */
export function serveBackups(dir: string, port: number, host = '0.0.0.0'): Promise<Server> {
  const store = new DirObjectStore(dir);
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/healthz') {
        res.end('ok');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      const key = decodeURIComponent(url.pathname.slice(1));
      const head = await store.head(key);
      if (head === null) {
        res.writeHead(404).end();
        return;
      }
      const start = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1];
      const from = start === undefined ? 0 : Math.min(Number(start), head.sizeBytes);
      const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'content-length': head.sizeBytes - from };
      for (const [k, v] of Object.entries(head.metadata)) headers[`${META_HEADER}${k}`] = v;
      res.writeHead(start === undefined ? 200 : 206, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(await store.read(key, from), res);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(err instanceof BackupStoreError && err.reason === 'StoreError' ? 400 : 500).end(String(err));
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** The read side of a serve-backup server; `location` names the claim in messages (pvc://claim/). */
export class HttpObjectStore implements ObjectStore {
  constructor(
    private readonly baseUrl: string,
    private readonly location: string,
    private readonly timeoutMs = 30_000,
  ) {}

  locationOf(key: string): string {
    return `${this.location}${key}`;
  }

  async head(key: string): Promise<ObjectHead | null> {
    const res = await this.send('HEAD', key, {});
    res.resume();
    if (res.statusCode === 404) return null;
    this.expectOk(res, key);
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (k.startsWith(META_HEADER) && typeof v === 'string') metadata[k.slice(META_HEADER.length)] = v;
    return { sizeBytes: Number(res.headers['content-length']), metadata };
  }

  async read(key: string, start = 0): Promise<Readable> {
    const res = await this.send('GET', key, start > 0 ? { range: `bytes=${start}-` } : {});
    if (res.statusCode === 404) {
      res.resume();
      throw new BackupStoreError('NotFound', `${this.locationOf(key)}: no such file`);
    }
    this.expectOk(res, key);
    return res;
  }

  list(): Promise<StoredObject[]> {
    return Promise.reject(new BackupStoreError('StoreError', 'a restore source is read-only and lists nothing'));
  }

  put(): Promise<void> {
    return Promise.reject(new BackupStoreError('StoreError', 'a restore source is read-only'));
  }

  delete(): Promise<void> {
    return Promise.reject(new BackupStoreError('StoreError', 'a restore source is read-only'));
  }

  private expectOk(res: IncomingMessage, key: string): void {
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      res.resume();
      throw new BackupStoreError('StoreError', `${this.locationOf(key)}: the restore source answered HTTP ${res.statusCode}`);
    }
  }

  private send(method: 'GET' | 'HEAD', key: string, headers: Record<string, string>): Promise<IncomingMessage> {
    const url = new URL(key.split('/').map(encodeURIComponent).join('/'), this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, timeout: this.timeoutMs }, resolve);
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(new BackupStoreError('Unreachable', `restore source ${this.baseUrl}: ${err.message}`)));
      req.end();
    });
  }
}
