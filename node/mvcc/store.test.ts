// Focused etcd-semantics tests of the store, the lessor, quota/alarms, bounded ranges and the key index.
import { describe, expect, it } from 'vitest';
import {
  AlarmType,
  CompactedError,
  CompareResult,
  CompareTarget,
  MvccStore,
  SortOrder,
  SortTarget,
  prefixEnd,
  type ApplyResult,
  type Command,
  type Compare,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
  type LeaseGrantResponse,
  type PutResponse,
  type TxnResponse,
} from './index.js';
import { InHeapValues, type ValueRef } from './value-store.js';
import { KEY_OVERHEAD_BYTES, REV_OVERHEAD_BYTES } from './store.js';
import { ByteReader, ByteWriter, decodeCommand, encodeCommand } from './codec.js';
import { TestRng } from './testing/rng.js';

const b = (x: string): Uint8Array => Buffer.from(x);
const str = (u: Uint8Array): string => Buffer.from(u).toString();

function mk(opts = {}) {
  const store = new MvccStore(opts);
  let index = 0;
  const apply = (cmd: Command): ApplyResult => store.apply(cmd, ++index);
  const ok = <T>(cmd: Command): T => {
    const r = apply(cmd);
    if (!r.ok) throw r.error;
    return r.response as T;
  };
  const put = (k: string, v: string, lease = 0n) => ok<PutResponse>({ type: 'put', req: { key: b(k), value: b(v), lease } });
  return { store, apply, ok, put };
}

describe('revisions', () => {
  it('starts at 1, bumps once per write txn, not for writes that change nothing', () => {
    const { store, ok, put } = mk();
    expect(store.currentRevision()).toBe(1);
    expect(put('a', '1').header.revision).toBe(2);
    const t = ok<TxnResponse>({
      type: 'txn',
      req: { success: [{ requestPut: { key: b('x'), value: b('1') } }, { requestPut: { key: b('y'), value: b('1') } }, { requestRange: { key: b('x') } }] },
    });
    expect(t.header.revision).toBe(3);
    const r = t.responses[2]!;
    expect('responseRange' in r && r.responseRange.kvs.map((kv) => [str(kv.key), kv.modRevision])).toEqual([['x', 3]]);
    expect(ok<TxnResponse>({ type: 'txn', req: { success: [{ requestRange: { key: b('a') } }] } }).header.revision).toBe(3);
    expect(ok<{ deleted: number }>({ type: 'deleteRange', req: { key: b('missing') } }).deleted).toBe(0);
    expect(store.currentRevision()).toBe(3);
    const kv = store.range({ key: b('x') }).kvs[0]!;
    expect([kv.createRevision, kv.modRevision, kv.version]).toEqual([3, 3, 1]);
    put('x', '2');
    ok({ type: 'deleteRange', req: { key: b('x') } });
    put('x', '3');
    const kv2 = store.range({ key: b('x') }).kvs[0]!;
    expect([kv2.createRevision, kv2.modRevision, kv2.version]).toEqual([6, 6, 1]);
    // History: at revision 4 x had version 2.
    expect(store.range({ key: b('x'), revision: 4 }).kvs[0]!.version).toBe(2);
    expect(store.range({ key: b('x'), revision: 5 }).kvs).toEqual([]);
  });

  it('fails reads below the compaction and above the current revision with etcd texts', () => {
    const { store, ok, put, apply } = mk();
    for (let i = 0; i < 5; i++) put('k', `${i}`);
    ok({ type: 'compaction', req: { revision: 4 } });
    expect(() => store.range({ key: b('k'), revision: 3 })).toThrow(CompactedError);
    try {
      store.range({ key: b('k'), revision: 3 });
    } catch (e) {
      expect((e as CompactedError).grpcMessage).toBe('etcdserver: mvcc: required revision has been compacted');
      expect((e as CompactedError).grpcCode).toBe('OutOfRange');
    }
    expect(store.range({ key: b('k'), revision: 4 }).kvs[0]!.value).toEqual(b('2'));
    expect(() => store.range({ key: b('k'), revision: 7 })).toThrow('mvcc: required revision is a future revision');
    const again = apply({ type: 'compaction', req: { revision: 4 } });
    expect(!again.ok && again.error.message).toBe('mvcc: required revision has been compacted');
    const future = apply({ type: 'compaction', req: { revision: 99 } });
    expect(!future.ok && future.error.message).toBe('mvcc: required revision is a future revision');
  });
});

