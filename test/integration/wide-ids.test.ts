// Lease ids and alarm member ids of any 64 bits, end to end on a real 3-member cluster: raw gRPC
// (int64 as decimal strings, so the client loses nothing) for what etcdctl cannot say (a
// client-chosen lease id, an alarm for another member), and etcdctl 3.4 for the rest (it speaks
// lease ids in hex). Every member answers, so the forwarded paths (TimeToLive and keep-alive go
// to the leader) carry the ids too.
import { afterAll, describe, expect, it } from 'vitest';
import { CompatGrpc } from '../compat/grpc-client.js';
import { clusterForSuite, ctlOk, requireTools } from './harness.js';

const tools = requireTools();
const d = tools.ok ? describe.sequential : describe.skip;

const hex = (n: bigint): string => n.toString(16);

d('64-bit lease and member ids on a real cluster', () => {
  const cluster = clusterForSuite({ size: 3, label: 'wideids' }, 90_000);
  const clients: CompatGrpc[] = [];
  const grpc = (i: number): CompatGrpc => {
    const url = new URL(cluster().members[i]!.clientUrl);
    return (clients[i] ??= new CompatGrpc(`${url.hostname}:${url.port}`));
  };
  afterAll(() => {
    for (const c of clients) c?.close();
  });
  const ep = (): string => cluster().endpoints();
  const body = async (i: number, service: 'Lease' | 'Maintenance' | 'Cluster', method: string, req: unknown): Promise<Record<string, unknown>> => {
    const o = await grpc(i).unary(service, method, req);
    expect(o.status, o.body).toBe('grpc OK');
    return JSON.parse(o.body) as Record<string, unknown>;
  };

  it('member ids use all 64 bits (a sha1 prefix, as etcd derives them) and read the same in hex and decimal everywhere', async () => {
    const list = (await body(0, 'Cluster', 'MemberList', {}))['members'] as Array<{ ID: string; name: string }>;
    expect(list).toHaveLength(3);
    // A 53-bit id has the top 11 bits clear: the chance all three sha1 prefixes do is 2^-33.
    expect(list.some((m) => BigInt(m.ID) >= 2n ** 53n)).toBe(true);
    const hexes = (await ctlOk(ep(), ['member', 'list'])).trim().split('\n').map((l) => l.split(',')[0]!.trim());
    expect(hexes.sort()).toEqual(list.map((m) => hex(BigInt(m.ID))).sort());
    for (let i = 0; i < 3; i++) {
      const header = (await body(i, 'Cluster', 'MemberList', {}))['header'] as { member_id: string };
      expect(list.map((m) => m.ID)).toContain(header.member_id);
    }
  });

  it('LeaseGrant takes client-chosen ids 2^60 and 2^63-1; a second grant of 2^60 is refused', async () => {
    expect((await body(0, 'Lease', 'LeaseGrant', { ID: String(2n ** 60n), TTL: '600' }))['ID']).toBe(String(2n ** 60n));
    expect((await body(1, 'Lease', 'LeaseGrant', { ID: String(2n ** 63n - 1n), TTL: '600' }))['ID']).toBe(String(2n ** 63n - 1n));
    const dup = await grpc(2).unary('Lease', 'LeaseGrant', { ID: String(2n ** 60n), TTL: '600' });
    expect(dup).toMatchObject({ status: 'grpc FAILED_PRECONDITION', body: 'etcdserver: lease already exists' });
  });

  it('LeaseTimeToLive(2^53+1) answers that lease on every member, and 2^53 (the same JS number) is another', async () => {
    await body(0, 'Lease', 'LeaseGrant', { ID: String(2n ** 53n + 1n), TTL: '300' });
    for (let i = 0; i < 3; i++) {
      const ttl = await body(i, 'Lease', 'LeaseTimeToLive', { ID: String(2n ** 53n + 1n) });
      expect([ttl['ID'], ttl['grantedTTL']]).toEqual([String(2n ** 53n + 1n), '300']);
      const other = await body(i, 'Lease', 'LeaseTimeToLive', { ID: String(2n ** 53n) });
      expect([other['ID'], other['TTL']]).toEqual([String(2n ** 53n), '-1']);
    }
  });

  it('etcdctl attaches a key to lease 2^63-1, lists it, reads its keys, and revoking it deletes the key', async () => {
    const id = 2n ** 63n - 1n;
    await ctlOk(ep(), ['put', 'wide/k', 'v', `--lease=${hex(id)}`]);
    expect(await ctlOk(ep(), ['get', 'wide/k', '-w', 'json'])).toMatch(new RegExp(`"lease":${id}\\b`));
    expect(await ctlOk(ep(), ['lease', 'timetolive', hex(id), '--keys'])).toMatch(new RegExp(`^lease ${hex(id)} granted with TTL\\(600s\\), remaining\\(\\d+s\\), attached keys\\(\\[wide/k\\]\\)`));
    const list = await ctlOk(ep(), ['lease', 'list']);
    for (const l of [2n ** 60n, 2n ** 53n + 1n, id]) expect(list).toContain(hex(l));
    expect(await ctlOk(ep(), ['lease', 'keep-alive', '--once', hex(id)])).toContain(`lease ${hex(id)} keepalived with TTL(600)`);
    expect(await ctlOk(ep(), ['lease', 'revoke', hex(id)])).toContain(`lease ${hex(id)} revoked`);
    expect(await ctlOk(ep(), ['get', 'wide/k'])).toBe('');
  });

  it('an alarm for member 2^63+5 is stored under that id on every member; etcdctl lists and disarms it', async () => {
    const member = String(2n ** 63n + 5n);
    const raised = await body(0, 'Maintenance', 'Alarm', { action: 'ACTIVATE', memberID: member, alarm: 'NOSPACE' });
    expect(raised['alarms']).toEqual([{ memberID: member, alarm: 'NOSPACE' }]);
    for (let i = 0; i < 3; i++) expect((await body(i, 'Maintenance', 'Alarm', { action: 'GET' }))['alarms']).toEqual([{ memberID: member, alarm: 'NOSPACE' }]);
    expect(await ctlOk(ep(), ['alarm', 'list'])).toContain(`memberID:${member} alarm:NOSPACE`);
    await ctlOk(ep(), ['alarm', 'disarm']);
    for (let i = 0; i < 3; i++) expect((await body(i, 'Maintenance', 'Alarm', { action: 'GET' }))['alarms']).toBeUndefined();
    await ctlOk(ep(), ['put', 'wide/after', 'ok']); // NOSPACE is gone: writes are accepted again
  });
});
