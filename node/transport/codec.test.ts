import { describe, expect, it } from 'vitest';
import type { Entry, Message, MessageType } from '../raft/types.js';
import { BY_REFERENCE_BYTES, batchSize, decodeBatch, decodeMessage, encodeMessage, writeBatch, type ByReference } from './codec.js';
import { FrameReader, FrameType, frame } from './frames.js';

// A small seeded generator (mulberry32) so failures reproduce; the seed is printed.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES: MessageType[] = ['app', 'appResp', 'vote', 'voteResp', 'heartbeat', 'heartbeatResp', 'snap', 'readIndex', 'readIndexResp', 'prop', 'timeoutNow'];

function randomMessage(r: () => number): Message {
  const big = () => Math.floor(r() * 2 ** 53);
  // Node ids: any uint64 but 0, often with the top bit set.
  const id = (): bigint => (r() < 0.5 ? 2n ** 64n - 1n - BigInt(big() % 1000) : BigInt(big()) + 1n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  const entries: Entry[] = [];
  const ne = Math.floor(r() * 4);
  for (let i = 0; i < ne; i++) entries.push({ term: big(), index: big(), type: r() < 0.5 ? 'normal' : 'confChange', data: bytes(Math.floor(r() * 50)) });
  const type = TYPES[Math.floor(r() * TYPES.length)]!;
  const m: Message = {
    type,
    // Well formed as raft sends them: ids are never 0; only prop and readIndex travel without a term.
    to: id(), from: id(), term: type === 'prop' || type === 'readIndex' ? 0 : big() + 1, logTerm: big(), index: big(), commit: big(),
    entries, reject: r() < 0.5, rejectHint: big(),
  };
  // Shapes raft relies on: a prop carries entries, a readIndexResp none, a snap its snapshot.
  if (type === 'prop' && entries.length === 0) entries.push({ term: 0, index: 0, type: 'normal', data: bytes(3) });
  if (type === 'readIndexResp') entries.length = 0;
  if (r() < 0.5) m.context = bytes(Math.floor(r() * 20));
  if (r() < 0.3 || type === 'snap') m.snapshot = { data: bytes(Math.floor(r() * 100)), metadata: { index: big(), term: big(), confState: { voters: [id(), id()], learners: r() < 0.5 ? [id()] : [] } } };
  if (type === 'transferLeader') m.transferee = id();
  if (type === 'app' && entries.length === 0 && r() < 0.5) m.noAck = true;
  return m;
}

function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

describe('peer codec', () => {
  it('round-trips random messages and batches exactly', () => {
    const seed = 20261124;
    console.log(`codec seed ${seed}`);
    const r = rng(seed);
    for (let i = 0; i < 300; i++) {
      const m = randomMessage(r);
      expect(plain(decodeMessage(encodeMessage(m)))).toEqual(plain(m));
    }
    const batch = Array.from({ length: 20 }, () => randomMessage(r));
    const buf = Buffer.alloc(batchSize(batch));
    expect(writeBatch(buf, 0, batch)).toBe(buf.byteLength);
    expect(decodeBatch(buf).map(plain)).toEqual(batch.map(plain));
  });

  it('node ids: a few that recur among more than the id table holds come back exact; an id out of range is still refused', () => {
    const seed = 20261203;
    console.log(`codec ids seed ${seed}`);
    const r = rng(seed);
    const few = [1n, 2n ** 63n, 2n ** 64n - 1n, 0x1234_5678_9abc_def0n];
    for (let i = 0; i < 500; i++) {
      const fresh = BigInt(Math.floor(r() * 2 ** 53)) * 2048n + 1n; // below 2^64 - 1
      const to = r() < 0.5 ? few[i % few.length]! : fresh;
      const from = r() < 0.5 ? few[(i + 1) % few.length]! : fresh + 1n;
      const m: Message = { type: 'appResp', to, from, term: 1, logTerm: 0, index: i, commit: 0, entries: [], reject: false, rejectHint: 0 };
      const back = decodeMessage(encodeMessage(m));
      expect([back.to, back.from]).toEqual([to, from]);
    }
    const bad: Message = { type: 'appResp', to: 2n ** 64n, from: 1n, term: 1, logTerm: 0, index: 0, commit: 0, entries: [], reject: false, rejectHint: 0 };
    expect(() => encodeMessage(bad)).toThrow();
  });

  it('refuses messages raft could never have sent: NaN or fractional numbers, local types, a term where none belongs', () => {
    const base = randomMessage(rng(11));
    const ok: Message = { ...base, type: 'heartbeat', term: 3, entries: [] };
    delete ok.snapshot; // the entry type byte's offset below assumes no snapshot follows
    expect(() => decodeMessage(encodeMessage(ok))).not.toThrow();
    const bad: Array<[string, Message]> = [
      ['NaN commit', { ...ok, commit: Number.NaN }],
      ['fractional index', { ...ok, index: 1.5 }],
      ['negative term', { ...ok, term: -2 }],
      ['no sender', { ...ok, from: 0n }],
      ['local type', { ...ok, type: 'hup' }],
      ['heartbeat without term', { ...ok, term: 0 }],
      ['prop with a term', { ...ok, type: 'prop', term: 4 }],
      ['prop without entries', { ...ok, type: 'prop', term: 0 }],
      ['readIndexResp with entries', { ...ok, type: 'readIndexResp', entries: [{ term: 1, index: 1, type: 'normal', data: new Uint8Array(1) }] }],
      ['snap without snapshot', { ...ok, type: 'snap' }],
      ['noAck on an answer', { ...ok, type: 'appResp', noAck: true }],
      ['noAck on an append with entries', { ...ok, type: 'app', noAck: true, entries: [{ term: 1, index: 2, type: 'normal', data: new Uint8Array(1) }] }],
      ['entry index NaN', { ...ok, type: 'app', entries: [{ term: 1, index: Number.NaN, type: 'normal', data: new Uint8Array(1) }] }],
    ];
    for (const [what, m] of bad) expect(() => decodeMessage(encodeMessage(m)), what).toThrow(/message/);
    const wrongEntryType = encodeMessage({ ...ok, type: 'app', entries: [{ term: 1, index: 2, type: 'normal', data: new Uint8Array(0) }] });
    wrongEntryType[wrongEntryType.byteLength - 5] = 7; // the entry's type byte
    expect(() => decodeMessage(wrongEntryType)).toThrow(/entry type/);
  });

  it('rejects truncated input instead of misreading it', () => {
    const m = randomMessage(rng(7));
    const b = encodeMessage({ ...m, entries: [{ term: 1, index: 2, type: 'normal', data: new Uint8Array(10) }] });
    expect(() => decodeMessage(b.subarray(0, b.byteLength - 3))).toThrow(/truncated/);
  });

  it('large entry data by reference: the pieces and the entries own buffers make the same bytes; an owned frame keeps views', () => {
    const seed = 20261202;
    console.log(`codec by-reference seed ${seed}`);
    const r = rng(seed);
    const sizes = [0, 10, BY_REFERENCE_BYTES - 1, BY_REFERENCE_BYTES, 64 * 1024, 3];
    const batch = Array.from({ length: 6 }, () => randomMessage(r));
    batch[2] = { ...batch[2]!, type: 'app', term: 5, entries: sizes.map((n, i) => ({ term: 5, index: 10 + i, type: 'normal' as const, data: Uint8Array.from({ length: n }, () => Math.floor(r() * 256)) })) };
    const whole = Buffer.alloc(batchSize(batch));
    writeBatch(whole, 0, batch);
    const refs: ByReference = { cuts: [], data: [] };
    const inline = Buffer.alloc(batchSize(batch, true));
    expect(writeBatch(inline, 0, batch, refs)).toBe(inline.byteLength);
    expect(refs.data.length).toBe(2);
    const pieces: Uint8Array[] = [];
    let at = 0;
    refs.cuts.forEach((cut, k) => {
      pieces.push(inline.subarray(at, cut), refs.data[k]!);
      at = cut;
    });
    pieces.push(inline.subarray(at));
    const joined = Buffer.concat(pieces);
    expect(joined.equals(whole)).toBe(true);
    const owned = decodeBatch(joined, true);
    expect(owned.map(plain)).toEqual(batch.map(plain));
    const big = owned[2]!.entries.filter((e) => e.data.byteLength >= BY_REFERENCE_BYTES);
    const small = owned[2]!.entries.filter((e) => e.data.byteLength > 0 && e.data.byteLength < BY_REFERENCE_BYTES);
    for (const e of big) expect(e.data.buffer).toBe(joined.buffer);
    for (const e of small) expect(e.data.buffer).not.toBe(joined.buffer);
    for (const e of decodeBatch(joined)[2]!.entries) if (e.data.byteLength > 0) expect(e.data.buffer).not.toBe(joined.buffer);
  });

  it('entry data decoded from a frame is a copy, but for large data in an owned frame; the bytes are unchanged', () => {
    // A copy means no view of the frame outlives the decode (see Reader.entryCopy).
    const sizes = [1, 7, 1100, BY_REFERENCE_BYTES - 1, BY_REFERENCE_BYTES, 9000];
    const m: Message = { ...randomMessage(rng(7)), type: 'app', term: 3, entries: sizes.map((n, i) => ({ term: 3, index: 1 + i, type: 'normal' as const, data: Buffer.alloc(n, i + 1) })) };
    delete m.noAck; // it carries entries
    const frameBuf = Buffer.alloc(batchSize([m]));
    writeBatch(frameBuf, 0, [m]);
    const hex = (es: readonly Entry[]) => es.map((e) => Buffer.from(e.data).toString('hex'));
    for (const owned of [false, true]) {
      const got = decodeBatch(frameBuf, owned)[0]!.entries;
      expect(hex(got)).toEqual(hex(m.entries!));
      expect(got.map((e) => e.data.buffer === frameBuf.buffer)).toEqual(sizes.map((n) => owned && n >= BY_REFERENCE_BYTES));
    }
  });

  it('says which frames it assembled from several chunks (owned)', () => {
    const f = frame(FrameType.messages, Buffer.alloc(100, 1));
    const seen: boolean[] = [];
    const reader = new FrameReader();
    reader.push(Buffer.concat([f, f.subarray(0, 50)]), (_t, _p, owned) => seen.push(owned));
    reader.push(f.subarray(50), (_t, _p, owned) => seen.push(owned));
    expect(seen).toEqual([false, true]);
  });

  it('reassembles frames split at every byte boundary', () => {
    const frames = [frame(FrameType.messages, Buffer.from('hello world')), frame(FrameType.ping, Buffer.alloc(12, 7)), frame(FrameType.snapEnd, Buffer.alloc(0))];
    const all = Buffer.concat(frames);
    for (let cut = 0; cut <= all.byteLength; cut++) {
      for (const step of [1, 3, all.byteLength]) {
        const reader = new FrameReader();
        const got: Array<[number, string]> = [];
        const parts = [all.subarray(0, cut), all.subarray(cut)];
        for (const p of parts) for (let i = 0; i < p.byteLength; i += step) reader.push(p.subarray(i, i + step), (t, pl) => got.push([t, pl.toString('hex')]));
        expect(got).toEqual([
          [FrameType.messages, Buffer.from('hello world').toString('hex')],
          [FrameType.ping, Buffer.alloc(12, 7).toString('hex')],
          [FrameType.snapEnd, ''],
        ]);
      }
    }
  });
});
