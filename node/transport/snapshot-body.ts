// A raft snapshot's data travelling beside its 'snap' message, as a stream of bounded chunks,
// the way etcd sends the db file beside the raft message (rafthttp's snapshot sender): the
// message itself carries metadata only, the data never has to be one Buffer on either side.
//
// The sender asks its handler for the body (a member reads it from its snapshot file, or, as a
// source, any async iterable of chunks: the state machine's own snapshot parts); the receiver
// spools it to a file (snapshot-spool.ts) and hands the handler a body that reads that file back.

import { open } from 'node:fs/promises';
import type { Message } from '../raft/types.js';

export interface SnapshotBody {
  /** Total data bytes; the receiver refuses a transfer that delivers any other count. */
  readonly bytes: number;
  /** The data, in chunks of bounded size; may be iterated again (each pass reads afresh). */
  chunks(): AsyncIterable<Uint8Array>;
  /** Frees what holds the data (the receiver's spool file). Idempotent. */
  release?(): Promise<void>;
}

/** A body over bytes already in memory (a snapshot message whose data is inline). */
export function bodyFromBytes(data: Uint8Array, chunkBytes: number): SnapshotBody {
  return {
    bytes: data.byteLength,
    async *chunks() {
      for (let off = 0; off < data.byteLength; off += chunkBytes) yield data.subarray(off, Math.min(data.byteLength, off + chunkBytes));
    },
  };
}

/** Reads [0, bytes) of a file in chunks of chunkBytes. */
export async function* fileChunks(path: string, bytes: number, chunkBytes: number): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    for (let off = 0; off < bytes; ) {
      const buf = Buffer.allocUnsafe(Math.min(chunkBytes, bytes - off));
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, off);
      if (bytesRead === 0) throw new Error(`snapshot spool file ${path} shrank (at byte ${off} of ${bytes})`);
      off += bytesRead;
      yield bytesRead === buf.byteLength ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** Splits each chunk of `source` into pieces of at most maxBytes. */
export async function* bounded(source: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<Uint8Array> {
  for await (const c of source) {
    if (c.byteLength <= maxBytes) yield c;
    else for (let off = 0; off < c.byteLength; off += maxBytes) yield c.subarray(off, Math.min(c.byteLength, off + maxBytes));
  }
}

/**
 * The 'snap' message with its streamed data gathered inline (undefined body: the message as it was).
 * For in-process transports only (tests, the simulator): the TCP transport streams the body.
 */
export async function withInlineSnapshot(m: Message, body: SnapshotBody | undefined): Promise<Message> {
  if (body === undefined) return m;
  const parts: Uint8Array[] = [];
  for await (const c of body.chunks()) parts.push(c);
  return { ...m, snapshot: { metadata: m.snapshot!.metadata, data: Buffer.concat(parts) } };
}
