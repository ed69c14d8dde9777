import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, RequestIds } from './envelope.js';
import { decodeStateSnapshot, encodeStateSnapshot, stateSnapshotParts } from './state-snapshot.js';
import { readStateSnapshotHeader, restoreStateSnapshot } from './state-snapshot-stream.js';
import { clusterIdOf, memberIdOf } from './ids.js';
import { Membership, decodeConfContext, encodeConfContext } from './membership.js';
import { decodeNormalEntry } from './entry-decode.js';

describe('runtime codecs and ids', () => {
  it('entry envelopes round-trip', () => {
    const e = decodeEnvelope(encodeEnvelope('mvcc', 2n ** 63n + 3n, 1234567890123, Buffer.from('body')));
    expect(e).toMatchObject({ kind: 'mvcc', proposer: 2n ** 63n + 3n, requestId: 1234567890123 });
    // An entry written when proposers were f64 numbers (kind code without the wide flag) still decodes.
    const old = Buffer.alloc(17 + 4);
    old[0] = 1;
    old.writeDoubleLE(2 ** 52 + 3, 1);
    old.writeDoubleLE(42, 9);
    expect(decodeEnvelope(old)).toMatchObject({ kind: 'mvcc', proposer: 2n ** 52n + 3n, requestId: 42 });
    expect(Buffer.from(e.body).toString()).toBe('body');
    expect(() => decodeEnvelope(new Uint8Array(3))).toThrow(/too short/);
    const ids = new RequestIds(1_700_000_000_000);
    expect(ids.take() + 1).toBe(ids.take());
  });

  it('state snapshots round-trip (whole and part-by-part encodings agree)', async () => {
    const m = { members: [{ id: 1n, name: 'a', peerUrls: ['http://a:1'], clientUrls: [], isLearner: false }], removed: [9n] };
    const chunks = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(70_000, 7)];
    const a = encodeStateSnapshot(m, chunks);
    const parts: Uint8Array[] = [];
    for await (const p of stateSnapshotParts(m, chunks)) parts.push(p);
    expect(Buffer.compare(a, Buffer.concat(parts))).toBe(0);
    const d = decodeStateSnapshot(a);
    expect(d.membership).toEqual(m);
    expect(d.chunks.map((c) => c.byteLength)).toEqual([3, 0, 70_000]);
    expect(() => decodeStateSnapshot(a.subarray(0, a.byteLength - 1))).toThrow(/truncated/);
    expect(() => decodeStateSnapshot(Buffer.from('nope'))).toThrow(/not a tsetcd/);
  });

  it('a state snapshot read as a stream, split at any byte, restores the same chunks; a cut stream restores nothing', async () => {
    const m = { members: [{ id: 1n, name: 'a', peerUrls: ['http://a:1'], clientUrls: [], isLearner: false }], removed: [] };
    const chunks = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(5_000, 7), Buffer.from('last')];
    const whole = encodeStateSnapshot(m, chunks);
    async function* split(b: Uint8Array, step: number): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < b.length; off += step) yield b.subarray(off, Math.min(b.length, off + step));
    }
    const recorder = () => {
      const r = { written: [] as string[], finished: false, paced: 0 };
      return { r, sm: { restore: () => undefined, beginRestore: () => ({ write: (c: Uint8Array) => void r.written.push(Buffer.from(c).toString('hex')), finish: () => void (r.finished = true) }) } };
    };
    for (const step of [1, 3, 7, 64, 4096, whole.length]) {
      const { r, sm } = recorder();
      const got = await restoreStateSnapshot(split(whole, step), sm, async () => void r.paced++);
      expect(got.membership, `step ${step}`).toEqual(m);
      expect(got.bytes).toBe(whole.length);
      expect(r.written).toEqual(chunks.map((c) => c.toString('hex')));
      expect(r.finished).toBe(true);
      expect(r.paced).toBe(chunks.length);
      expect(await readStateSnapshotHeader(split(whole, step))).toEqual(m);
    }
    for (const cut of [3, 20, whole.length - 1]) {
      const { r, sm } = recorder();
      await expect(restoreStateSnapshot(split(whole.subarray(0, cut), 5), sm, async () => undefined)).rejects.toThrow(/truncated/);
      expect(r.finished).toBe(false); // the store is only swapped at finish
    }
  });

  it('member and cluster ids are stable, order-independent, non-zero, and use all 64 bits', () => {
    const a = memberIdOf(['http://h:2380', 'http://h2:2380'], 'tok');
    expect(memberIdOf(['http://h2:2380', 'http://h:2380'], 'tok')).toBe(a);
    expect(memberIdOf(['http://h:2380', 'http://h2:2380'], 'other')).not.toBe(a);
    expect(memberIdOf(['http://h:2380'], 'tok', 5)).not.toBe(memberIdOf(['http://h:2380'], 'tok', 6));
    expect(a > 0n && a < 2n ** 64n).toBe(true);
    // sha1's first 8 bytes: over many URL sets, some ids need more than 53 bits (and some the top bit).
    const many = Array.from({ length: 64 }, (_, i) => memberIdOf([`http://h${i}:2380`], 'tok'));
    expect(many.some((id) => id >= 2n ** 63n)).toBe(true);
    expect(clusterIdOf([3n, 1n, 2n])).toBe(clusterIdOf([1n, 2n, 3n]));
    // etcd's derivation: sha1 of the sorted ids as 8 big-endian bytes each, first 8 bytes of the digest.
    const b = Buffer.alloc(16);
    b.writeBigUInt64BE(1n, 0);
    b.writeBigUInt64BE(2n ** 63n + 5n, 8);
    expect(clusterIdOf([2n ** 63n + 5n, 1n])).toBe(createHash('sha1').update(b).digest().readBigUInt64BE(0));
  });

  it('membership applies conf changes and attributes', () => {
    const m = new Membership();
    const rec = { id: 5n, name: '', peerUrls: ['http://p:1'], clientUrls: [], isLearner: true };
    m.applyConfChange({ type: 'addLearnerNode', nodeId: 5n, context: encodeConfContext({ member: rec, proposer: 1n, requestId: 2 }) }, decodeConfContext(encodeConfContext({ member: rec, proposer: 1n, requestId: 2 })));
    expect(m.learners()).toEqual([5n]);
    m.applyAttrs({ id: 5n, name: 'e', clientUrls: ['http://c:1'] });
    m.applyConfChange({ type: 'addNode', nodeId: 5n, context: new Uint8Array(0) }, { proposer: 0n, requestId: 0 });
    expect(m.get(5n)).toMatchObject({ name: 'e', isLearner: false, clientUrls: ['http://c:1'] });
    m.applyConfChange({ type: 'removeNode', nodeId: 5n, context: new Uint8Array(0) }, { proposer: 0n, requestId: 0 });
    expect(m.has(5n)).toBe(false);
    expect(m.isRemoved(5n)).toBe(true);
    expect(Membership.fromJSON(m.toJSON()).toJSON()).toEqual(m.toJSON());
  });

  it('downgrade entries decode (or are skipped) and the state travels with the membership', () => {
    const body = (v: unknown): Buffer => encodeEnvelope('downgrade', 7n, 8, Buffer.from(JSON.stringify(v)));
    expect(decodeNormalEntry(body({ enabled: true, targetVersion: '3.4.0' }))).toEqual({ ok: true, kind: 'downgrade', proposer: 7n, requestId: 8, info: { enabled: true, targetVersion: '3.4.0' } });
    expect(decodeNormalEntry(body({ enabled: 'yes' }))).toMatchObject({ ok: false, kind: 'downgrade', proposer: 7n, requestId: 8 });
    expect(decodeNormalEntry(encodeEnvelope('downgrade', 7n, 8, Buffer.from('{')))).toMatchObject({ ok: false, kind: 'downgrade' });
    const m = new Membership();
    expect(m.toJSON()).toEqual({ members: [], removed: [] }); // no downgrade: the snapshot header is as before
    m.setDowngrade({ enabled: true, targetVersion: '3.4.0' });
    const j = m.toJSON();
    expect(j.downgrade).toEqual({ enabled: true, targetVersion: '3.4.0' });
    expect(Membership.fromJSON(j).downgrade()).toEqual({ enabled: true, targetVersion: '3.4.0' });
    m.setDowngrade({ enabled: false, targetVersion: 'ignored' });
    expect(m.downgrade()).toEqual({ enabled: false, targetVersion: '' });
    expect(m.toJSON().downgrade).toBeUndefined();
  });
});
