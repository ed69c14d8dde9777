// Where the store keeps the bytes of values (docs/design-notes.md, "Values out of the heap").
//
// The MVCC state machine keeps keys, revisions and the index in memory and hands every value
// to a ValueStore, keeping only the reference it gets back. Two implementations:
// - InHeapValues (here): the reference IS the bytes. Unit tests, the simulator, and any store
//   built without a data directory use it; it behaves exactly as the store did before.
// - node/storage/value-log.ts: an append-only file log read through the OS page cache; the
//   reference is the value's offset. Kept across restarts by a member with a data dir: its own
//   raft snapshots may then name offsets instead of carrying the values (snapshot format 2,
//   store.ts snapshotChunks with a footer; the crash argument is in value-log.ts's header).
//
// References never reach hashes or anything replicated: members may hold the same value at
// different offsets (defragment runs on each member at its own time). Only a member's own
// snapshot file names them, and a snapshot sent to a peer carries the values (SnapshotExpander).

/** Opaque to the store: a number (a log offset) or the bytes themselves. */
export type ValueRef = number | Uint8Array;

export interface ValueStore {
  /** Keeps a copy of `bytes` (the caller may reuse them); returns where it is. Non-empty only. */
  append(bytes: Uint8Array): ValueRef;
  /** The bytes at `ref`, `len` long. The result is shared: never mutate it. */
  read(ref: ValueRef, len: number): Uint8Array;
  /** The same bytes written into out at `at`; absent: read() and a copy do. */
  readInto?(ref: ValueRef, len: number, out: Uint8Array, at: number): void;
  /**
   * Whether `ref` lies in the part a running defragment is emptying (relocate it with append).
   * InHeapValues never defragments: always false.
   */
  isOld(ref: ValueRef): boolean;
  /**
   * Bytes the store occupies, dead ones included (file bytes for the log). Absent when dead
   * values are freed at once (the heap): the store's held value bytes are the truth then.
   */
  totalBytes?(): number;
  /**
   * At restart, before any append: restoring a snapshot that names offsets (format 2) hands the
   * footer its trailer carries and the highest offset + length it names. Absent: such a snapshot
   * cannot be restored into this store.
   */
  adopt?(footer: Uint8Array, maxRefEnd: number): void;
}

/** Values kept in the Node heap, the reference being the bytes (an owned copy). */
export class InHeapValues implements ValueStore {
  append(b: Uint8Array): ValueRef {
    return Buffer.from(b);
  }

  read(ref: ValueRef): Uint8Array {
    if (typeof ref === 'number') throw new Error('value-store: a log offset given to the in-heap store');
    return ref;
  }

  isOld(): boolean {
    return false;
  }
}
