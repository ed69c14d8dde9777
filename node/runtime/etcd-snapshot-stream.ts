// The Maintenance/Snapshot stream's bytes: tsetcd's state as an etcd 3.6 bbolt database
// (etcd-snapshot-export.ts), written page by page to a temporary file (in the member's data dir,
// as etcd streams its own db file; not /tmp, which may be memory) and then read back in
// bounded chunks, so neither the export nor the stream holds the whole database in memory.
// The file is removed when the stream ends, fails or is abandoned (the consumer's for-await
// return()s the iterator). The server appends etcd's sha256 (node/server/maintenance-service.ts).

import { mkdtemp, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldImmediate } from 'node:timers/promises';
import type { PageSink } from '../bbolt/writer.js';
import type { SnapshotStream } from '../server/backend.js';
import { writeEtcdDb, type EtcdExportInput } from './etcd-snapshot-export.js';

export const SNAPSHOT_READ_CHUNK_BYTES = 256 * 1024;
const SINK_BATCH_BYTES = 1024 * 1024;

/** Positioned writes, coalescing back-to-back pages into writes of up to SINK_BATCH_BYTES. */
class FilePageSink implements PageSink {
  private parts: Uint8Array[] = [];
  private start = 0;
  private bytes = 0;
  constructor(private readonly fh: FileHandle) {}
  async write(position: number, data: Uint8Array): Promise<void> {
    if (this.bytes > 0 && (position !== this.start + this.bytes || this.bytes >= SINK_BATCH_BYTES)) await this.flush();
    if (this.bytes === 0) this.start = position;
    this.parts.push(data);
    this.bytes += data.byteLength;
  }
  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    let off = 0;
    while (off < buf.byteLength) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.byteLength - off, this.start + off);
      off += bytesWritten;
    }
    this.parts = [];
    this.bytes = 0;
  }
}

const TMP_PREFIX = 'tsetcd-snapshot-';

/** Removes what a stream cut short by a crash left in `dir` (call it before serving). */
export async function removeStaleSnapshotFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(TMP_PREFIX)) await rm(join(dir, n), { recursive: true, force: true });
}

export async function etcdSnapshotStream(input: Omit<EtcdExportInput, 'maybeYield'>, dir: string = tmpdir()): Promise<SnapshotStream> {
  const tmp = await mkdtemp(join(dir, TMP_PREFIX));
  const path = join(tmp, 'db');
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'w+');
    const sink = new FilePageSink(fh);
    const res = await writeEtcdDb(sink, { ...input, maybeYield: () => yieldImmediate() });
    await sink.flush();
    const file = fh;
    fh = undefined;
    async function* chunks(): AsyncIterable<Uint8Array> {
      try {
        for (let pos = 0; pos < res.sizeBytes; ) {
          const buf = Buffer.allocUnsafe(Math.min(SNAPSHOT_READ_CHUNK_BYTES, res.sizeBytes - pos));
          const { bytesRead } = await file.read(buf, 0, buf.byteLength, pos);
          if (bytesRead === 0) throw new Error(`snapshot file ended at ${pos} of ${res.sizeBytes} bytes`);
          pos += bytesRead;
          yield buf.subarray(0, bytesRead);
        }
      } finally {
        await file.close().catch(() => undefined);
        await rm(tmp, { recursive: true, force: true });
      }
    }
    return { revision: res.revision, sizeBytes: res.sizeBytes, chunks: chunks() };
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