describe('range options', () => {
  it('prefix, from-key, all keys, limit/more/count, sort, count_only, keys_only, revision filters', () => {
    const { store, put } = mk();
    for (const k of ['a', 'b/1', 'b/2', 'b/3', 'c']) put(k, `v-${k}`);
    put('b/1', 'again'); // b/1: version 2, mod 7
    const keys = (r: { kvs: { key: Uint8Array }[] }) => r.kvs.map((kv) => str(kv.key));
    expect(keys(store.range({ key: b('b/'), rangeEnd: prefixEnd(b('b/')) }))).toEqual(['b/1', 'b/2', 'b/3']);
    expect(keys(store.range({ key: b('b/2'), rangeEnd: Uint8Array.of(0) }))).toEqual(['b/2', 'b/3', 'c']);
    expect(keys(store.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }))).toEqual(['a', 'b/1', 'b/2', 'b/3', 'c']);
    const lim = store.range({ key: b('b/'), rangeEnd: prefixEnd(b('b/')), limit: 2 });
    expect([keys(lim), lim.more, lim.count]).toEqual([['b/1', 'b/2'], true, 3]);
    const desc = store.range({ key: b('a'), rangeEnd: b('z'), sortOrder: SortOrder.DESCEND, sortTarget: SortTarget.MOD, limit: 2 });
    expect(keys(desc)).toEqual(['b/1', 'c']);
    const co = store.range({ key: b('a'), rangeEnd: b('z'), countOnly: true });
    expect([co.kvs.length, co.count]).toEqual([0, 5]);
    const ko = store.range({ key: b('a'), keysOnly: true });
    expect(ko.kvs[0]!.value.length).toBe(0);
    const mod = store.range({ key: b('a'), rangeEnd: b('z'), minModRevision: 4, maxModRevision: 6 });
    expect(keys(mod)).toEqual(['b/2', 'b/3', 'c']);
    expect(mod.count).toBe(5); // count ignores the filters, as etcd
    expect(keys(store.range({ key: b('a'), rangeEnd: b('z'), maxCreateRevision: 3 }))).toEqual(['a', 'b/1']);
  });

  it('rangeSteps reads one revision in bounded steps while writes and compaction go on', () => {
    const { store, ok, put } = mk();
    for (let i = 0; i < 3000; i++) put(`k/${String(i).padStart(5, '0')}`, `v${i}`);
    const req = { key: b('k/'), rangeEnd: prefixEnd(b('k/')) };
    const want = store.range(req);
    const it = store.rangeSteps(req, 100);
    let steps = 0;
    let r = it.next();
    while (!r.done) {
      steps++;
      // Between steps: overwrite, delete, create keys, and compact everything up to now.
      put(`k/${String(steps * 7).padStart(5, '0')}`, 'changed');
      ok({ type: 'deleteRange', req: { key: b(`k/${String(steps * 13).padStart(5, '0')}`) } });
      put(`k/0000${steps}x`, 'new');
      ok({ type: 'compaction', req: { revision: store.currentRevision() } });
      expect(store.compactStep(100_000)).toBe(true); // all it may do now
      expect(store.physicalCompactionPending()).toBe(true); // held back by the read's pin
      expect(store.openReads()).toBe(1);
      r = it.next();
    }
    expect(steps).toBeGreaterThanOrEqual(29);
    expect(store.openReads()).toBe(0); // the last step released the pin
    expect(r.value.kvs.length).toBe(3000);
    expect(r.value.kvs).toEqual(want.kvs);
    // Once the pin is released, physical compaction finishes.
    while (!store.compactStep(1000));
    expect(store.physicalCompactionPending()).toBe(false);
    store.checkInvariants();
  });

  it('a limited range at the current revision counts from the index what a full walk counts', () => {
    const SEED = 4242;
    console.log(`counted range seed ${SEED}`);
    const rng = new TestRng(SEED);
    const { store, ok, put } = mk();
    const k = (i: number): string => `k/${String(i).padStart(4, '0')}`;
    const lease = ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 60 } }).ID;
    for (let round = 0; round < 40; round++) {
      // Creates, overwrites, deletes (single and ranged), re-creates, keys on a lease, a revoke.
      for (let j = 0; j < 100; j++) put(k(rng.int(2000)), `v${round}`, round === 20 && j < 30 ? lease : 0n);
      for (let j = 0; j < 20; j++) ok({ type: 'deleteRange', req: { key: b(k(rng.int(2000))) } });
      if (round % 10 === 9) ok({ type: 'deleteRange', req: { key: b(k(rng.int(2000))), rangeEnd: b(k(rng.int(2000) + 50)) } });
      if (round === 30) ok({ type: 'leaseRevoke', req: { ID: lease } });
      if (round % 8 === 7) ok({ type: 'compaction', req: { revision: store.currentRevision() - 50 } });
      while (!store.compactStep(1000));
      const a = rng.int(2000);
      const req = { key: b(k(a)), rangeEnd: b(k(a + rng.int(1500))) };
      // Sorted (descending) reads walk the whole range; limited ones stop at limit + 1.
      const walked = store.range({ ...req, sortOrder: SortOrder.DESCEND });
      const limited = store.range({ ...req, limit: 7 });
      expect({ round, count: limited.count, more: limited.more }).toEqual({ round, count: walked.count, more: walked.count > 7 });
      expect(limited.kvs).toEqual(walked.kvs.slice().reverse().slice(0, 7));
      expect(store.range({ ...req, countOnly: true }).count).toBe(walked.count);
    }
    store.checkInvariants();
  });

  it('a limited range at an older revision counts from the changes since it what a full walk counts', () => {
    const SEED = 5151;
    console.log(`older-revision count seed ${SEED}`);
    const rng = new TestRng(SEED);
    const { store, ok, put } = mk();
    const k = (i: number): string => `k/${String(i).padStart(4, '0')}`;
    let fromLog = 0;
    let walkedInstead = 0;
    for (let round = 0; round < 60; round++) {
      // Creates, overwrites, deletes (single and ranged), and txns that put and delete one key.
      for (let j = 0; j < 1 + rng.int(60); j++) put(k(rng.int(1500)), `v${round}`);
      for (let j = 0; j < rng.int(15); j++) ok({ type: 'deleteRange', req: { key: b(k(rng.int(1500))) } });
      if (round % 7 === 3) ok({ type: 'deleteRange', req: { key: b(k(rng.int(1500))), rangeEnd: b(k(rng.int(1500) + 80)) } });
      if (round % 5 === 1) {
        const x = b(k(rng.int(1500)));
        const nested = (op: RequestOp): RequestOp => ({ requestTxn: { success: [op] } });
        ok({ type: 'txn', req: { success: [nested({ requestPut: { key: x, value: b('t') } }), nested({ requestDeleteRange: { key: x } }), { requestPut: { key: b(k(1500 + rng.int(20))), value: b('u') } }] } });
      }
      if (round % 9 === 8) ok({ type: 'compaction', req: { revision: store.currentRevision() - 40 - rng.int(40) } });
      while (!store.compactStep(1000));
      for (let q = 0; q < 5; q++) {
        const lo = store.compactRevision() + 1;
        const at = lo + rng.int(store.currentRevision() - lo + 1);
        const a = rng.int(1500);
        const z = a + 1 + rng.int(1200);
        const req = { key: b(k(a)), rangeEnd: b(k(z)), revision: at };
        const walked = store.range({ ...req, sortOrder: SortOrder.DESCEND });
        const limited = store.range({ ...req, limit: 5 });
        expect({ round, at, count: limited.count, more: limited.more }).toEqual({ round, at, count: walked.count, more: walked.count > 5 });
        expect(limited.kvs).toEqual(walked.kvs.slice().reverse().slice(0, 5));
        expect(store.range({ ...req, countOnly: true }).count).toBe(walked.count);
        const direct = store.liveCount({ start: k(a), end: k(z) }, at, store.currentRevision());
        if (direct === undefined) walkedInstead++;
        else {
          fromLog++;
          expect(direct).toBe(walked.count);
        }
      }
    }
    // Both ways were taken: counts from the log, and walks where the changes since were too many.
    console.log(`older-revision counts: ${fromLog} from the log, ${walkedInstead} walked`);
    expect(fromLog).toBeGreaterThan(50);
    expect(walkedInstead).toBeGreaterThan(10);
    store.checkInvariants();
  });

  it('a range at an older revision inside a writing txn counts what the txn sees', () => {
    const { store, ok, put } = mk();
    for (let i = 0; i < 20; i++) put(`k/${i}`, 'v');
    const at = store.currentRevision();
    put('k/1', 'w');
    const t = ok<TxnResponse>({
      type: 'txn',
      req: {
        success: [
          { requestDeleteRange: { key: b('k/'), rangeEnd: prefixEnd(b('k/')) } },
          { requestRange: { key: b('k/'), rangeEnd: prefixEnd(b('k/')), revision: at, limit: 3 } },
          { requestRange: { key: b('k/'), rangeEnd: prefixEnd(b('k/')), limit: 3 } },
        ],
      },
    });
    const counts = t.responses.slice(1).map((r) => ('responseRange' in r ? [r.responseRange.count, r.responseRange.kvs.length] : []));
    expect(counts).toEqual([[20, 3], [0, 0]]);
  });

  it('rangeSteps pins history only once it yields: a read done in one step takes no pin', () => {
    const { store, put } = mk();
    for (let i = 0; i < 10; i++) put(`k/${i}`, `v${i}`);
    const req = { key: b('k/'), rangeEnd: prefixEnd(b('k/')) };
    const one = store.rangeSteps(req, 100);
    const r = one.next();
    expect(r.done && r.value.kvs.length).toBe(10);
    expect(store.openReads()).toBe(0);
    const two = store.rangeSteps(req, 5);
    expect(two.next().done).toBe(false);
    expect(store.openReads()).toBe(1);
    two.return(undefined as never);
    expect(store.openReads()).toBe(0);
  });
});

