import { describe, expect, it } from 'vitest';
import { normalize, replaceIds, type IdNames } from './normalize.js';

const names: IdNames = {
  ids: [
    ['m1', 12345678901234567890n],
    ['lease1', 0x694d7a1f2b3c4d5en],
    ['cluster', 1234n],
  ],
  ports: [['m1-client', 40603]],
};

describe('differential test normalizer', () => {
  it('names IDs in decimal, hex and zero-padded hex, and ports, but not numbers that merely contain them', () => {
    expect(replaceIds('member 12345678901234567890 lease 694d7a1f2b3c4d5e id 00000000000004d2 x=123412345 http://127.0.0.1:40603', names)).toBe(
      'member <m1> lease <lease1> id <cluster> x=123412345 http://127.0.0.1:<m1-client>',
    );
  });

  it('keeps every digit of a uint64 in JSON, sorts keys, and masks only Raft terms, indexes, sizes and lease countdowns', () => {
    const etcd = normalize({ status: 'exit=0', body: `{"header":{"revision":9,"raft_term":2,"member_id":12345678901234567890},"ID":${0x694d7a1f2b3c4d5en},"TTL":598,"grantedTTL":600}` }, names);
    expect(etcd).toBe('exit=0\n{"ID":"<lease1>","TTL":"<n>","grantedTTL":600,"header":{"member_id":"<m1>","raft_term":"<n>","revision":9}}');
    // A revision is never masked: the same session must reach the same revisions on both sides.
    const other = normalize({ status: 'exit=0', body: `{"header":{"revision":10,"raft_term":2,"member_id":12345678901234567890},"ID":${0x694d7a1f2b3c4d5en},"TTL":598,"grantedTTL":600}` }, names);
    expect(other).not.toBe(etcd);
  });

  it("summarizes etcdctl's JSON client logs and sorts lines that come from a Go map", () => {
    const o = normalize(
      { status: 'exit=1', body: 'b\na', unordered: true, stderr: '{"level":"warn","ts":"2026-12-02T01:50:58Z","msg":"retrying of unary invoker failed","error":"rpc error: code = OutOfRange"}' },
      names,
    );
    expect(o).toBe('exit=1\na\nb\nstderr: log warn: retrying of unary invoker failed: rpc error: code = OutOfRange');
  });
});
