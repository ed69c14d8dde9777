// The Maintenance/Snapshot stream's bytes: tsetcd's state as an etcd 3.6 bbolt database
// (etcd-snapshot-export.ts), made front to back as the client takes it. The export first sizes
// every page from the keys' and values' lengths (reading no value), so the meta pages at the
// front, which name the root page and the page count, are known before any page is built; then
// the pages are built straight into chunks of SNAPSHOT_STREAM_CHUNK_BYTES (each value read from
// the value log into its page) and handed to the server, at most QUEUED_CHUNKS of them ahead of
// it, each with SNAPSHOT_STREAM_HEADROOM free bytes before it where the server writes its message
// header. No temporary file, no second read, no copy per page. Memory: those chunks plus the export's
// own (one branch key per leaf page). The history stays pinned from the sizing pass until the
// stream ends, fails or is abandoned (the consumer's for-await return()s the iterator). The server
// appends etcd's sha256 (node/server/maintenance-service.ts).

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldImmediate } from 'node:timers/promises';
import type { PageSink } from '../bbolt/writer.js';
import type { SnapshotStream } from '../server/backend.js';
import { planEtcdDb, type EtcdDbPlan, type EtcdExportInput } from './etcd-snapshot-export.js';

/** The stream's chunks are this long (a page image longer than that gets a chunk of its own). */
export const SNAPSHOT_STREAM_CHUNK_BYTES = 1 << 20;
/** Bytes left free before each chunk for the server's message header (SnapshotStream.headroom). */
export const SNAPSHOT_STREAM_HEADROOM = 32;
/** Chunks made and not yet taken by the server, at most. */
const QUEUED_CHUNKS = 2;
/** The writer lets the event loop run after this many bytes even when the server never waits. */
const YIELD_BYTES = 4 << 20;

class StreamAbandoned extends Error {}

/**
 * Pages, in ascending positions, into chunks handed to a consumer: an async iterator with a
 * bounded queue (the writer waits in write() while QUEUED_CHUNKS are waiting).
 */
class ChunkQueue implements PageSink, AsyncIterableIterator<Uint8Array> {
  private chunk: Buffer = Buffer.allocUnsafe(0);
  /** Bytes of `chunk` handed out by alloc() (filled or being filled). */
  private used = 0;
  private lastAlloc: Buffer | undefined;
  /** The file position the next page must have. */
  private expected = 0;
  private readonly queue: Buffer[] = [];
  private sinceYield = 0;
  private done = false;
  private failure: unknown;
  private gone = false;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly start: () => void) {}

  // ---- the writer's side (PageSink)

  alloc(bytes: number): Buffer {
    if (this.used + bytes > this.chunk.length) {
      this.seal();
      this.chunk = Buffer.allocUnsafe(SNAPSHOT_STREAM_HEADROOM + Math.max(SNAPSHOT_STREAM_CHUNK_BYTES, bytes));
      this.used = SNAPSHOT_STREAM_HEADROOM;
    }
    const out = this.chunk.subarray(this.used, this.used + bytes);
    this.used += bytes;
    this.lastAlloc = out;
    return out;
  }

  async write(position: number, data: Buffer): Promise<void> {
    if (this.gone) throw new StreamAbandoned('snapshot stream abandoned');
    if (position !== this.expected) throw new Error(`snapshot stream: a page at ${position}, expected one at ${this.expected}`);
    this.expected += data.byteLength;
    // alloc() gave `data` (the writer built the page in the chunk); anything else is copied in.
    if (data !== this.lastAlloc) this.alloc(data.byteLength).set(data);
    this.lastAlloc = undefined;
    if (this.used === this.chunk.length) this.seal();
    while (this.queue.length > QUEUED_CHUNKS && !this.gone) await new Promise<void>((r) => (this.wakeProducer = r));
    if (this.gone) throw new StreamAbandoned('snapshot stream abandoned');
    if (this.sinceYield >= YIELD_BYTES) {
      this.sinceYield = 0;
      await yieldImmediate();
    }
  }

  /** The writer is done (err: it failed); what is queued still goes out. */
  end(err?: unknown): void {
    if (err === undefined) this.seal();
    else this.failure = err;
    this.done = true;
    this.wake();
  }

  private seal(): void {
    if (this.used > SNAPSHOT_STREAM_HEADROOM) {
      this.queue.push(this.chunk.subarray(SNAPSHOT_STREAM_HEADROOM, this.used));
      this.sinceYield += this.used;
      this.wake();
    }
    this.chunk = Buffer.allocUnsafe(0);
    this.used = 0;
  }

  private wake(): void {
    const c = this.wakeConsumer;
    this.wakeConsumer = undefined;
    c?.();
  }

  // ---- the server's side

  [Symbol.asyncIterator](): this {
    return this;
  }

  private started = false;

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (!this.started) {
      this.started = true;
      this.start();
    }
    for (;;) {
      if (this.gone) return { done: true, value: undefined };
      const c = this.queue.shift();
      if (c) {
        const p = this.wakeProducer;
        this.wakeProducer = undefined;
        p?.();
        return { done: false, value: c };
      }
      if (this.done) {
        if (this.failure !== undefined) {
          this.close();
          throw this.failure;
        }
        this.close();
        return { done: true, value: undefined };
      }
      await new Promise<void>((r) => (this.wakeConsumer = r));
    }
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.close();
    return { done: true, value: undefined };
  }

  /** The consumer is gone (or finished): the writer stops at its next write. */
  private close(): void {
    if (this.gone) return;
    this.gone = true;
    this.queue.length = 0;
    const p = this.wakeProducer;
    this.wakeProducer = undefined;
    p?.();
    this.onClose();
  }

  /** Called once, when the stream ends, fails or is abandoned. */
  onClose: () => void = () => undefined;
}

const TMP_PREFIX = 'tsetcd-snapshot-';

/** Removes the temporary snapshot files of older builds' streams cut short by a crash (call it before serving). */
export async function removeStaleSnapshotFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(TMP_PREFIX)) await rm(join(dir, n), { recursive: true, force: true });
}

export async function etcdSnapshotStream(input: Omit<EtcdExportInput, 'maybeYield'>): Promise<SnapshotStream> {
  const plan: EtcdDbPlan = await planEtcdDb({ ...input, maybeYield: () => yieldImmediate() });
  const queue = new ChunkQueue(() => {
    plan
      .write(queue)
      .then(
        () => queue.end(),
        (err: unknown) => queue.end(err instanceof StreamAbandoned ? undefined : err),
      )
      .finally(() => plan.release());
  });
  // Abandoned: the pin goes at once; the writer stops at its next page (and the export's rows
  // refuse to go on once released).
  queue.onClose = () => plan.release();
  return { revision: plan.revision, sizeBytes: plan.sizeBytes, chunks: queue, headroom: SNAPSHOT_STREAM_HEADROOM };
}
