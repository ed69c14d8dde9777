// Issue 17/18 regressions, against a real 3-member cluster: requests a raw gRPC client can send
// that once destroyed a cluster for good (every member applied them, failed, stopped, and stopped
// again on restart when the WAL replayed them) or got the wrong answer. Each must now be refused
// before Raft with etcd's code and text, and the cluster must stay alive and in agreement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { RawClient, encode } from '../fuzz/raw-client.js';
import { clusterProblems } from '../fuzz/cluster-checks.js';
import { Cluster, requireTools } from './harness.js';

const tools = requireTools();
const key = (s: string): Buffer => Buffer.from(s);
const put = (k: string): unknown => ({ requestPut: { key: key(k), value: key('v') } });

describe.skipIf(!tools.ok)('malformed client requests (real processes)', () => {
  let cluster: Cluster;
  let client: RawClient;
  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3, label: 'malformed' });
    client = new RawClient(`127.0.0.1:${cluster.members[0]!.clientPort}`);
  }, 120_000);
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  const txn = (req: unknown) => client.call('KV', 'Txn', encode('KV', 'Txn', req));

  it('a Compare with result 9 is refused with InvalidArgument, and no member stops', async () => {
    const a = await txn({ compare: [{ key: key('k'), result: 9, target: 0, version: 0 }], success: [put('k')] });
    expect(a.code).toBe(status.INVALID_ARGUMENT);
    expect(a.details).toMatch(/^etcdserver: /);
    expect(await clusterProblems(cluster)).toEqual([]);
  });

  it('a Compare with target 9 is InvalidArgument, not Unknown', async () => {
    const a = await txn({ compare: [{ key: key('k'), result: 0, target: 9 }], success: [put('k')] });
    expect(a.code).toBe(status.INVALID_ARGUMENT);
  });

  it('an Alarm with action 9 is refused, and no member stops', async () => {
    const a = await client.call('Maintenance', 'Alarm', encode('Maintenance', 'Alarm', { action: 9, memberID: 0, alarm: 1 }));
    expect(a.code).toBe(status.INVALID_ARGUMENT);
    const b = await client.call('Maintenance', 'Alarm', encode('Maintenance', 'Alarm', { action: 1, memberID: 0, alarm: 7 }));
    expect(b.code).toBe(status.INVALID_ARGUMENT);
    expect(await clusterProblems(cluster)).toEqual([]);
  });

  it("an empty RequestOp gets etcd's answer: InvalidArgument 'etcdserver: key not found'", async () => {
    const a = await txn({ success: [{}] });
    expect(a).toMatchObject({ code: status.INVALID_ARGUMENT, details: 'etcdserver: key not found' });
  });

  it('a nested txn counts toward the op limit as in etcd (100 puts + a nested txn of 100 puts)', async () => {
    const outer = Array.from({ length: 100 }, (_, i) => put(`o${i}`));
    const inner = Array.from({ length: 100 }, (_, i) => put(`i${i}`));
    const a = await txn({ success: [...outer, { requestTxn: { success: inner } }] });
    expect(a).toMatchObject({ code: status.INVALID_ARGUMENT, details: 'etcdserver: too many operations in txn request' });
    // Within the budget (128 - 11 = 117 for the nested one) it is accepted.
    const ok = await txn({ success: [...outer.slice(0, 10), { requestTxn: { success: inner } }] });
    expect(ok.code).toBe(status.OK);
    expect(await clusterProblems(cluster)).toEqual([]);
  });
});
