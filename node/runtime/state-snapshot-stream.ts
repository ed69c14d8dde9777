// Reading a state snapshot (state-snapshot.ts's format) from a stream of chunks of any size: a
// snapshot file or a peer's transfer, never one Buffer of the whole state. The state machine's
// own chunks come out whole, one at a time (each is as large as the store wrote it, ~1 MiB).

import type { StateMachine } from './state-machine.js';
import { parseStateSnapshotHeader, StateSnapshotError, stateSnapshotHeaderLength, type MembershipJSON } from './state-snapshot.js';

/** Pulls exact byte counts out of an async iterable of arbitrary chunks. */
class ByteStream {
  private readonly it: AsyncIterator<Uint8Array>;
  private head: Uint8Array = new Uint8Array(0);
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Whether any byte is left. */
  async more(): Promise<boolean> {
    while (this.head.length === 0 && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.head = r.value;
    }
    return this.head.length > 0;
  }

  /** Exactly n bytes (a view when they sit in one source chunk), or throws at a premature end. */
  async take(n: number, what: string): Promise<Uint8Array> {
    if (!(await this.more()) && n > 0) throw new StateSnapshotError(`truncated state snapshot ${what}`);
    if (this.head.length >= n) {
      const out = this.head.subarray(0, n);
      this.head = this.head.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      if (!(await this.more())) throw new StateSnapshotError(`truncated state snapshot ${what}`);
      const k = Math.min(n - off, this.head.length);
      out.set(this.head.subarray(0, k), off);
      this.head = this.head.subarray(k);
      off += k;
    }
    return out;
  }

  /** Stops reading the source (closes its file). */
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

function u32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
}

/** Reads only the JSON header (membership and auth); the rest of the source is not read. */
export async function readStateSnapshotHeader(source: AsyncIterable<Uint8Array>): Promise<MembershipJSON> {
  const bs = new ByteStream(source);
  try {
    const jlen = stateSnapshotHeaderLength(await bs.take(8, 'header'));
    return parseStateSnapshotHeader(await bs.take(jlen, 'header'));
  } finally {
    await bs.close();
  }
}

/**
 * Restores a state snapshot from a stream into the state machine, chunk by chunk, awaiting `pace`
 * after each (so a big restore yields to the event loop). The state changes only at the end, once
 * every chunk arrived (beginRestore's finish); a snapshot without chunks (the bootstrap one)
 * leaves the store as it is. Returns the membership and auth header. `checked`: the source is a
 * snapshot file whose checksum was checked whole before, or is checked as it is read (its reader
 * throws before the last chunk, so finish() never runs on bytes that did not check out).
 */
export async function restoreStateSnapshot(
  source: AsyncIterable<Uint8Array>,
  sm: Pick<StateMachine, 'restore' | 'beginRestore'>,
  pace: () => Promise<void>,
  opts: { checked?: boolean } = {},
): Promise<{ membership: MembershipJSON; bytes: number }> {
  const bs = new ByteStream(source);
  try {
    const jlen = stateSnapshotHeaderLength(await bs.take(8, 'header'));
    const membership = parseStateSnapshotHeader(await bs.take(jlen, 'header'));
    let bytes = 8 + jlen;
    let restore: ReturnType<NonNullable<typeof sm.beginRestore>> | undefined;
    const collected: Uint8Array[] = [];
    let chunks = 0;
    while (await bs.more()) {
      const n = u32(await bs.take(4, 'chunk'));
      const c = await bs.take(n, 'chunk');
      bytes += 4 + n;
      chunks++;
      if (sm.beginRestore) (restore ??= sm.beginRestore(opts)).write(c);
      else collected.push(c);
      await pace();
    }
    if (chunks > 0) {
      if (restore) restore.finish();
      else sm.restore(collected);
    }
    return { membership, bytes };
  } finally {
    await bs.close();
  }
}

/** What expandStateSnapshot needs from the state machine. */
export type SnapshotExpanding = Required<Pick<StateMachine, 'snapshotExpander' | 'pinValues'>>;

/**
 * A member's own snapshot file as a peer must get it: with its values (the peer's value log is its
 * own). A file whose store chunks name value offsets (format 2, value-log.ts) is read twice: once to
 * measure (the index only, no value read: the transport sends the length first), then, as the peer
 * pulls it, with each value read from the log; the segments stay on disk while it streams. Returns
 * undefined when the file already carries its values: send it as it is.
 */
export async function expandStateSnapshot(
  open: () => AsyncIterable<Uint8Array>,
  sm: SnapshotExpanding,
): Promise<{ bytes: number; chunks: () => AsyncIterable<Uint8Array> } | undefined> {
  const measure = sm.snapshotExpander(false);
  const bs = new ByteStream(open());
  let bytes: number;
  try {
    const jlen = stateSnapshotHeaderLength(await bs.take(8, 'header'));
    await bs.take(jlen, 'header');
    bytes = 8 + jlen;
    let chunks = 0;
    while (await bs.more()) {
      const c = await bs.take(u32(await bs.take(4, 'chunk')), 'chunk');
      chunks++;
      for (const n of measure.write(c)) bytes += 4 + (n as number);
      if (measure.format === 1) return undefined;
    }
    // No state chunks (the bootstrap snapshot at index 0, as a member that joined from it keeps it):
    // nothing to expand. Refusing it left a leader unable to seed any new member.
    if (chunks === 0) return undefined;
    if (!measure.ended()) throw new StateSnapshotError('state snapshot ended before its trailer');
  } finally {
    await bs.close();
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const unpin = sm.pinValues();
    const src = new ByteStream(open());
    try {
      const head = await src.take(8, 'header');
      yield head;
      yield await src.take(stateSnapshotHeaderLength(head), 'header');
      const exp = sm.snapshotExpander(true);
      while (await src.more()) {
        const c = await src.take(u32(await src.take(4, 'chunk')), 'chunk');
        for (const out of exp.write(c)) {
          const b = out as Uint8Array;
          const len = Buffer.allocUnsafe(4);
          len.writeUInt32LE(b.byteLength, 0);
          yield len;
          yield b;
        }
      }
    } finally {
      await src.close();
      unpin();
    }
  }
  return { bytes, chunks };
}
