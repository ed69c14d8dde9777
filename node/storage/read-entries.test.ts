// Raft's entries read back from the WAL (FileStorage.readEntries): what memory-storage.ts's cold
// entries rely on. Every entry comes back as it was saved, across segments, overwrites and a
// restart; an entry the WAL no longer holds, or holds damaged, is an error, never other bytes.
import { describe, expect, it } from 'vitest';
import { openStorage } from './storage.js';
import { MemoryFs } from './memory-fs.js';
import { StorageCorruptError } from './errors.js';
import type { Entry } from '../raft/types.js';
import { entries, entry } from '../../test/storage/helpers.js';

const DIR = '/data/member';
const hs = (commit: number) => ({ term: 2, vote: 1n, commit });
const same = (es: readonly Entry[]): string[] => es.map((e) => `${e.index}/${e.term}/${Buffer.from(e.data).toString('hex')}`);

describe('storage: readEntries', () => {
  it('reads back what was saved, across segments and big (by-reference) payloads', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs, segmentSizeBytes: 2048 });
    const saved: Entry[] = [];
    for (let i = 1; i <= 40; i += 2) {
      const batch = [entry(i, 1, 30 + i), entry(i + 1, 1, i === 21 ? 5000 : 10)];
      saved.push(...batch);
      await storage.save(hs(i), batch, i % 4 === 1);
    }
    expect((await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal')).length).toBeGreaterThanOrEqual(3);
    // The last save asked for no sync: its record waits, held, for the next write.
    expect(storage.writtenIndex!()).toBe(38);
    expect(() => storage.readEntries!(39, 41)).toThrow(StorageCorruptError);
    await storage.save(undefined, [], true);
    expect(storage.writtenIndex!()).toBe(40);
    expect(same(storage.readEntries!(1, 41))).toEqual(same(saved));
    expect(same(storage.readEntries!(17, 24))).toEqual(same(saved.slice(16, 23)));
    await storage.close();
  });

  it('an overwritten suffix reads back as the new entries, before and after a restart', async () => {
    const fs = new MemoryFs();
    const opts = { fs, segmentSizeBytes: 1024 };
    const { storage } = await openStorage(DIR, opts);
    await storage.save(hs(0), entries(1, 12, 1, 40), true);
    expect(storage.writtenIndex!()).toBe(12);
    // Until the overwrite is written, entries from 7 on are not (the old ones are superseded).
    const overwrite = storage.save(hs(0), entries(7, 9, 2, 40), true);
    expect(storage.writtenIndex!()).toBe(6);
    await overwrite;
    const want = [...entries(1, 6, 1, 40), ...entries(7, 9, 2, 40)];
    expect(storage.writtenIndex!()).toBe(9);
    expect(same(storage.readEntries!(1, 10))).toEqual(same(want));
    expect(() => storage.readEntries!(9, 11)).toThrow(StorageCorruptError);
    await storage.save(hs(9), entries(10, 30, 2, 40), true);
    await storage.close();
    const r = await openStorage(DIR, opts);
    const all = [...want, ...entries(10, 30, 2, 40)];
    expect(same(r.recovered.entries)).toEqual(same(all));
    expect(r.storage.writtenIndex!()).toBe(30);
    expect(same(r.storage.readEntries!(1, 31))).toEqual(same(all));
    await r.storage.close();
  });

  it('entries of a purged segment are an error, those still held read back; a flipped bit is an error', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs, segmentSizeBytes: 512, retainSegments: 0 });
    for (let i = 1; i <= 40; i++) await storage.save(hs(i), [entry(i, 1, 40)], true);
    await storage.saveSnapshot({ metadata: { index: 30, term: 1, confState: { voters: [1n], learners: [] } }, data: new Uint8Array(8) });
    await storage.releaseTo(20);
    expect(() => storage.readEntries!(1, 3)).toThrow(StorageCorruptError);
    expect(same(storage.readEntries!(21, 41))).toEqual(same(entries(21, 40, 1, 40)));
    const segs = (await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal'));
    const path = `${DIR}/wal/${segs[segs.length - 1]}`;
    const bytes = fs.peek(path)!;
    // The last entry's payload sits just before its frame's trailer and padding.
    const at = bytes.lastIndexOf(entry(40, 1, 40).data[10]!);
    bytes[at] = bytes[at]! ^ 0x40;
    fs.poke(path, bytes);
    expect(() => storage.readEntries!(40, 41)).toThrow(StorageCorruptError);
    expect(same(storage.readEntries!(21, 22))).toEqual(same([entry(21, 1, 40)]));
  });
});
