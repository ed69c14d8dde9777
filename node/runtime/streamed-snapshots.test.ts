import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import type { Message, Snapshot } from '../raft/types.js';
import { SnapshotExpander } from '../mvcc/index.js';
import { MemoryFs, openStorage } from '../storage/index.js';
import { encodeStateSnapshot } from './state-snapshot.js';
import { StreamedSnapshots } from './streamed-snapshots.js';
import type { SnapshotBody } from '../transport/snapshot-body.js';

const cs = { voters: [1n], learners: [] };
const membership = { members: [{ id: 1n, name: 'a', peerUrls: ['http://a:1'], clientUrls: [], isLearner: false }], removed: [] };

function body(data: Uint8Array, released: string[], name: string): SnapshotBody {
  return {
    bytes: data.length,
    async *chunks() {
      for (let off = 0; off < data.length; off += 100) yield data.subarray(off, Math.min(data.length, off + 100));
    },
    release: async () => void released.push(name),
  };
}

function snapMsg(index: number): Message {
  return { type: 'snap', from: 2n, to: 1n, term: 1, logTerm: 0, index: 0, commit: 0, reject: false, rejectHint: 0, entries: [], snapshot: { data: new Uint8Array(0), metadata: { index, term: 1, confState: cs } } };
}

async function readAll(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe('streamed snapshots (received bodies until their save)', () => {
  it('a newer snapshot arriving while an older one waits to be saved does not take its body; each save copies its own, then frees it', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage('/m', { fs, readChunkBytes: 64 });
    await storage.save(undefined, [{ index: 1, term: 1, type: 'normal', data: new Uint8Array(1) }], true);
    const s = new StreamedSnapshots(storage, silentLogger);
    const released: string[] = [];
    const a = encodeStateSnapshot(membership, [Buffer.alloc(700, 1)]);
    const b = encodeStateSnapshot(membership, [Buffer.alloc(900, 2)]);
    expect(await s.accept(snapMsg(10), body(a, released, 'a'))).toBe(true);
    expect(await s.accept(snapMsg(20), body(b, released, 'b'))).toBe(true);
    expect(s.holds(snapMsg(10)) && s.holds(snapMsg(20))).toBe(true);
    expect(released).toEqual([]);
    const snapA: Snapshot = snapMsg(10).snapshot!;
    await s.storage.saveSnapshot(snapA, { fromLeader: true });
    expect(released).toEqual(['a']);
    expect((await readAll(await s.open(snapA))).equals(a)).toBe(true); // from the snapshot file
    await s.storage.saveSnapshot(snapMsg(20).snapshot!, { fromLeader: true });
    expect(released).toEqual(['a', 'b']);
    expect((await readAll(await s.open(snapMsg(20).snapshot!))).equals(b)).toBe(true);
    // The leader's side: the body it sends is the file, streamed.
    const out = (await s.body({ ...snapMsg(20), from: 1n, to: 2n }))!;
    expect(out.bytes).toBe(b.length);
    expect((await readAll(out.chunks())).equals(b)).toBe(true);
    // Raft can only hand back what it was given: an empty snapshot with no body is never written.
    await expect(s.storage.saveSnapshot(snapMsg(30).snapshot!)).rejects.toThrow(/no data to save/);
    await s.storage.close();
  });

  it('a snapshot without state chunks (the bootstrap one, received at index 0) is sent on as it is by a member that expands value offsets', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage('/m', { fs, readChunkBytes: 64 });
    const expanding = { snapshotExpander: () => new SnapshotExpander(undefined, 1 << 20), pinValues: () => () => undefined };
    const s = new StreamedSnapshots(storage, silentLogger, expanding);
    const bootstrap = encodeStateSnapshot(membership, []);
    expect(await s.accept(snapMsg(0), body(bootstrap, [], 'boot'))).toBe(true);
    await s.storage.saveSnapshot(snapMsg(0).snapshot!, { fromLeader: true });
    // Later this member leads, and a new learner needs that snapshot.
    const out = (await s.body({ ...snapMsg(0), from: 1n, to: 2n }))!;
    expect(out.bytes).toBe(bootstrap.length);
    expect((await readAll(out.chunks())).equals(bootstrap)).toBe(true);
    await s.storage.close();
  });

  it('a body whose header does not decode is refused and freed; at most two are held, the oldest freed first', async () => {
    const { storage } = await openStorage('/m', { fs: new MemoryFs() });
    const s = new StreamedSnapshots(storage, silentLogger);
    const released: string[] = [];
    expect(await s.accept(snapMsg(5), body(Buffer.from('not a snapshot at all'), released, 'bad'))).toBe(false);
    expect(released).toEqual(['bad']);
    const good = encodeStateSnapshot(membership, []);
    for (const i of [1, 2, 3]) await s.accept(snapMsg(i * 10), body(good, released, `s${i}`));
    expect(released).toEqual(['bad', 's1']);
    expect([10, 20, 30].map((i) => s.holds(snapMsg(i)))).toEqual([false, true, true]);
    await s.storage.close();
    expect(released).toEqual(['bad', 's1', 's2', 's3']);
  });
});