describe('compaction at the edges, as etcd', () => {
  it('compacting a never-compacted store to 0 is a no-op; HashKV says compact_revision -1 until the first compaction', () => {
    const { store, apply, put } = mk();
    put('a', '1');
    put('a', '2');
    expect(store.hashKV().compactRevision).toBe(-1);
    const zero = apply({ type: 'compaction', req: { revision: 0 } });
    expect(zero.ok && (zero.response as { header: { revision: number } }).header.revision).toBe(3);
    expect(store.range({ key: b('a'), revision: 2 }).kvs.map((kv) => str(kv.value))).toEqual(['1']);
    expect(store.hashKV().compactRevision).toBe(-1);
    apply({ type: 'compaction', req: { revision: 2 } });
    expect(store.hashKV().compactRevision).toBe(2);
    const again = apply({ type: 'compaction', req: { revision: 0 } });
    expect(!again.ok && again.error.grpcMessage).toBe('etcdserver: mvcc: required revision has been compacted');
  });
});

describe('headers inside a txn', () => {
  it("carry etcd's revisions: range as read so far, put the txn's, delete once changed, nested txn none", () => {
    const { ok, put } = mk();
    put('a', '1'); // rev 2
    const t = ok<TxnResponse>({
      type: 'txn',
      req: {
        success: [
          { requestRange: { key: b('a') } },
          { requestDeleteRange: { key: b('missing') } },
          { requestPut: { key: b('b'), value: b('1') } },
          { requestRange: { key: b('b') } },
          { requestDeleteRange: { key: b('missing2') } },
          { requestTxn: { success: [{ requestRange: { key: b('a') } }] } },
        ],
      },
    });
    const revs = t.responses.map((r) => {
      if ('responseRange' in r) return r.responseRange.header.revision;
      if ('responsePut' in r) return r.responsePut.header.revision;
      if ('responseDeleteRange' in r) return r.responseDeleteRange.header.revision;
      return r.responseTxn.header.revision;
    });
    expect(revs).toEqual([2, 2, 3, 3, 3, 0]);
    expect(t.header.revision).toBe(3);
    const nested = t.responses[5]!;
    expect('responseTxn' in nested && nested.responseTxn.responses.map((r) => 'responseRange' in r && r.responseRange.header.revision)).toEqual([3]);
  });
});

