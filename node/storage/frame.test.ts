import { describe, expect, it } from 'vitest';
import { encodeRecord, frameBytes, scanSegment, ScanError, type WalRecord } from './frame.js';
import { entries, TestRng } from '../../test/storage/helpers.js';

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
});
