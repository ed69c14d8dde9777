import { describe, expect, it } from 'vitest';
import { BY_REFERENCE_BYTES, encodeEntriesChunks, encodeHardStateChunks, encodeRecord, encodeRecordChunks, frameBytes, scanSegment, ScanError, type ScannedRecord, type WalRecord } from './frame.js';
import { scanSegmentFile } from './segment-scan.js';
import type { ReadableFile } from './fs.js';
import { entries, entry, TestRng, withCrc32cFrames } from '../../test/storage/helpers.js';

function segment(records: WalRecord[], size: number): Uint8Array {
  const buf = new Uint8Array(size);
  let p = 0;
  for (const r of records) {
    const b = encodeRecord(r);
    buf.set(b, p);
    p += b.length;
  }
  return buf;
}

const recs: WalRecord[] = [
  { kind: 'segmentHeader', seq: 3, firstIndex: 10 },
  { kind: 'snapshot', index: 9, term: 2 },
  { kind: 'hardState', hardState: { term: 2, vote: 1n, commit: 9 } },
  { kind: 'entries', entries: entries(10, 14, 2, 50) },
  { kind: 'hardState', hardState: { term: 2, vote: 1n, commit: 12 } },
  { kind: 'entries', entries: entries(15, 15, 3, 300) },
];

/** A file over bytes that records the largest read it served. */
function fileOver(buf: Uint8Array): ReadableFile & { largestRead: number } {
  const f = {
    sizeBytes: buf.length,
    largestRead: 0,
    async read(pos: number, len: number) {
      const out = buf.slice(pos, Math.min(buf.length, pos + len));
      f.largestRead = Math.max(f.largestRead, out.length);
      return out;
    },
    async close() {},
  };
  return f;
}

type Verdict = { records: ScannedRecord[]; end: number; torn?: { offset: number; bytes: number } } | { error: string; offset: number };

async function streamed(buf: Uint8Array, isLast: boolean, chunkBytes: number): Promise<Verdict & { largestRead?: number }> {
  const records: ScannedRecord[] = [];
  const f = fileOver(buf);
  try {
    const s = await scanSegmentFile(f, isLast, chunkBytes, (r) => records.push(r));
    return { records, end: s.end, ...(s.torn ? { torn: s.torn } : {}), largestRead: f.largestRead };
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
    return { error: err.message, offset: err.offset };
  }
}

function whole(buf: Uint8Array, isLast: boolean): Verdict {
  try {
    const s = scanSegment(buf, isLast);
    return { records: s.records, end: s.end, ...(s.torn ? { torn: s.torn } : {}) };
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
    return { error: err.message, offset: err.offset };
  }
}