describe('put, delete and txn rules', () => {
  it('prev_kv, ignore_value, ignore_lease and their errors', () => {
    const { ok, apply, put } = mk();
    const g = ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 60 } });
    put('k', 'v1', g.ID);
    const p = ok<PutResponse>({ type: 'put', req: { key: b('k'), ignoreValue: true, ignoreLease: true, prevKv: true } });
    expect(p.prevKv && [str(p.prevKv.value), p.prevKv.lease]).toEqual(['v1', g.ID]);
    const miss = apply({ type: 'put', req: { key: b('nokey'), ignoreValue: true } });
    expect(!miss.ok && miss.error.grpcMessage).toBe('etcdserver: key not found');
    const vp = apply({ type: 'put', req: { key: b('k'), value: b('x'), ignoreValue: true } });
    expect(!vp.ok && vp.error.grpcMessage).toBe('etcdserver: value is provided');
    const nl = apply({ type: 'put', req: { key: b('k'), value: b('x'), lease: 12345n } });
    expect(!nl.ok && [nl.error.message, nl.error.grpcMessage]).toEqual(['lease not found', 'etcdserver: requested lease not found']);
    const ek = apply({ type: 'put', req: { key: new Uint8Array(0), value: b('x') } });
    expect(!ek.ok && ek.error.grpcMessage).toBe('etcdserver: key is not provided');
  });

  it('rejects duplicate keys with etcd texts, and changes nothing', () => {
    const { store, apply } = mk();
    const dup = apply({ type: 'txn', req: { success: [{ requestPut: { key: b('a') } }, { requestPut: { key: b('a') } }] } });
    expect(!dup.ok && dup.error.grpcMessage).toBe('etcdserver: duplicate key given in txn request');
    const overlap = apply({
      type: 'txn',
      req: { success: [{ requestDeleteRange: { key: b('a'), rangeEnd: b('c') } }, { requestPut: { key: b('b') } }] },
    });
    expect(!overlap.ok && overlap.error.code).toBe('duplicateKey');
    const branches = apply({
      type: 'txn',
      req: { success: [{ requestTxn: { success: [{ requestPut: { key: b('a') } }], failure: [{ requestPut: { key: b('a') } }] } }] },
    });
    expect(branches.ok).toBe(true); // one key in both branches of one nested txn is fine
    expect(store.currentRevision()).toBe(2);
    // The op limit (--max-txn-ops) is a per-member flag: the server checks it, apply does not
    // (members with different limits must still apply alike). validate.test.ts covers it.
  });

  it('compares on a range: every key must match; a missing key fails a value compare', () => {
    const { ok, put } = mk();
    put('r/1', 'x');
    put('r/2', 'x');
    const all = (v: string) =>
      ok<TxnResponse>({ type: 'txn', req: { compare: [{ result: 0, target: 3, key: b('r/'), rangeEnd: prefixEnd(b('r/')), value: b(v) }] } }).succeeded;
    expect(all('x')).toBe(true);
    put('r/2', 'y');
    expect(all('x')).toBe(false);
    expect(ok<TxnResponse>({ type: 'txn', req: { compare: [{ result: 0, target: 3, key: b('none'), value: new Uint8Array(0) }] } }).succeeded).toBe(false);
    expect(ok<TxnResponse>({ type: 'txn', req: { compare: [{ result: 0, target: 2, key: b('none'), modRevision: 0 }] } }).succeeded).toBe(true);
  });
});

