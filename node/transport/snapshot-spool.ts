// The receiving end of a streamed snapshot: chunks go to a spool file as they arrive, with the
// socket paused while too many bytes wait for the disk, so a multi-GiB snapshot holds at most
// `maxBufferedBytes` in memory. finish() checks the byte count and the sender's CRC-32C before
// the data is handed on; anything else (a short transfer, a bad checksum, a dropped connection)
// removes the file and hands nothing on.

import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { crc32c, crc32cUpdate } from '../lib/crc32c.js';
import { fileChunks, type SnapshotBody } from './snapshot-body.js';

const SPOOL_PREFIX = 'snap-recv-';
const SPOOL_SUFFIX = '.tmp';

export class SnapshotSpoolError extends Error {
  readonly code = 'ErrSnapshotSpool';
}

/** Removes spool files a previous run left behind (a crash mid-transfer). */
export async function clearSpoolDir(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const gone: string[] = [];
  for (const n of await readdir(dir)) {
    if (n.startsWith(SPOOL_PREFIX) && n.endsWith(SPOOL_SUFFIX)) {
      await unlink(`${dir}/${n}`).catch(() => undefined);
      gone.push(n);
    }
  }
  return gone;
}

let spoolCounter = 0;

export class SnapshotSpool {
  private fh: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private written = 0;
  private buffered = 0;
  private crc = crc32c(new Uint8Array(0));
  private done = false;
  readonly path: string;

  private constructor(
    dir: string,
    tag: string,
    readonly expectedBytes: number,
    private readonly maxBufferedBytes: number,
    private readonly readChunkBytes: number,
    /** Called with true when the socket should pause (too much waiting for the disk), false to resume. */
    private readonly backpressure: (pause: boolean) => void,
  ) {
    this.path = `${dir}/${SPOOL_PREFIX}${tag}-${process.pid}-${++spoolCounter}${SPOOL_SUFFIX}`;
  }

  static create(
    dir: string,
    tag: string,
    expectedBytes: number,
    opts: { maxBufferedBytes: number; readChunkBytes: number; backpressure: (pause: boolean) => void },
  ): SnapshotSpool {
    const s = new SnapshotSpool(dir, tag, expectedBytes, opts.maxBufferedBytes, opts.readChunkBytes, opts.backpressure);
    s.chain = mkdir(dir, { recursive: true })
      .then(() => open(s.path, 'wx', 0o600))
      .then((fh) => {
        s.fh = fh;
      })
      .catch((err: unknown) => {
        s.failure = err;
      });
    return s;
  }

  /** Queues one chunk (the caller may reuse nothing: the bytes are written as given). */
  write(chunk: Uint8Array): void {
    if (this.done) return;
    this.crc = crc32cUpdate(this.crc, chunk);
    const pos = this.written;
    this.written += chunk.byteLength;
    if (this.written > this.expectedBytes) {
      this.failure ??= new SnapshotSpoolError(`snapshot transfer sent more than the ${this.expectedBytes} bytes it announced`);
      return;
    }
    this.buffered += chunk.byteLength;
    if (this.buffered > this.maxBufferedBytes) this.backpressure(true);
    this.chain = this.chain.then(async () => {
      if (this.failure === undefined && this.fh) {
        try {
          await this.fh.write(chunk, 0, chunk.byteLength, pos);
        } catch (err) {
          this.failure = err;
        }
      }
      const was = this.buffered;
      this.buffered -= chunk.byteLength;
      if (was > this.maxBufferedBytes && this.buffered <= this.maxBufferedBytes) this.backpressure(false);
    });
  }

  /**
   * The sender said the data is complete (with its CRC-32C, if it sent one). Resolves the body to
   * hand on; rejects (after removing the file) if the bytes or the checksum do not match.
   */
  async finish(senderCrc: number | undefined): Promise<SnapshotBody> {
    this.done = true;
    await this.chain;
    try {
      if (this.failure !== undefined) throw this.failure;
      if (this.written !== this.expectedBytes) throw new SnapshotSpoolError(`snapshot transfer ended after ${this.written} of ${this.expectedBytes} bytes`);
      if (senderCrc !== undefined && senderCrc !== this.crc) throw new SnapshotSpoolError('snapshot transfer checksum mismatch');
      await this.fh?.close();
      this.fh = undefined;
    } catch (err) {
      await this.abort();
      throw err;
    }
    const path = this.path;
    const bytes = this.written;
    const chunkBytes = this.readChunkBytes;
    let released = false;
    return {
      bytes,
      chunks: () => fileChunks(path, bytes, chunkBytes),
      release: async () => {
        if (released) return;
        released = true;
        await unlink(path).catch(() => undefined);
      },
    };
  }

  /** The transfer broke off: drop the file. */
  async abort(): Promise<void> {
    this.done = true;
    await this.chain;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await unlink(this.path).catch(() => undefined);
  }
}
