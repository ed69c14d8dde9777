// Torn tails on the real disk: the last segment is cut short (ftruncate, the file really gets
// shorter) at every byte offset of the last save's records; recovery must keep every earlier
// save, cut the rest, and accept new writes after it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStorage } from '../../node/storage/storage.js';
import { scanSegment } from '../../node/storage/frame.js';
import { StorageCorruptError } from '../../node/storage/errors.js';
import { collectingLogger, entry } from './helpers.js';

const SEGMENT = 8 * 1024;

describe('storage on a real disk: torn tails and leftovers', () => {
  it('a segment cut short at every byte offset of the last save recovers to the save before it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tsetcd-torn-'));
    try {
      const golden = join(root, 'golden');
      const { storage } = await openStorage(golden, { segmentSizeBytes: SEGMENT });
      for (let i = 1; i <= 5; i++) await storage.save({ term: 1, vote: 1n, commit: i - 1 }, [entry(i, 1, 100)], true);
      await storage.close();
      const segName = readdirSync(join(golden, 'wal'))[0] as string;
      const original = readFileSync(join(golden, 'wal', segName));
      const scan = scanSegment(original, true);
      const firstOfLastSave = scan.records[scan.records.length - 2]!.offset; // entries record of save 5
      let cutsLogged = 0;
      for (let cut = firstOfLastSave; cut < scan.end; cut++) {
        const dir = join(root, `cut-${cut}`);
        const walDir = join(dir, 'wal');
        await openStorage(dir, { segmentSizeBytes: SEGMENT }).then((o) => o.storage.close());
        rmSync(join(walDir, readdirSync(walDir)[0] as string));
        writeFileSync(join(walDir, segName), original);
        truncateSync(join(walDir, segName), cut);
        const { logger, lines } = collectingLogger();
        // Odd cuts recover in 40-byte reads: the file's end lands anywhere inside a read.
        const r = await openStorage(dir, { segmentSizeBytes: SEGMENT, logger, ...(cut % 2 === 1 ? { readChunkBytes: 40 } : {}) });
        // A record survives only whole (trailer included): save 5's entries survive a cut at or
        // past the start of its hard-state record, which never survives (the cut is inside it).
        const lastRec = scan.records[scan.records.length - 1]!.offset;
        const n = r.recovered.entries.length;
        expect(n, `cut at ${cut}`).toBe(cut >= lastRec ? 5 : 4);
        expect(r.recovered.hardState.commit, `cut at ${cut}`).toBe(3);
        const logged = lines.filter((l) => l['msg'] === 'truncated a torn record at the WAL tail');
        // A cut exactly at a record boundary is a clean end; any other cut is a torn record, logged.
        expect(logged.length, `cut at ${cut}`).toBe(cut === firstOfLastSave || cut === lastRec ? 0 : 1);
        cutsLogged += logged.length;
        await r.storage.save({ term: 2, vote: 1n, commit: 3 }, [entry(n + 1, 2, 100)], true);
        await r.storage.close();
        const again = await openStorage(dir, { segmentSizeBytes: SEGMENT });
        expect(again.recovered.entries.map((e) => e.index), `cut at ${cut}`).toEqual(Array.from({ length: n + 1 }, (_, i) => i + 1));
        expect(again.recovered.hardState).toEqual({ term: 2, vote: 1n, commit: 3 });
        await again.storage.close();
        rmSync(dir, { recursive: true, force: true });
      }
      expect(cutsLogged).toBeGreaterThan(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('group commit on a real disk: 3000 concurrent saves (one writev of more than IOV_MAX buffers) all read back', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tsetcd-many-'));
    try {
      const dir = join(root, 'm');
      let syncs = 0;
      const { storage } = await openStorage(dir, { segmentSizeBytes: 1024 * 1024, hooks: { walFsync: () => void syncs++ } });
      const ps: Promise<void>[] = [];
      for (let i = 1; i <= 3000; i++) ps.push(storage.save({ term: 1, vote: 1n, commit: i - 1 }, [entry(i, 1, 100 + (i % 50))], true));
      await Promise.all(ps);
      expect(syncs).toBeLessThan(100);
      await storage.close();
      const r = await openStorage(dir, { segmentSizeBytes: 1024 * 1024 });
      expect(r.recovered.entries.length).toBe(3000);
      const bad = r.recovered.entries.filter((e, i) => {
        const want = entry(i + 1, 1, 100 + ((i + 1) % 50));
        return e.index !== want.index || e.term !== want.term || !Buffer.from(e.data).equals(Buffer.from(want.data));
      });
      expect(bad.map((e) => e.index)).toEqual([]);
      expect(r.recovered.hardState.commit).toBe(2999);
      await r.storage.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('leftover .tmp files are removed; a last segment without a valid header or a damaged first header refuses', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tsetcd-left-'));
    try {
      const dir = join(root, 'm');
      const { storage } = await openStorage(dir, { segmentSizeBytes: 1024 });
      for (let i = 1; i <= 20; i++) await storage.save(undefined, [entry(i, 1, 100)], true);
      await storage.close();
      const walDir = join(dir, 'wal');
      const segs = readdirSync(walDir).filter((n) => n.endsWith('.wal')).sort();
      writeFileSync(join(walDir, `${segs[segs.length - 1]}.tmp`), 'half-made');
      writeFileSync(join(dir, 'snap', '0000000000000001-0000000000000009.snap.tmp'), 'half-made');
      const { logger, lines } = collectingLogger();
      const r = await openStorage(dir, { segmentSizeBytes: 1024, logger });
      expect(r.recovered.entries.length).toBe(20);
      expect(lines.filter((l) => l['msg'] === 'removed unfinished temporary file').length).toBe(2);
      await r.storage.close();
      // A last segment without a valid header cannot come from a crash (segments are renamed into
      // place whole): it is damage, and refused.
      const last = segs[segs.length - 1] as string;
      const seq = parseInt(last.slice(0, 16), 16) + 1;
      const zeroSeg = join(walDir, `${seq.toString(16).padStart(16, '0')}-${(21).toString(16).padStart(16, '0')}.wal`);
      writeFileSync(zeroSeg, Buffer.alloc(1024));
      await expect(openStorage(dir, { segmentSizeBytes: 1024 })).rejects.toThrow(`${zeroSeg} at byte offset 0: segment has no valid header`);
      rmSync(zeroSeg);
      // Damage the first segment's header: that is corruption, named by file and offset 0.
      const first = join(walDir, segs[0] as string);
      const bytes = readFileSync(first);
      bytes[13] = (bytes[13] as number) ^ 0xff;
      writeFileSync(first, bytes);
      const err = await openStorage(dir, { segmentSizeBytes: 1024 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageCorruptError);
      expect((err as Error).message).toContain(`${first} at byte offset 0`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