describe('leases', () => {
  it('grant (chosen ids are deterministic), duplicate id, min TTL, revoke deletes keys in one revision', () => {
    const a = mk();
    const c = mk();
    const ga = a.ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 1 } });
    const gc = c.ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 1 } });
    expect(ga.ID).toBe(gc.ID);
    expect(ga.ID).toBeGreaterThan(0);
    expect(ga.TTL).toBe(2); // raised to the minimum
    const dupe = a.apply({ type: 'leaseGrant', req: { TTL: 10, ID: ga.ID } });
    expect(!dupe.ok && dupe.error.grpcMessage).toBe('etcdserver: lease already exists');
    a.put('x', '1', ga.ID);
    a.put('y', '1', ga.ID);
    a.put('y', '2'); // detached
    const rev = a.store.currentRevision();
    const ttl = a.store.leaseTimeToLive({ ID: ga.ID, keys: true }, 0);
    expect(ttl.keys.map(str)).toEqual(['x']);
    a.ok({ type: 'leaseRevoke', req: { ID: ga.ID } });
    expect(a.store.currentRevision()).toBe(rev + 1);
    expect(a.store.range({ key: b('x') }).kvs).toEqual([]);
    expect(a.store.range({ key: b('y') }).kvs.length).toBe(1);
    expect(a.store.leaseTimeToLive({ ID: ga.ID }, 0).TTL).toBe(-1);
    const again = a.apply({ type: 'leaseRevoke', req: { ID: ga.ID } });
    expect(!again.ok && again.error.code).toBe('leaseNotFound');
  });

  it('the leader decides expiry with its clock; promote extends; checkpoints survive a leader change', () => {
    const { store, ok } = mk();
    const g = ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 10 } });
    const l = store.lessor;
    expect(l.expired(1_000_000, 10)).toEqual([]); // not leader
    l.promote(0, 1000);
    expect(l.expired(10_999, 10)).toEqual([]);
    expect(l.expired(11_000, 10)).toEqual([g.ID]);
    expect(l.expired(11_001, 10)).toEqual([]); // revoke in flight, retried after 3 s
    expect(l.expired(14_000, 10)).toEqual([g.ID]);
    // An expired lease is not renewed while its revoke is in flight (etcd's Renew waits for it).
    expect(l.renew(g.ID, 14_500)).toEqual({ TTL: 0, clearCheckpoint: false, expired: true });
    // The revoke was lost with the leadership: the next leader extends the lease, and renews it.
    l.demote();
    l.promote(15_000, 1000);
    expect(l.renew(g.ID, 20_000)).toEqual({ TTL: 10, clearCheckpoint: false });
    expect(store.leaseTimeToLive({ ID: g.ID }, 24_000).TTL).toBe(6);
    const cps = l.checkpointsDue(27_000, 5_000, 10);
    expect(cps).toEqual([{ ID: g.ID, remainingTTL: 3 }]);
    ok({ type: 'leaseCheckpoint', req: { checkpoints: cps } });
    // A new leader (another member) counts from the checkpoint, plus the extension.
    l.demote();
    expect(l.expired(1e9, 10)).toEqual([]);
    l.promote(100_000, 1000);
    expect(l.expired(103_999, 10)).toEqual([]);
    expect(l.expired(104_000, 10)).toEqual([g.ID]);
    expect(l.renew(g.ID, 200_000)).toEqual({ TTL: 0, clearCheckpoint: false, expired: true }); // expired: not renewed
    l.demote();
    l.promote(300_000, 0);
    expect(l.renew(g.ID, 300_001).clearCheckpoint).toBe(true);
    expect(l.renew(12345n, 0).TTL).toBe(0);
  });
  it('a client-chosen id revoked and granted again starts from its full TTL', () => {
    const { store, ok } = mk();
    store.lessor.promote(0, 0);
    ok({ type: 'leaseGrant', req: { TTL: 10, ID: 5n } });
    expect(store.lessor.expired(1000, 10)).toEqual([]); // expiry set: 10 s
    ok({ type: 'leaseRevoke', req: { ID: 5n } });
    ok({ type: 'leaseGrant', req: { TTL: 10, ID: 5n } });
    expect(store.lessor.expired(10_500, 10)).toEqual([]); // not the old expiry at 10 s
    expect(store.lessor.expired(20_500, 10)).toEqual([5n]);
  });
});

