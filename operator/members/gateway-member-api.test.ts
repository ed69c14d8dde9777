// The real MemberApi against a real etcd (Debian's etcd-server 3.4) on loopback.
// Grows a 1-member cluster to 2 via learner add -> start -> promote, moves leadership, removes the old leader.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayMemberApi } from './gateway-member-api.js';
import { ERR_MEMBER_NOT_FOUND, MemberApiError } from './member-api.js';

const ETCD = '/usr/bin/etcd';
const haveEtcd = existsSync(ETCD);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err: unknown) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

interface Etcd {
  name: string;
  client: string;
  peer: string;
  proc: ChildProcess;
}

const procs: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tsetcd-op-members-'));
afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startEtcd(name: string, initialCluster: string, state: 'new' | 'existing', ports?: { client: number; peer: number }): Promise<Etcd> {
  const client = `http://127.0.0.1:${ports?.client ?? (await freePort())}`;
  const peer = `http://127.0.0.1:${ports?.peer ?? (await freePort())}`;
  const cluster = initialCluster.replace('$SELF', `${name}=${peer}`);
  const proc = spawn(ETCD, [
    `--name=${name}`,
    `--data-dir=${join(dir, name)}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${cluster}`,
    `--initial-cluster-state=${state}`,
    '--initial-cluster-token=op-test',
    '--heartbeat-interval=50',
    '--election-timeout=500',
  ], { stdio: 'ignore' });
  procs.push(proc);
  return { name, client, peer, proc };
}

describe.skipIf(!haveEtcd)('GatewayMemberApi against real etcd 3.4', () => {
  const api = new GatewayMemberApi({ requestTimeoutMs: 3000 });

  it('lists, adds a learner, promotes it, moves leadership and removes a member', async () => {
    const a = await startEtcd('a', '$SELF', 'new');
    const st = await waitFor('status of a', async () => {
      const s = await api.status(a.client);
      return s.leaderID !== '0' ? s : undefined;
    });
    expect(st.memberID).toBe(st.leaderID);
    expect(st.raftIndex).toBeGreaterThan(0);
    expect(st.raftAppliedIndex).toBeGreaterThan(0); // 3.4 reports it; "healthy" compares it with the leader's index
    expect(st.version).toMatch(/^3\./);
    // A linearizable list (3.5+); 3.4 does not know the field and its plain list is used.
    expect((await api.list([a.client], { linearizable: true })).members).toHaveLength(1);

    const list = await api.list(['http://127.0.0.1:1', a.client]); // the first endpoint is dead: falls through
    expect(list.members).toHaveLength(1);
    expect(list.members[0]).toMatchObject({ id: st.memberID, name: 'a', peerURLs: [a.peer], isLearner: false });
    expect(list.clusterID).toBe(st.clusterID);
    // IDs are uint64 strings, kept exact.
    expect(list.members[0]?.id).toMatch(/^[0-9]+$/);

    // Add a learner for b, start b with state existing.
    const bPorts = { client: await freePort(), peer: await freePort() };
    const bPeer = `http://127.0.0.1:${bPorts.peer}`;
    const added = await api.addLearner([a.client], bPeer);
    expect(added).toMatchObject({ name: '', peerURLs: [bPeer], isLearner: true });
    const l2 = await api.list([a.client]);
    expect(l2.members.find((m) => m.id === added.id)?.isLearner).toBe(true);

    const b = await startEtcd('b', `a=${a.peer},$SELF`, 'existing', bPorts);
    await waitFor('b caught up', async () => {
      const [sa, sb] = await Promise.all([api.status(a.client), api.status(b.client)]);
      return sb.isLearner && sb.raftIndex >= sa.raftIndex * 0.9 && sb.leaderID === sa.memberID ? true : undefined;
    });
    await waitFor('promote', async () => {
      await api.promote([a.client], added.id);
      return true;
    });
    const l3 = await api.list([a.client]);
    expect(l3.members.every((m) => !m.isLearner)).toBe(true);
    expect(l3.members.map((m) => m.name).sort()).toEqual(['a', 'b']);

    // Move leadership to b, then remove a.
    await api.moveLeader(a.client, added.id);
    await waitFor('b leads', async () => ((await api.status(b.client)).leaderID === added.id ? true : undefined));
    // etcd refuses with "unhealthy cluster" until the new leader has been connected to everyone for a
    // while (its strict reconfig check): the operator retries on the next pass, the test retries here.
    await waitFor('remove a', async () => {
      await api.remove([b.client], st.memberID);
      return true;
    });
    const l4 = await api.list([b.client]);
    expect(l4.members.map((m) => m.name)).toEqual(['b']);

    // Typed errors with etcd's exact text.
    const err = await api.remove([b.client], st.memberID).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemberApiError);
    expect((err as MemberApiError).code).toBe('NotFound');
    expect((err as MemberApiError).message).toBe(ERR_MEMBER_NOT_FOUND);
  });

  it('reads dbSize/dbSizeInUse and defragments: etcd 3.4 (bbolt) gives the free pages back', async () => {
    const e = await startEtcd('d', '$SELF', 'new');
    await waitFor('status of d', async () => ((await api.status(e.client)).leaderID !== '0' ? true : undefined));
    const put = async (k: string, v: string): Promise<number> => {
      const r = await fetch(`${e.client}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(k).toString('base64'), value: Buffer.from(v).toString('base64') }) });
      return Number(((await r.json()) as { header: { revision: string } }).header.revision);
    };
    let rev = 0;
    for (let round = 0; round < 5; round++) for (let i = 0; i < 200; i++) rev = await put(`k${i}`, `${round}${'x'.repeat(4096)}`);
    await fetch(`${e.client}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision: String(rev), physical: true }) });
    // etcd 3.4 reports the pages the compaction freed once its backend has committed them (its
    // batch interval, later on a busy machine): wait for that, not for a fixed time.
    const before = await waitFor('the compaction freed pages in status', async () => {
      const s = await api.status(e.client);
      return s.dbSize - (s.dbSizeInUse ?? s.dbSize) > 1_000_000 ? s : undefined;
    });
    await api.defragment(e.client, 30_000);
    const after = await api.status(e.client);
    console.log(`etcd 3.4 sizes (bytes): after Compact dbSize=${before.dbSize} dbSizeInUse=${before.dbSizeInUse}; after Defragment dbSize=${after.dbSize} dbSizeInUse=${after.dbSizeInUse}`);
    expect(before.dbSizeInUse).not.toBeNull();
    expect(before.dbSize - (before.dbSizeInUse ?? 0)).toBeGreaterThan(1_000_000);
    expect(after.dbSize).toBeLessThan(before.dbSize);
  });

  it('reports an unreachable endpoint as Unavailable', async () => {
    const err = await api.status('http://127.0.0.1:1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemberApiError);
    expect((err as MemberApiError).code).toBe('Unavailable');
  });
});

