// The one request validator (validate.ts), with the cases of issues 17 and 18 pinned, and the
// store's apply shown total: any decodable command gets an answer, never a throw.
import { describe, expect, it } from 'vitest';
import { APPLY_MAX_TXN_OPS, DEFAULT_MAX_TXN_OPS, validateCommand, validateRange } from './validate.js';
import { MvccStore } from './store.js';
import { decodeCommand, encodeCommand } from './codec.js';
import type { Command, RequestOp, TxnRequest } from './types.js';
import { TestRng } from './testing/rng.js';
import { randomCommand } from './testing/random-commands.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const put = (k: string): RequestOp => ({ requestPut: { key: b(k), value: b('v') } });
const txn = (req: TxnRequest): Command => ({ type: 'txn', req });
const check = (cmd: Command): string | undefined => validateCommand(cmd, DEFAULT_MAX_TXN_OPS)?.grpcMessage;

describe('validateCommand', () => {
  it('refuses a compare whose result or target is out of range (issue 17)', () => {
    expect(check(txn({ compare: [{ key: b('k'), result: 9 as 0, target: 0 }] }))).toBe(
      'etcdserver: invalid request: compare result 9 is not one of EQUAL, GREATER, LESS, NOT_EQUAL',
    );
    expect(check(txn({ compare: [{ key: b('k'), result: 0, target: 9 as 0 }] }))).toMatch(/^etcdserver: invalid request: compare target 9/);
    // Also inside a nested txn.
    expect(check(txn({ success: [{ requestTxn: { compare: [{ key: b('k'), result: -1 as 0, target: 0 }] } }] }))).toMatch(/compare result -1/);
  });

  it('refuses an alarm with an unknown action or type, and an inexact member id', () => {
    expect(check({ type: 'alarm', req: { action: 9 as 0, memberID: 0n, alarm: 1 } })).toMatch(/^etcdserver: invalid request: alarm action 9/);
    expect(check({ type: 'alarm', req: { action: 1, memberID: 0n, alarm: 7 as 0 } })).toMatch(/alarm type 7/);
    expect(check({ type: 'alarm', req: { action: 1, memberID: 2n ** 63n + 5n, alarm: 1 } })).toBeUndefined();
    expect(check({ type: 'alarm', req: { action: 1, memberID: 2n ** 64n, alarm: 1 } })).toMatch(/member ID must be a uint64/);
    expect(check({ type: 'alarm', req: { action: 2, memberID: 5n, alarm: 0 } })).toBeUndefined();
  });

  it("answers an empty RequestOp with etcd's 'key not found', at any depth", () => {
    expect(check(txn({ success: [{} as RequestOp] }))).toBe('etcdserver: key not found');
    expect(check(txn({ failure: [{ requestTxn: { success: [{} as RequestOp] } }] }))).toBe('etcdserver: key not found');
    const two = { requestPut: { key: b('a') }, requestRange: { key: b('a') } } as unknown as RequestOp;
    expect(check(txn({ success: [two] }))).toMatch(/exactly one is allowed/);
  });

  it('counts nested ops against the limit as etcd does: a nested txn gets what its parent left (issue 18)', () => {
    const many = (n: number, p: string) => Array.from({ length: n }, (_, i) => put(`${p}${i}`));
    const nested = (outer: number, inner: number): Command => txn({ success: [...many(outer, 'o'), { requestTxn: { success: many(inner, 'i') } }] });
    expect(check(nested(100, 100))).toBe('etcdserver: too many operations in txn request');
    expect(check(nested(10, 117))).toBeUndefined(); // 128 - 11
    expect(check(nested(10, 118))).toBe('etcdserver: too many operations in txn request');
    expect(check(txn({ compare: Array.from({ length: 129 }, () => ({ key: b('k'), result: 0, target: 0 })) }))).toBe(
      'etcdserver: too many operations in txn request',
    );
    // Apply leaves the limit to the server (it is a per-member flag).
    expect(validateCommand(nested(100, 100), APPLY_MAX_TXN_OPS)).toBeNull();
  });

  it("keeps etcd's other checks: empty keys, ignore_value/ignore_lease misuse, duplicates, sort options, lease ids", () => {
    expect(check({ type: 'put', req: { key: b('') } })).toBe('etcdserver: key is not provided');
    expect(check(txn({ compare: [{ key: b(''), result: 0, target: 0 }] }))).toBe('etcdserver: key is not provided');
    expect(check({ type: 'put', req: { key: b('k'), value: b('x'), ignoreValue: true } })).toBe('etcdserver: value is provided');
    expect(check({ type: 'put', req: { key: b('k'), lease: 5n, ignoreLease: true } })).toBe('etcdserver: lease is provided');
    expect(check(txn({ success: [put('a'), put('a')] }))).toBe('etcdserver: duplicate key given in txn request');
    expect(validateRange({ key: b('k'), sortOrder: 3 as 0 })?.grpcMessage).toBe('etcdserver: invalid sort option');
    expect(validateRange({ key: b('k'), sortTarget: 5 as 0 })?.grpcMessage).toBe('etcdserver: invalid sort option');
    expect(check(txn({ success: [{ requestRange: { key: b('k'), sortTarget: 5 as 0 } }] }))).toBe('etcdserver: invalid sort option');
    expect(check({ type: 'leaseGrant', req: { TTL: 10, ID: 2n ** 60n } })).toBeUndefined();
    expect(check({ type: 'leaseGrant', req: { TTL: 10, ID: 2n ** 63n } })).toMatch(/lease ID must be an int64/);
    expect(check({ type: 'leaseGrant', req: { TTL: 9_000_000_001 } })).toBe('etcdserver: too large lease TTL');
    expect(check({ type: 'leaseRevoke', req: { ID: 2n ** 60n } })).toBeUndefined();
  });
});

describe('apply is total', () => {
  it('a command with an out-of-range enum, straight from the log, is an error answer that changes nothing', () => {
    const store = new MvccStore();
    const bytes = encodeCommand(txn({ compare: [{ key: b('k'), result: 9 as 0, target: 0 }], success: [put('k')] }));
    const r = store.apply(decodeCommand(bytes), 1);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.grpcCode).toBe('InvalidArgument');
    const a = store.apply({ type: 'alarm', req: { action: 9 as 0, memberID: 1n, alarm: 1 } }, 2);
    expect(a.ok).toBe(false);
    expect(store.currentRevision()).toBe(1);
  });

  it('random commands with mutated bytes either fail to decode or apply without throwing (seeded)', () => {
    for (const seed of [11, 12, 13]) {
      const rng = new TestRng(seed);
      const store = new MvccStore();
      for (let i = 0; i < 3000; i++) {
        const bytes = Buffer.from(encodeCommand(randomCommand(rng, { revision: store.currentRevision(), compactRevision: store.compactRevision(), leases: [7n] })));
        const flips = rng.int(4);
        for (let f = 0; f < flips; f++) bytes[rng.int(bytes.length)] = rng.int(256);
        let cmd: Command;
        try {
          cmd = decodeCommand(bytes);
        } catch {
          continue; // the runtime skips an undecodable entry (entry-decode.ts)
        }
        expect(() => store.apply(cmd, i + 1), `seed ${seed} #${i}`).not.toThrow();
      }
    }
  });
});