describe('quota and alarms', () => {
  it('NOSPACE rejects puts, txns with puts and lease grants; allows reads, deletes, compaction; disarm restores', () => {
    const { store, apply, put, ok } = mk({ quotaBackendBytes: 2000 });
    put('a', 'x'.repeat(500));
    expect(store.quotaAllows({ type: 'put', req: { key: b('b'), value: b('y'.repeat(100)) } })).toBe(true);
    expect(store.quotaAllows({ type: 'put', req: { key: b('b'), value: b('y'.repeat(2000)) } })).toBe(false);
    expect(store.quotaAllows({ type: 'deleteRange', req: { key: b('a') } })).toBe(true);
    ok({ type: 'alarm', req: { action: 1, memberID: 7n, alarm: AlarmType.NOSPACE } });
    expect(store.alarms()).toEqual([{ memberID: 7n, alarm: AlarmType.NOSPACE }]);
    const p = apply({ type: 'put', req: { key: b('b'), value: b('1') } });
    expect(!p.ok && [p.error.grpcMessage, p.error.grpcCode]).toEqual(['etcdserver: mvcc: database space exceeded', 'ResourceExhausted']);
    const t = apply({ type: 'txn', req: { failure: [{ requestPut: { key: b('b') } }] } });
    expect(!t.ok && t.error.code).toBe('noSpace');
    expect(apply({ type: 'leaseGrant', req: { TTL: 5 } }).ok).toBe(false);
    expect(apply({ type: 'txn', req: { success: [{ requestDeleteRange: { key: b('zz') } }] } }).ok).toBe(true);
    expect(store.range({ key: b('a') }).kvs.length).toBe(1);
    expect(apply({ type: 'deleteRange', req: { key: b('a') } }).ok).toBe(true);
    expect(apply({ type: 'compaction', req: { revision: store.currentRevision() } }).ok).toBe(true);
    const before = store.sizeBytes();
    while (!store.compactStep(10));
    expect(store.sizeBytes()).toBeLessThan(before);
    ok({ type: 'alarm', req: { action: 2, memberID: 7n, alarm: AlarmType.NOSPACE } });
    expect(store.alarms()).toEqual([]);
    expect(apply({ type: 'put', req: { key: b('b'), value: b('1') } }).ok).toBe(true);
  });
});

describe('the quota against the total size (etcd: be.Size() + cost < quota)', () => {
  /** Values kept like the value log's: appended, dead ones still counted until a defragment. */
  class LogLike extends InHeapValues {
    bytes = 0;
    override append(v: Uint8Array): ValueRef {
      this.bytes += v.length;
      return super.append(v);
    }
    totalBytes(): number {
      return this.bytes;
    }
  }

  it('counts dead bytes as etcd counts free pages: a compaction alone makes no room, a defragment does', () => {
    const values = new LogLike();
    const { store, put, ok } = mk({ quotaBackendBytes: 18_000, values });
    for (let i = 0; i < 4; i++) put('a', String(i).repeat(3000)); // one live value, three dead after compaction
    ok({ type: 'compaction', req: { revision: store.currentRevision() } });
    while (!store.compactStep(10));
    const big = { type: 'put' as const, req: { key: b('b'), value: b('y'.repeat(6000)) } };
    expect(store.sizeBytes() + 6000 + 1000).toBeLessThan(18_000); // the live data would fit...
    expect(store.totalSizeBytes() + 6000).toBeGreaterThan(18_000);
    expect(store.quotaAllows(big)).toBe(false); // ...but the total with the dead bytes does not
    values.bytes = 3000; // what a defragment leaves: the live value only
    expect(store.quotaAllows(big)).toBe(true);
  });

  it('refuses a write that would reach the quota exactly (strictly below, as etcd)', () => {
    const { store } = mk({ quotaBackendBytes: 10_000 });
    // A put of key 'k' costs 1 + KEY_OVERHEAD_BYTES + the value + REV_OVERHEAD_BYTES.
    const fits = 10_000 - store.totalSizeBytes() - (1 + KEY_OVERHEAD_BYTES + REV_OVERHEAD_BYTES) - 1;
    expect(store.quotaAllows({ type: 'put', req: { key: b('k'), value: b('v'.repeat(fits)) } })).toBe(true);
    expect(store.quotaAllows({ type: 'put', req: { key: b('k'), value: b('v'.repeat(fits + 1)) } })).toBe(false);
  });
});