describe('frame', () => {
  it('frames are 8-aligned and round-trip through the scanner; zeros after them are the clean end', () => {
    for (const r of recs) expect(encodeRecord(r).length % 8).toBe(0);
    const seg = segment(recs, 4096);
    const scan = scanSegment(seg, true);
    expect(scan.records.map((r) => r.record)).toEqual(recs);
    expect(scan.torn).toBeUndefined();
    expect(scan.end).toBe(recs.reduce((n, r) => n + encodeRecord(r).length, 0));
    expect(frameBytes(0)).toBe(24);
  });

  it("the save path's own encoders (entries, a hard state) write the frames a scan reads back as those records", () => {
    const hardState = { term: 7, vote: 0x8e9e05c52164694dn, commit: 41 };
    const list = [entry(10, 2, 5), entry(11, 2, BY_REFERENCE_BYTES + 1)];
    const encoded = [encodeEntriesChunks(list), encodeHardStateChunks(hardState)];
    const joined = Buffer.concat(encoded.flatMap((e) => e.chunks));
    expect(joined.length).toBe(encoded[0]!.bytes + encoded[1]!.bytes);
    expect(Buffer.from(encoded[1]!.chunks[0]!).equals(Buffer.from(encodeRecord({ kind: 'hardState', hardState })))).toBe(true);
    const seg = new Uint8Array(joined.length + 64);
    seg.set(joined);
    expect(scanSegment(seg, true).records.map((r) => r.record)).toEqual([
      { kind: 'entries', entries: list },
      { kind: 'hardState', hardState },
    ]);
  });

  it('entries with large data as chunks (the data by reference): the same bytes as encodeRecord, and they scan back', () => {
    const sizes = [BY_REFERENCE_BYTES, 3, BY_REFERENCE_BYTES - 1, 64 * 1024, 0, BY_REFERENCE_BYTES + 5];
    for (let k = 0; k < sizes.length; k++) {
      const list = sizes.slice(k).map((n, i) => entry(100 + i, 4, n));
      const rec: WalRecord = { kind: 'entries', entries: list };
      const enc = encodeRecordChunks(rec);
      const joined = Buffer.concat(enc.chunks);
      expect(enc.bytes).toBe(joined.length);
      expect(Buffer.from(encodeRecord(rec)).equals(joined), `from size #${k}`).toBe(true);
      for (const e of list) if (e.data.length >= BY_REFERENCE_BYTES) expect(enc.chunks).toContain(e.data);
      const seg = new Uint8Array(joined.length + 64);
      seg.set(joined);
      expect(scanSegment(seg, true).records.map((r) => r.record)).toEqual([rec]);
    }
    // Records that are not entries, or entries with small data only: one chunk, encodeRecord's.
    for (const r of recs) expect(Buffer.from(encodeRecordChunks(r).chunks[0]!).equals(Buffer.from(encodeRecord(r)))).toBe(true);
  });

  it('frames written with CRC-32C (checksum byte 0, before 2026-12-02) read back; the checksum byte is covered by the CRC', () => {
    const seg = segment(recs, 4096);
    const scan = scanSegment(seg, true);
    const offsets = scan.records.map((r) => r.offset);
    const old = withCrc32cFrames(seg, offsets);
    expect(Buffer.from(old).equals(Buffer.from(seg))).toBe(false);
    expect(scanSegment(old, true)).toEqual(scan);
    // Old and new frames may share a segment (a member upgraded mid-segment appends new ones).
    const mixed = withCrc32cFrames(seg, offsets.slice(0, 3));
    expect(scanSegment(mixed, true)).toEqual(scan);
    // Relabelling a frame without its CRC fails it: a valid frame follows, so it is corruption.
    const relabelled = seg.slice();
    relabelled[offsets[2]! + 5] = 0;
    expect(() => scanSegment(relabelled, true)).toThrow(ScanError);
  });

  it('fuzz: random damage never hangs and never throws anything but ScanError (seeded)', () => {
    const seed = 777;
    const rng = new TestRng(seed);
    const base = segment(recs, 2048);
    let torn = 0;
    let corrupt = 0;
    for (let i = 0; i < 3000; i++) {
      const buf = base.slice();
      const kind = rng.intn(4);
      if (kind === 0) {
        for (let k = 1 + rng.intn(4); k > 0; k--) {
          const at = rng.intn(900);
          buf[at] = (buf[at] as number) ^ (1 << rng.intn(8)); // bit flips
        }
      } else if (kind === 1) {
        const at = rng.intn(900);
        buf.fill(0, at, at + rng.intn(200)); // a zeroed hole
      } else if (kind === 2) {
        const at = rng.intn(1000);
        for (let k = at; k < buf.length; k++) buf[k] = rng.intn(256); // garbage tail
      } else {
        const at = rng.intn(1000);
        // a huge or odd length somewhere
        new DataView(buf.buffer).setUint32(at - (at % 8), [0xffffffff, 0x80000000, 0x7ffffff8, rng.intn(5000)][rng.intn(4)] as number, true);
      }
      try {
        const s = scanSegment(buf, rng.intn(2) === 0);
        if (s.torn) torn++;
        // Whatever was accepted is a prefix of what was written.
        s.records.forEach((r, j) => expect(r.record, `seed ${seed} case ${i}`).toEqual(recs[j]));
      } catch (err) {
        expect(err, `seed ${seed} case ${i}`).toBeInstanceOf(ScanError);
        corrupt++;
      }
    }
    expect(torn).toBeGreaterThan(0);
    expect(corrupt).toBeGreaterThan(0);
  });

  it('the streamed scanner (bounded reads) reaches the same verdict as the whole-buffer one on damaged segments, at every read size (seeded)', async () => {
    const seed = 4242;
    const rng = new TestRng(seed);
    const base = segment(recs, 2048);
    const written = recs.reduce((n, r) => n + encodeRecord(r).length, 0);
    let torn = 0;
    let corrupt = 0;
    for (let i = 0; i < 600; i++) {
      const buf = base.slice();
      const kind = rng.intn(4);
      if (kind === 0) {
        const at = rng.intn(written);
        buf[at] = (buf[at] as number) ^ (1 << rng.intn(8));
      } else if (kind === 1) {
        buf.fill(0, rng.intn(written), written); // a cut tail
      } else if (kind === 2) {
        const at = rng.intn(written);
        for (let k = at; k < written + rng.intn(64); k++) buf[k] = rng.intn(256); // garbage tail
      } else {
        const at = rng.intn(written);
        new DataView(buf.buffer).setUint32(at - (at % 8), [0xffffffff, 2040, 0x7ffffff8, rng.intn(5000)][rng.intn(4)] as number, true);
      }
      const isLast = rng.intn(3) !== 0;
      const want = whole(buf, isLast);
      if ('torn' in want && want.torn) torn++;
      if ('error' in want) corrupt++;
      for (const chunk of [16, 40, 64, 333, 4096]) {
        const got = await streamed(buf, isLast, chunk);
        const { largestRead, ...verdict } = got;
        expect(verdict, `seed ${seed} case ${i} read size ${chunk}`).toEqual(want);
        // Reads stay within the read size, but for a damaged tail judged whole (at most the segment).
        if (!('error' in want) && !('torn' in want && want.torn)) expect(largestRead).toBeLessThanOrEqual(Math.max(chunk, 16, ...recs.map((r) => encodeRecord(r).length)));
      }
    }
    expect(torn).toBeGreaterThan(0);
    expect(corrupt).toBeGreaterThan(0);
  });
});
