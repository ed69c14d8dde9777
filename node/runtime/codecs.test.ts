import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, RequestIds } from './envelope.js';
import { decodeStateSnapshot, encodeStateSnapshot, encodeStateSnapshotAsync, stateSnapshotParts } from './state-snapshot.js';
import { clusterIdOf, memberIdOf } from './ids.js';
import { Membership, decodeConfContext, encodeConfContext } from './membership.js';
import { decodeNormalEntry } from './entry-decode.js';

describe('runtime codecs and ids', () => {
  it('entry envelopes round-trip', () => {
    const e = decodeEnvelope(encodeEnvelope('mvcc', 2 ** 52 + 3, 1234567890123, Buffer.from('body')));
    expect(e).toMatchObject({ kind: 'mvcc', proposer: 2 ** 52 + 3, requestId: 1234567890123 });
    expect(Buffer.from(e.body).toString()).toBe('body');
    expect(() => decodeEnvelope(new Uint8Array(3))).toThrow(/too short/);
    const ids = new RequestIds(1_700_000_000_000);
    expect(ids.take() + 1).toBe(ids.take());
  });

  it('state snapshots round-trip (sync and async encodings agree)', async () => {
    const m = { members: [{ id: 1, name: 'a', peerUrls: ['http://a:1'], clientUrls: [], isLearner: false }], removed: [9] };
    const chunks = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(70_000, 7)];
    const a = encodeStateSnapshot(m, chunks);
    const b = await encodeStateSnapshotAsync(m, chunks, async () => {});
    expect(Buffer.compare(a, b)).toBe(0);
    const parts: Uint8Array[] = [];
    for await (const p of stateSnapshotParts(m, chunks)) parts.push(p);
    expect(Buffer.compare(a, Buffer.concat(parts))).toBe(0);
    const d = decodeStateSnapshot(a);
    expect(d.membership).toEqual(m);
    expect(d.chunks.map((c) => c.byteLength)).toEqual([3, 0, 70_000]);
    expect(() => decodeStateSnapshot(a.subarray(0, a.byteLength - 1))).toThrow(/truncated/);
    expect(() => decodeStateSnapshot(Buffer.from('nope'))).toThrow(/not a tsetcd/);
  });

  it('member and cluster ids are stable, order-independent, non-zero and below 2^53', () => {
    const a = memberIdOf(['http://h:2380', 'http://h2:2380'], 'tok');
    expect(memberIdOf(['http://h2:2380', 'http://h:2380'], 'tok')).toBe(a);
    expect(memberIdOf(['http://h:2380', 'http://h2:2380'], 'other')).not.toBe(a);
    expect(memberIdOf(['http://h:2380'], 'tok', 5)).not.toBe(memberIdOf(['http://h:2380'], 'tok', 6));
    expect(a).toBeGreaterThan(0);
    expect(a).toBeLessThan(2 ** 53);
    expect(clusterIdOf([3, 1, 2])).toBe(clusterIdOf([1, 2, 3]));
  });

  it('membership applies conf changes and attributes', () => {
    const m = new Membership();
    const rec = { id: 5, name: '', peerUrls: ['http://p:1'], clientUrls: [], isLearner: true };
    m.applyConfChange({ type: 'addLearnerNode', nodeId: 5, context: encodeConfContext({ member: rec, proposer: 1, requestId: 2 }) }, decodeConfContext(encodeConfContext({ member: rec, proposer: 1, requestId: 2 })));
    expect(m.learners()).toEqual([5]);
    m.applyAttrs({ id: 5, name: 'e', clientUrls: ['http://c:1'] });
    m.applyConfChange({ type: 'addNode', nodeId: 5, context: new Uint8Array(0) }, { proposer: 0, requestId: 0 });
    expect(m.get(5)).toMatchObject({ name: 'e', isLearner: false, clientUrls: ['http://c:1'] });
    m.applyConfChange({ type: 'removeNode', nodeId: 5, context: new Uint8Array(0) }, { proposer: 0, requestId: 0 });
    expect(m.has(5)).toBe(false);
    expect(m.isRemoved(5)).toBe(true);
    expect(Membership.fromJSON(m.toJSON()).toJSON()).toEqual(m.toJSON());
  });

  it('downgrade entries decode (or are skipped) and the state travels with the membership', () => {
    const body = (v: unknown): Buffer => encodeEnvelope('downgrade', 7, 8, Buffer.from(JSON.stringify(v)));
    expect(decodeNormalEntry(body({ enabled: true, targetVersion: '3.4.0' }))).toEqual({ ok: true, kind: 'downgrade', proposer: 7, requestId: 8, info: { enabled: true, targetVersion: '3.4.0' } });
    expect(decodeNormalEntry(body({ enabled: 'yes' }))).toMatchObject({ ok: false, kind: 'downgrade', proposer: 7, requestId: 8 });
    expect(decodeNormalEntry(encodeEnvelope('downgrade', 7, 8, Buffer.from('{')))).toMatchObject({ ok: false, kind: 'downgrade' });
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