describe('64-bit ids', () => {
  // Ids that a JS number cannot hold: each must come back exactly, through apply, the command
  // codec, a snapshot and the hash.
  const wide = [2n ** 53n + 1n, 2n ** 60n, 2n ** 63n - 1n, -(2n ** 63n)];
  it('client-chosen lease ids of any int64 are granted, attached, listed, looked up and revoked exactly', () => {
    const { store, ok, put, apply } = mk();
    for (const ID of wide) expect(ok<LeaseGrantResponse>(decodeCommand(encodeCommand({ type: 'leaseGrant', req: { TTL: 30, ID } })) as Command).ID).toBe(ID);
    // 2^53 + 1 and 2^53 round to the same number: both are distinct leases here.
    expect(ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 30, ID: 2n ** 53n } }).ID).toBe(2n ** 53n);
    expect(store.leaseLeases().leases.map((l) => l.ID)).toEqual([-(2n ** 63n), 2n ** 53n, 2n ** 53n + 1n, 2n ** 60n, 2n ** 63n - 1n]);
    put('k', 'v', 2n ** 63n - 1n);
    expect(store.range({ key: b('k') }).kvs[0]!.lease).toBe(2n ** 63n - 1n);
    const ttl = store.leaseTimeToLive({ ID: 2n ** 53n + 1n }, 0);
    expect([ttl.ID, ttl.grantedTTL]).toEqual([2n ** 53n + 1n, 30]);
    expect(store.leaseTimeToLive({ ID: 2n ** 53n + 3n }, 0).TTL).toBe(-1);
    const dup = apply({ type: 'leaseGrant', req: { TTL: 30, ID: 2n ** 60n } });
    expect(!dup.ok && dup.error.code).toBe('leaseExists');
    const c = new MvccStore();
    c.restore(store.snapshotChunks(100));
    expect(c.hash().hash).toBe(store.hash().hash);
    expect(c.range({ key: b('k') }).kvs[0]!.lease).toBe(2n ** 63n - 1n);
    ok({ type: 'leaseRevoke', req: { ID: 2n ** 63n - 1n } });
    expect(store.range({ key: b('k') }).kvs).toEqual([]);
    expect(store.hash().hash).not.toBe(c.hash().hash);
  });
  it('generated lease ids use 63 bits and are positive', () => {
    const { ok } = mk();
    const ids = Array.from({ length: 50 }, () => ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 5 } }).ID);
    for (const id of ids) expect(id > 0n && id < 2n ** 63n).toBe(true);
    expect(ids.some((id) => id >= 2n ** 53n)).toBe(true);
  });
  it('an alarm for member 2^63 + 5 is stored under that id, and survives a snapshot', () => {
    const { store, ok } = mk();
    const member = 2n ** 63n + 5n;
    ok(decodeCommand(encodeCommand({ type: 'alarm', req: { action: 1, memberID: member, alarm: AlarmType.NOSPACE } })) as Command);
    ok({ type: 'alarm', req: { action: 1, memberID: 2n ** 63n + 4n, alarm: AlarmType.NOSPACE } });
    expect(store.alarms().map((a) => a.memberID)).toEqual([2n ** 63n + 4n, member]);
    const c = new MvccStore();
    c.restore(store.snapshotChunks(100));
    expect(c.alarms()).toEqual(store.alarms());
    ok({ type: 'alarm', req: { action: 2, memberID: member, alarm: AlarmType.NOSPACE } });
    expect(store.alarms().map((a) => a.memberID)).toEqual([2n ** 63n + 4n]);
  });
  it("a restore checks the trailer's CRC-32C unless the caller checked the bytes already (a snapshot file's own checksum)", () => {
    const { ok, store } = mk();
    ok({ type: 'put', req: { key: b('a'), value: b('1') } });
    ok({ type: 'put', req: { key: b('b'), value: b('2') } });
    const whole = Buffer.concat([...store.snapshotChunks(1 << 20)]);
    // The trailer ends with the CRC: change it.
    const bad = Buffer.from(whole);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    expect(() => new MvccStore().restore([bad])).toThrow(/checksum mismatch/);
    const c = new MvccStore();
    const r = c.beginRestore({ checked: true });
    r.write(bad);
    r.finish();
    expect(c.hash().hash).toBe(store.hash().hash);
  });
  it('ids below 2^53 encode to the same bytes as when they were numbers (entries in old WALs read back)', () => {
    const w = new ByteWriter();
    for (const n of [0, 1, -1, 2 ** 52, -(2 ** 52), 2 ** 53 - 1]) {
      w.reset();
      w.varint(n);
      const old = Buffer.from(w.view());
      w.reset();
      w.varintBig(BigInt(n));
      expect(Buffer.from(w.view())).toEqual(old);
      expect(new ByteReader(old).varintBig()).toBe(BigInt(n));
    }
  });
});

