// Child program for the SIGKILL crash test (crash.test.ts). It opens storage in a real directory,
// then appends entries as fast as the disk allows with several saves in flight (group commit),
// and prints "ACK <lastIndex> <commit>" on stdout after each save resolves, i.e. once durable.
// Every so often it saves a snapshot of an acknowledged index and releases the WAL before it.
// Odd seeds write through piecewiseFs (below), so kills often tear a record mid-write.
// The parent kills it with SIGKILL at a random moment and checks what survives.
// Usage: node --import tsx test/storage/crash-child.ts <dir> <seed>

import { openStorage } from '../../node/storage/storage.js';
import { nodeFs } from '../../node/storage/node-fs.js';
import type { WalFs } from '../../node/storage/fs.js';
import type { Entry } from '../../node/raft/types.js';
import { TestRng, payload } from './helpers.js';
import { CHILD_SEGMENT_SIZE_BYTES, childEntrySize, childSnapshotData } from './child-shared.js';

/**
 * The real disk, but every write goes out in 4 KiB syscalls, one per event-loop turn: a record
 * spanning many pages is then often only partly written when SIGKILL lands, as a kill during a
 * large write(2) can leave it (the kernel stops between pages on a fatal signal).
 */
const PIECE_BYTES = 4096;
const piecewiseFs: WalFs = {
  ...nodeFs,
  async open(path, mode) {
    const f = await nodeFs.open(path, mode);
    return {
      ...f,
      datasync: () => f.datasync(),
      truncate: (n) => f.truncate(n),
      close: () => f.close(),
      async writev(chunks, position) {
        let pos = position;
        for (const c of chunks) {
          for (let off = 0; off < c.length; off += PIECE_BYTES) {
            const piece = c.subarray(off, Math.min(c.length, off + PIECE_BYTES));
            await f.writev([piece], pos);
            pos += piece.length;
            await new Promise((r) => setImmediate(r));
          }
        }
      },
    };
  },
};

async function main(): Promise<void> {
  const [dir, seedArg] = process.argv.slice(2);
  if (!dir || !seedArg) throw new Error('usage: crash-child.ts <dir> <seed>');
  const rng = new TestRng(Number(seedArg));
  const { storage, recovered } = await openStorage(dir, { fs: Number(seedArg) % 2 === 1 ? piecewiseFs : nodeFs, segmentSizeBytes: CHILD_SEGMENT_SIZE_BYTES, retainSegments: 1, retainSnapshots: 2 });
  const snapIndex = recovered.snapshot?.metadata.index ?? 0;
  let next = (recovered.entries[recovered.entries.length - 1]?.index ?? snapIndex) + 1;
  let acked = next - 1;
  let lastSnapshot = snapIndex;
  let snapshotting = false;
  process.stdout.write(`READY ${next - 1}\n`);
  const inflightMax = 1 + rng.intn(16);
  let inflight = 0;
  const pump = (): void => {
    while (inflight < inflightMax) {
      const n = 1 + rng.intn(4);
      const batch: Entry[] = [];
      for (let i = 0; i < n; i++, next++) batch.push({ index: next, term: 1, type: 'normal', data: payload(next, 1, childEntrySize(next)) });
      const last = next - 1;
      const commit = acked;
      inflight++;
      storage.save({ term: 1, vote: 1n, commit }, batch, true).then(
        () => {
          inflight--;
          acked = last;
          process.stdout.write(`ACK ${last} ${commit}\n`);
          if (!snapshotting && acked - lastSnapshot > 150) {
            snapshotting = true;
            const at = acked;
            storage
              .saveSnapshot({ metadata: { index: at, term: 1, confState: { voters: [1n], learners: [] } }, data: childSnapshotData(at) })
              .then(() => storage.releaseTo(at))
              .then(() => {
                lastSnapshot = at;
                snapshotting = false;
                process.stdout.write(`SNAP ${at}\n`);
              })
              .catch((err: unknown) => {
                process.stderr.write(`snapshot failed: ${String(err)}\n`);
                process.exit(3);
              });
          }
          pump();
        },
        (err: unknown) => {
          process.stderr.write(`save failed: ${String(err)}\n`);
          process.exit(2);
        },
      );
    }
  };
  pump();
}

main().catch((err: unknown) => {
  process.stderr.write(`child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