const haveOpenssl = existsSync('/usr/bin/openssl');

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate. */
function makeCerts(dirPath: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const p = (f: string): string => join(dirPath, f);
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '1', '-subj', '/CN=test-ca');
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=member');
  ossl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '1', '-extfile', p('server.ext'));
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('client.key'), '-out', p('client.csr'), '-subj', '/CN=tsetcd-operator');
  ossl('x509', '-req', '-in', p('client.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('client.crt'), '-days', '1', '-extfile', p('client.ext'));
  return { ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key') };
}

describe.skipIf(!haveEtcd || !haveOpenssl)('GatewayMemberApi over TLS with client-cert-auth (real etcd 3.4)', () => {
  it('reaches an https member with the client certificate, and is refused without it', async () => {
    const certDir = join(dir, 'certs');
    mkdirSync(certDir, { recursive: true });
    const c = makeCerts(certDir);
    const client = `https://127.0.0.1:${await freePort()}`;
    const peer = `http://127.0.0.1:${await freePort()}`;
    const proc = spawn(ETCD, [
      '--name=t', `--data-dir=${join(dir, 't')}`,
      `--listen-client-urls=${client}`, `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=t=${peer}`,
      `--cert-file=${c.serverCert}`, `--key-file=${c.serverKey}`, `--trusted-ca-file=${c.ca}`, '--client-cert-auth=true',
    ], { stdio: 'ignore' });
    procs.push(proc);
    const api = new GatewayMemberApi({
      requestTimeoutMs: 3000,
      tls: { ca: readFileSync(c.ca), cert: readFileSync(c.clientCert), key: readFileSync(c.clientKey) },
    });
    const st = await waitFor('TLS status', async () => {
      const s = await api.status(client);
      return s.leaderID !== '0' ? s : undefined;
    });
    expect(st.memberID).toBe(st.leaderID);
    const list = await api.list([client]);
    expect(list.members.map((m) => m.name)).toEqual(['t']);
    // Without a client certificate the member refuses the handshake.
    const noCert = new GatewayMemberApi({ requestTimeoutMs: 3000, tls: { ca: readFileSync(c.ca) } });
    const err = await noCert.list([client]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemberApiError);
    expect((err as MemberApiError).code).toBe('Unavailable');
  });
});