describe('snapshots of a key with many revisions', () => {
  // Past STREAMED_KEY_REVISIONS a key's record is written straight into the chunks, cut wherever
  // a chunk fills, behind a length from a sizing pass. The restore parses records by that length.
  function many() {
    const { store, ok, put } = mk();
    const rng = new TestRng(11);
    const wide = 2n ** 63n - 1n;
    ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 30, ID: wide } });
    ok<LeaseGrantResponse>({ type: 'leaseGrant', req: { TTL: 30, ID: 7n } });
    put('a', 'first');
    for (let i = 0; i < 3000; i++) {
      const r = rng.int(20);
      if (r === 0) ok({ type: 'deleteRange', req: { key: b('big') } });
      else put('big', 'v'.repeat(rng.int(40)), r === 1 ? wide : r === 2 ? 7n : 0n);
    }
    put('c', 'last');
    ok({ type: 'compaction', req: { revision: 500 } });
    while (!store.compactStep(1000)); // physical too: the kept revisions start past index 0
    put('big', 'after the compaction');
    return store;
  }

  it('comes out the same in any chunk size, each chunk near its bound, and restores to the same state and history', () => {
    const store = many();
    const whole = Buffer.concat([...store.snapshotChunks(1 << 30)]);
    for (const maxBytes of [64, 1000, 8192]) {
      const chunks = [...store.snapshotChunks(maxBytes)];
      expect(chunks.length, `maxBytes ${maxBytes}`).toBeGreaterThan(whole.length / maxBytes / 2);
      // A chunk ends at the first revision (or key, or trailer) that fills it: at most ~60 bytes over here.
      for (const c of chunks) expect(c.length, `maxBytes ${maxBytes}`).toBeLessThan(maxBytes + 100);
      expect(Buffer.concat(chunks).equals(whole), `maxBytes ${maxBytes}`).toBe(true);
    }
    const back = new MvccStore();
    back.restore(store.snapshotChunks(1000));
    expect(back.hash()).toEqual(store.hash());
    expect(back.hashKV(0)).toEqual(store.hashKV(0));
    for (const rev of [500, 501, 1700, store.currentRevision() - 2, store.currentRevision()]) {
      expect(back.range({ key: b('big'), revision: rev }), `revision ${rev}`).toEqual(store.range({ key: b('big'), revision: rev }));
    }
  });

  it('keeps to the state it started from while writes go on between its chunks', () => {
    const store = many();
    const want = store.hashKV(0);
    const at = store.currentRevision();
    const chunks: Uint8Array[] = [];
    let index = 10_000;
    for (const c of store.snapshotChunks(500)) {
      chunks.push(c);
      store.apply({ type: 'put', req: { key: b('big'), value: b('later') } }, ++index);
    }
    const back = new MvccStore();
    back.restore(chunks);
    expect(back.currentRevision()).toBe(at);
    expect(back.hashKV(0)).toEqual(want);
  });
});

describe('read-only txns outside the log (txnRead, etcd serves them without raft)', () => {
  const SEED = 20261206;
  const keys = ['a', 'b', 'c', 'd'];

  /** A random txn of compares and ranges (some nested), over keys a-d and revisions 1..rev. */
  function readTxn(rng: TestRng, rev: number, depth = 0): TxnRequest {
    const compare: Compare[] = Array.from({ length: rng.int(3) }, () => {
      const target = rng.pick(Object.values(CompareTarget));
      const c: Compare = { key: b(rng.pick(keys)), target, result: rng.pick(Object.values(CompareResult)) };
      if (rng.chance(0.2)) c.rangeEnd = b('z');
      if (target === CompareTarget.VALUE) c.value = b(String(rng.int(4)));
      else if (target === CompareTarget.VERSION) c.version = rng.int(4);
      else if (target === CompareTarget.CREATE) c.createRevision = rng.int(rev + 1);
      else if (target === CompareTarget.MOD) c.modRevision = rng.int(rev + 1);
      else c.lease = 0n;
      return c;
    });
    const ops = (): RequestOp[] =>
      Array.from({ length: rng.int(3) }, (): RequestOp => {
        if (depth < 2 && rng.chance(0.2)) return { requestTxn: readTxn(rng, rev, depth + 1) };
        const r: RangeRequest = { key: b(rng.pick(keys)) };
        if (rng.chance(0.5)) r.rangeEnd = b(rng.pick(['c', 'z', '\0']));
        if (rng.chance(0.3)) r.limit = 1 + rng.int(2);
        if (rng.chance(0.3)) r.revision = 1 + rng.int(rev);
        if (rng.chance(0.2)) r.countOnly = true;
        if (rng.chance(0.2)) r.keysOnly = true;
        if (rng.chance(0.2)) r.sortOrder = SortOrder.DESCEND;
        return { requestRange: r };
      });
    return { compare, success: ops(), failure: ops() };
  }

  it(`answers as applying the same txn does, and changes nothing (seed ${SEED})`, () => {
    const rng = new TestRng(SEED);
    const { store, apply, put } = mk();
    let checked = 0;
    for (let step = 0; step < 400; step++) {
      if (rng.chance(0.3)) put(rng.pick(keys), String(rng.int(4)));
      if (rng.chance(0.05)) apply({ type: 'deleteRange', req: { key: b(rng.pick(keys)) } });
      const t = readTxn(rng, store.currentRevision());
      const before = store.hashKV();
      let read: TxnResponse | Error;
      try {
        read = store.txnRead(t);
      } catch (e) {
        read = e as Error;
      }
      expect(store.hashKV()).toEqual(before);
      const applied = apply({ type: 'txn', req: t });
      if (applied.ok) expect(read).toEqual(applied.response);
      else expect((read as Error).message).toBe(applied.error.message);
      checked++;
    }
    expect(checked).toBe(400);
  });

  it('refuses a compacted revision as a range does, and any txn that writes', () => {
    const { store, apply, put } = mk();
    put('a', '1');
    put('a', '2');
    apply({ type: 'compaction', req: { revision: 3 } });
    expect(() => store.txnRead({ success: [{ requestRange: { key: b('a'), revision: 2 } }] })).toThrow(CompactedError);
    expect(() => store.txnRead({ failure: [{ requestTxn: { success: [{ requestPut: { key: b('a'), value: b('3') } }] } }] })).toThrow(/writes/);
    expect(store.currentRevision()).toBe(3);
  });
});
