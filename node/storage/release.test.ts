// The writer lets go of a batch's encoded records once they are written, while the batch still
// waits for its fdatasync: records held across the sync would be promoted and kept until a full GC.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { openStorage } from './storage.js';
import { MemoryFs } from './memory-fs.js';
import type { WalFile, WalFs } from './fs.js';
import { entries, wrapOpenedFiles } from '../../test/storage/helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const DIR = '/data/member';

/** MemoryFs whose files note every chunk written and whose fdatasync waits while `hold` is set. */
function watchedFs(): { fs: WalFs; written: Array<{ bytes: number; buffer: WeakRef<ArrayBufferLike> }>; syncing: () => Promise<void>; hold: (on: boolean) => void } {
  const mem = new MemoryFs();
  const written: Array<{ bytes: number; buffer: WeakRef<ArrayBufferLike> }> = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let started: (() => void) | undefined;
  let startedP = new Promise<void>((r) => (started = r));
  const wrap = (f: WalFile): WalFile => ({
    writev: (chunks, position) => {
      for (const c of chunks) written.push({ bytes: c.byteLength, buffer: new WeakRef(c.buffer) });
      return f.writev(chunks, position);
    },
    datasync: async () => {
      started?.();
      if (gate) await gate;
      return f.datasync();
    },
    truncate: (len) => f.truncate(len),
    close: () => f.close(),
  });
  const fs = wrapOpenedFiles(mem, (_path, f) => wrap(f));
  return {
    fs,
    written,
    syncing: () => startedP,
    hold: (on) => {
      if (on) {
        startedP = new Promise<void>((r) => (started = r));
        gate = new Promise<void>((r) => (open = r));
      } else {
        gate = undefined;
        open?.();
      }
    },
  };
}

describe('storage: memory held by a batch waiting for its fdatasync', () => {
  it('the encoded records are released once written; what was written reads back the same', async () => {
    const w = watchedFs();
    const { storage } = await openStorage(DIR, { fs: w.fs, segmentSizeBytes: 64 * 1024 });
    w.written.length = 0;
    w.hold(true);
    // Eight 1000-byte entries: one record of ~8 KiB, in a buffer of its own (not node's pool).
    const es = entries(1, 8, 1, 1000);
    const saved = storage.save({ term: 1, vote: 1n, commit: 0 }, es, true);
    await w.syncing();
    const records = w.written.filter((r) => r.bytes >= 8000);
    expect(records).toHaveLength(1);
    // A WeakRef holds its target until the current task ends: look in the next one.
    await new Promise<void>((r) => setImmediate(r));
    gc();
    expect(records[0]!.buffer.deref()).toBeUndefined();
    w.hold(false);
    await saved;
    await storage.close();
    const again = await openStorage(DIR, { fs: w.fs, segmentSizeBytes: 64 * 1024 });
    expect(again.recovered.entries.map((e) => Buffer.from(e.data).toString('hex'))).toEqual(es.map((e) => Buffer.from(e.data).toString('hex')));
    await again.storage.close();
  });
});
