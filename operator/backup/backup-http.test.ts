// The restore source's HTTP, both sides, on loopback: serve-backup over a folder written by
// DirObjectStore, read by HttpObjectStore and checked by fetch-backup.ts as a restore checks it (a real
// snapshot from tsetcd's exporter). Bad input: a missing file, a damaged one, a path out of the folder,
// a write.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpObjectStore, serveBackups } from './backup-http.js';
import { DirObjectStore } from './dir-object-store.js';
import { fetchBackup } from './fetch-backup.js';
import { snapshotBytes } from './testing/snapshot-bytes.js';
import { BackupError, META_SHA256 } from './take-backup.js';
import { createHash } from 'node:crypto';

let root: string;
let server: Server;
let store: HttpObjectStore;
let url: string;
let snap: { bytes: Buffer; revision: number };
const key = 'p/ns/main/on-demand/b1-20261202T080000000Z.db';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'backup-http-'));
  snap = await snapshotBytes([['a', '1'], ['b', '2'], ['a', '3']]);
  const src = join(root, 'src.db');
  writeFileSync(src, snap.bytes);
  await new DirObjectStore(join(root, 'claim')).put(key, src, snap.bytes.length, { [META_SHA256]: createHash('sha256').update(snap.bytes).digest('hex') });
  server = await serveBackups(join(root, 'claim'), 0, '127.0.0.1');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  store = new HttpObjectStore(url, 'pvc://backups/');
});
afterAll(() => {
  server.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the restore source over HTTP', () => {
  it('serves size, recorded sha256 and bytes (whole or from an offset), and a restore check passes through it', async () => {
    const head = await store.head(key);
    expect(head).toEqual({ sizeBytes: snap.bytes.length, metadata: { [META_SHA256]: createHash('sha256').update(snap.bytes).digest('hex') } });
    const tail: Buffer[] = [];
    for await (const c of await store.read(key, snap.bytes.length - 32)) tail.push(c as Buffer);
    expect(Buffer.concat(tail).equals(snap.bytes.subarray(-32))).toBe(true);
    const checked = await fetchBackup(store, key, join(root, 'fetched.db'));
    expect(checked).toMatchObject({ sizeBytes: snap.bytes.length, revision: snap.revision });
    expect(store.locationOf(key)).toBe(`pvc://backups/${key}`);
  });

  it('a missing file is no backup (BackupNotFound in a restore), a damaged one is refused, and nothing writes', async () => {
    expect(await store.head('p/none.db')).toBeNull();
    await expect(fetchBackup(store, 'p/none.db', join(root, 'x.db'))).rejects.toMatchObject({ reason: 'NotFound' });
    const bad = Buffer.from(snap.bytes);
    bad[200] = bad[200]! ^ 1;
    writeFileSync(join(root, 'claim', 'p', 'bad.db'), bad);
    const err = await fetchBackup(store, 'p/bad.db', join(root, 'y.db')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect((err as BackupError).reason).toBe('SnapshotCorrupt');
    // Out of the folder: a ".." path is normalised away, an encoded one refused as a bad key.
    expect((await fetch(`${url}../src.db`)).status).toBe(404);
    expect((await fetch(`${url}..%2Fsrc.db`)).status).toBe(400);
    expect((await fetch(`${url}${key}`, { method: 'PUT', body: 'x' })).status).toBe(405);
    await expect(store.put()).rejects.toThrow(/read-only/);
  });

  it('an endpoint that does not answer is Unreachable', async () => {
    const dead = new HttpObjectStore('http://127.0.0.1:9/', 'pvc://backups/', 2000);
    await expect(dead.head(key)).rejects.toMatchObject({ reason: 'Unreachable' });
  });
});
