// Raft snapshots whose data stays on disk. Raft's own storage holds a snapshot's metadata with
// empty data; the bytes live in the snapshot file (node/storage) and move as streams of chunks:
//  - taking a snapshot streams the state machine's parts straight into the file (takeSnapshot);
//  - sending one to a follower streams the file (the transport asks snapshotBody), with the values
//    read back from the value log when the file names their offsets (expandStateSnapshot);
//  - receiving one: the transport spools it to a file and hands a body (accept); the Ready loop's
//    saveSnapshot, given the message's empty data, copies that body into the snapshot file and
//    frees the spool (the storage wrapper below), so the Ready loop itself does not change;
//  - applying or restarting reads the snapshot file back (open), chunk by chunk.
// A snapshot whose data is inline (the bootstrap one, or one received whole from a transport
// without a spool) still works as before: non-empty data is used as it is.

import type { Logger } from '../log.js';
import type { Message, Snapshot, SnapshotMetadata } from '../raft/types.js';
import type { MemberStorage, SnapshotReader } from '../storage/types.js';
import type { SnapshotBody } from '../transport/snapshot-body.js';
import { expandStateSnapshot, readStateSnapshotHeader, type SnapshotExpanding } from './state-snapshot-stream.js';

const MAX_HELD = 2;

function key(meta: SnapshotMetadata): string {
  return `${meta.term}/${meta.index}`;
}

async function* once(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

export class StreamedSnapshots {
  /**
   * Snapshots received as bodies, waiting for raft to hand them to the Ready loop, by key. A newer
   * one may arrive while an older one is being saved, so a body goes only once a save used it or
   * a newer one was saved; at most MAX_HELD are kept (raft drops the older ones anyway).
   */
  private readonly received = new Map<string, { index: number; body: SnapshotBody }>();
  /** The member's storage, with saveSnapshot taking a received body in place of empty data. */
  readonly storage: MemberStorage;

  constructor(
    private readonly inner: MemberStorage,
    private readonly log: Logger,
    /** Present when our own snapshot files may name value-log offsets (expanded for a peer in body()). */
    private readonly expanding?: SnapshotExpanding,
  ) {
    this.storage = {
      save: (hs, entries, mustSync) => inner.save(hs, entries, mustSync),
      saveSnapshot: (snap, opts) => this.saveSnapshot(snap, opts),
      releaseTo: (index) => inner.releaseTo(index),
      close: async () => {
        await this.drop();
        await inner.close();
      },
      openSnapshot: (index, term) => this.openFile(index, term),
    };
    if (inner.readEntries && inner.writtenIndex) {
      this.storage.readEntries = inner.readEntries.bind(inner);
      this.storage.writtenIndex = inner.writtenIndex.bind(inner);
    }
  }

  /**
   * A snapshot arrived as a body. Its header (membership) must parse, or it is refused (a member
   * that took it could only stop). Keeps it until its save; a newer one replaces it.
   */
  async accept(m: Message, body: SnapshotBody): Promise<boolean> {
    const meta = m.snapshot?.metadata;
    try {
      if (!meta) throw new Error('no snapshot metadata');
      await readStateSnapshotHeader(body.chunks());
    } catch (err) {
      this.log.error('dropped a snapshot whose data does not decode', { index: meta?.index, err });
      await body.release?.();
      return false;
    }
    const k = key(meta);
    const old = this.received.get(k);
    this.received.set(k, { index: meta.index, body });
    if (old) await old.body.release?.();
    while (this.received.size > MAX_HELD) {
      const oldest = [...this.received.entries()].sort((a, b) => a[1].index - b[1].index)[0]!;
      this.received.delete(oldest[0]);
      await oldest[1].body.release?.();
    }
    return true;
  }

  /** Whether a 'snap' message with empty data has its body here. */
  holds(m: Message): boolean {
    return m.snapshot !== undefined && this.received.has(key(m.snapshot.metadata));
  }

  /** The data of an outgoing snapshot: its file, streamed. Throws when there is none to send. */
  async body(m: Message): Promise<SnapshotBody | undefined> {
    const s = m.snapshot;
    if (!s || s.data.byteLength > 0) return undefined;
    const r = await this.openFile(s.metadata.index, s.metadata.term);
    if (!r) throw new Error(`snapshot ${key(s.metadata)} has no snapshot file to send`);
    const expanded = this.expanding ? await expandStateSnapshot(() => r.chunks(), this.expanding) : undefined;
    return expanded ?? { bytes: r.dataBytes, chunks: () => r.chunks() };
  }

  /** A raft snapshot's data as a stream: inline data as it is, else its durable file. */
  async open(s: Snapshot, recovered?: SnapshotReader): Promise<AsyncIterable<Uint8Array>> {
    if (s.data.byteLength > 0) return once(s.data);
    if (recovered && key(recovered.metadata) === key(s.metadata)) return recovered.chunks();
    const r = await this.openFile(s.metadata.index, s.metadata.term);
    if (!r) throw new Error(`snapshot ${key(s.metadata)} has no snapshot file to read`);
    return r.chunks();
  }

  private async openFile(index: number, term: number): Promise<SnapshotReader | undefined> {
    if (!this.inner.openSnapshot) throw new Error('the storage cannot stream snapshot files');
    return this.inner.openSnapshot(index, term);
  }

  private async saveSnapshot(...[snap, opts]: Parameters<MemberStorage['saveSnapshot']>): Promise<void> {
    const empty = snap.data instanceof Uint8Array && snap.data.byteLength === 0;
    if (!empty) return this.inner.saveSnapshot(snap, opts);
    const k = key(snap.metadata);
    const r = this.received.get(k);
    // Raft hands back only snapshots it was given; one with no bytes and no body would be saved
    // as an empty state: a broken invariant, never written.
    if (!r) throw new Error(`snapshot ${k} has no data to save (neither inline nor received)`);
    try {
      await this.inner.saveSnapshot({ metadata: snap.metadata, data: r.body.chunks() }, opts);
    } finally {
      this.received.delete(k);
      await r.body.release?.();
      for (const [other, held] of [...this.received]) {
        if (held.index > snap.metadata.index) continue;
        this.received.delete(other);
        await held.body.release?.();
      }
    }
  }

  private async drop(): Promise<void> {
    const all = [...this.received.values()];
    this.received.clear();
    for (const r of all) await r.body.release?.();
  }
}
