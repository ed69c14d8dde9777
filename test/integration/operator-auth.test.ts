// The operator's member-API client (operator/members: the factory and GatewayMemberApi) on a
// cluster whose auth is on, against a real 3-member tsetcd cluster and a real etcd 3.6 cluster in
// the same run, both with client TLS and --client-cert-auth, and the same observable outcomes:
// - a client certificate with a CN is refused on the /v3 gateway once auth is on (HTTP 400: etcd's
//   gateway dials the member itself, so the CN could never name the user), even with a password;
// - the operator's certificate (no CN) alone makes no user: Status and MemberList are refused with
//   "etcdserver: user name is empty" (etcd 3.6 serves them to any user, of any role);
// - with spec.auth's credentials (that user and its password): Status on every member, a
//   linearizable MemberList, a learner added and removed, Defragment, and a Snapshot stream;
// - after `auth disable` + `auth enable` (every token dropped) the cached token is refused as
//   "invalid auth token" and the client logs in again and retries, with no error to the caller;
// - a wrong password is refused (Unauthenticated); a user without the root role gets Status and
//   MemberList but is refused the membership changes and Defragment (PermissionDenied), with
//   etcd's texts: the operator's user needs the root role.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberApiFactory } from '../../operator/members/member-api-factory.js';
import { ERR_UNHEALTHY_CLUSTER, isAuthRefusal, MemberApiError, type MemberApi } from '../../operator/members/member-api.js';
import { haveOpenssl, issueLeaf, makeCa, type KeyPair } from '../testing/openssl-ca.js';
import { ETCD } from './etcd36.js';
import { Cluster, ctlOk, freePorts, haveEtcd36, requireTools, waitFor } from './harness.js';

const tools = requireTools();
const d = tools.ok && haveOpenssl() && haveEtcd36(['etcd'], 'the operator auth tests') ? describe.sequential : describe.skip;

const OPERATOR = { username: 'tsetcd-operator', password: 'op-pw' };

/** What one server showed the client: compared between etcd and tsetcd. */
type Transcript = string[];

const outcome = async (what: string, f: () => Promise<unknown>): Promise<string> => {
  try {
    const r = await f();
    return `${what}: ok${r === undefined ? '' : ` ${String(r)}`}`;
  } catch (err: unknown) {
    if (err instanceof MemberApiError) return `${what}: ${err.code} ${err.message.replace(/https:\/\/127\.0\.0\.1:[0-9]+/g, 'EP').trim()}${isAuthRefusal(err) ? ' (auth refusal)' : ''}`;
    throw err;
  }
};

d('the operator member API on a cluster with auth on (tsetcd and etcd 3.6)', () => {
  let dir = '';
  let ca: KeyPair;
  let tlsSecret: Record<string, Buffer>;
  let cnSecret: Record<string, Buffer>;
  let ctlTls: string[] = [];
  const clusters: Cluster[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsetcd-operator-auth-'));
    ca = makeCa(dir, 'ca');
    // As the operator issues its own: an organization, no common name.
    const op = issueLeaf(ca, dir, 'operator', { cn: '', subject: '/O=tsetcd-operator', serial: '0A01' });
    const withCn = issueLeaf(ca, dir, 'operator-cn', { cn: 'tsetcd-operator', serial: '0A03' });
    const ctl = issueLeaf(ca, dir, 'etcdctl', { cn: 'etcdctl-admin', serial: '0A02' });
    tlsSecret = { 'ca.crt': readFileSync(ca.certFile), 'tls.crt': readFileSync(op.certFile), 'tls.key': readFileSync(op.keyFile) };
    cnSecret = { 'ca.crt': readFileSync(ca.certFile), 'tls.crt': readFileSync(withCn.certFile), 'tls.key': readFileSync(withCn.keyFile) };
    ctlTls = [`--cacert=${ca.certFile}`, `--cert=${ctl.certFile}`, `--key=${ctl.keyFile}`];
  });
  afterAll(async () => {
    for (const c of clusters) await c.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function startCluster(label: string, bin: string | undefined, size: number): Promise<Cluster> {
    let n = 0;
    const c = await Cluster.start({
      size,
      label,
      heartbeatMs: 50,
      electionMs: 500,
      ...(bin ? { bin } : {}),
      tls: {
        memberFlags: (name) => {
          const leaf = issueLeaf(ca, join(dir, label), name, { cn: name, serial: `0B${(++n).toString(16).padStart(2, '0')}` });
          return [
            `--cert-file=${leaf.certFile}`,
            `--key-file=${leaf.keyFile}`,
            `--trusted-ca-file=${ca.certFile}`,
            '--client-cert-auth',
            `--peer-cert-file=${leaf.certFile}`,
            `--peer-key-file=${leaf.keyFile}`,
            `--peer-trusted-ca-file=${ca.certFile}`,
            '--peer-client-cert-auth',
          ];
        },
        ctlFlags: ctlTls,
      },
    });
    clusters.push(c);
    return c;
  }

  async function enableAuth(c: Cluster): Promise<void> {
    const eps = c.endpoints();
    for (const args of [
      'user add root:root-pw',
      'role add root',
      'user grant-role root root',
      `user add ${OPERATOR.username}:${OPERATOR.password}`,
      `user grant-role ${OPERATOR.username} root`,
      'user add viewer:viewer-pw',
      'role add reader',
      'role grant-permission reader read --prefix /',
      'user grant-role viewer reader',
      'auth enable',
    ]) {
      await ctlOk(eps, [...ctlTls, ...args.split(' ')]);
    }
  }

  /** The same steps on any cluster; returns what the client saw, for the comparison. */
  async function scenario(c: Cluster): Promise<Transcript> {
    const factory = memberApiFactory({ requestTimeoutMs: 5000, endpointMode: 'dns' });
    const eps = c.members.map((m) => m.clientUrl);
    const out: Transcript = [];
    await enableAuth(c);

    // A certificate with a CN: refused on the gateway, with or without a password.
    out.push(await outcome('certificate with a CN: member list', () => factory.client(cnSecret, null).list(eps)));
    out.push(await outcome('certificate with a CN and the operator user: status', () => factory.client(cnSecret, OPERATOR).status(eps[0]!)));

    // The client certificate alone (what the operator had before spec.auth).
    const certOnly = factory.client(tlsSecret, null);
    out.push(await outcome('cert only: status', () => certOnly.status(eps[0]!)));
    out.push(await outcome('cert only: member list', async () => (await certOnly.list(eps, { linearizable: true })).members.length));

    // The operator user.
    const op: MemberApi = factory.client(tlsSecret, OPERATOR);
    expect(factory.client(tlsSecret, OPERATOR)).toBe(op); // one client, one cached token
    for (const [i, ep] of eps.entries()) out.push(await outcome(`operator: status of member ${i + 1}`, async () => ((await op.status(ep)).leaderID !== '0' ? 'has a leader' : 'no leader')));
    out.push(await outcome('operator: linearizable member list', async () => (await op.list(eps, { linearizable: true })).members.length));
    const [unusedPeer] = await freePorts(1);
    // etcd refuses with "unhealthy cluster" until its members have been connected for a while (its
    // strict reconfig check): the operator retries on its next pass, the test retries here.
    const learner = await waitFor(
      'add a learner',
      async () => {
        try {
          return await op.addLearner(eps, `https://127.0.0.1:${unusedPeer}`);
        } catch (err: unknown) {
          if (err instanceof MemberApiError && err.message === ERR_UNHEALTHY_CLUSTER) return undefined;
          throw err;
        }
      },
      30_000,
      500,
    );
    out.push(`operator: add learner: ${learner.isLearner ? 'learner' : 'voter'} ${learner.peerURLs.join(',').replace(String(unusedPeer), 'PORT')}`);
    out.push(await outcome('operator: member list with the learner', async () => (await op.list(eps, { linearizable: true })).members.filter((m) => m.isLearner).length));
    out.push(await outcome('operator: remove the learner', () => op.remove(eps, learner.id)));
    out.push(await outcome('operator: member list after', async () => (await op.list(eps, { linearizable: true })).members.length));
    out.push(await outcome('operator: defragment', () => op.defragment(eps[0]!, 30_000)));
    out.push(
      await outcome('operator: snapshot', async () => {
        let bytes = 0;
        for await (const chunk of op.snapshot(eps[0]!, 10_000)) bytes += chunk.length;
        return bytes > 0 ? 'bytes' : 'empty';
      }),
    );

    // Every token dropped: the cached one is refused, the client logs in again and retries once.
    await ctlOk(c.endpoints(), [...ctlTls, '--user=root:root-pw', 'auth', 'disable']);
    await ctlOk(c.endpoints(), [...ctlTls, 'auth', 'enable']);
    out.push(await outcome('operator after auth disable+enable: status', async () => ((await op.status(eps[1]!)).leaderID !== '0' ? 'has a leader' : 'no leader')));

    // Refused users.
    const wrong = factory.client(tlsSecret, { username: OPERATOR.username, password: 'not-it' });
    out.push(await outcome('wrong password: status', () => wrong.status(eps[0]!)));
    out.push(await outcome('wrong password: remove', () => wrong.remove(eps, '1')));
    const viewer = factory.client(tlsSecret, { username: 'viewer', password: 'viewer-pw' });
    out.push(await outcome('user without root: status', async () => ((await viewer.status(eps[0]!)).leaderID !== '0' ? 'has a leader' : 'no leader')));
    out.push(await outcome('user without root: member list', async () => (await viewer.list(eps, { linearizable: true })).members.length));
    out.push(await outcome('user without root: defragment', () => viewer.defragment(eps[0]!, 10_000)));
    out.push(await outcome('user without root: add learner', () => viewer.addLearner(eps, 'https://127.0.0.1:1')));
    out.push(await outcome('unknown user: status', () => factory.client(tlsSecret, { username: 'nobody', password: 'x' }).status(eps[0]!)));
    return out;
  }

  const EXPECTED: Transcript = [
    'certificate with a CN: member list: Unknown EP/v3/cluster/member/list: HTTP 400: CommonName of client sending a request against gateway will be ignored and not used as expected (auth refusal)',
    'certificate with a CN and the operator user: status: Unknown EP/v3/maintenance/status: HTTP 400: CommonName of client sending a request against gateway will be ignored and not used as expected (auth refusal)',
    'cert only: status: InvalidArgument etcdserver: user name is empty (auth refusal)',
    'cert only: member list: InvalidArgument etcdserver: user name is empty (auth refusal)',
    'operator: status of member 1: ok has a leader',
    'operator: status of member 2: ok has a leader',
    'operator: status of member 3: ok has a leader',
    'operator: linearizable member list: ok 3',
    'operator: add learner: learner https://127.0.0.1:PORT',
    'operator: member list with the learner: ok 1',
    'operator: remove the learner: ok',
    'operator: member list after: ok 3',
    'operator: defragment: ok',
    'operator: snapshot: ok bytes',
    'operator after auth disable+enable: status: ok has a leader',
    'wrong password: status: Unauthenticated authenticating as "tsetcd-operator": etcdserver: authentication failed, invalid user ID or password (auth refusal)',
    'wrong password: remove: Unauthenticated authenticating as "tsetcd-operator": etcdserver: authentication failed, invalid user ID or password (auth refusal)',
    'user without root: status: ok has a leader',
    'user without root: member list: ok 3',
    'user without root: defragment: PermissionDenied etcdserver: permission denied (auth refusal)',
    'user without root: add learner: PermissionDenied etcdserver: permission denied (auth refusal)',
    'unknown user: status: Unauthenticated authenticating as "nobody": etcdserver: authentication failed, invalid user ID or password (auth refusal)',
  ];

  let etcdSaw: Transcript = [];

  it('etcd 3.6: what the client sees', async () => {
    etcdSaw = await scenario(await startCluster('op-auth-etcd', ETCD, 3));
    console.log(`etcd 3.6:\n  ${etcdSaw.join('\n  ')}`);
    expect(etcdSaw).toEqual(EXPECTED);
  }, 180_000);

  it('tsetcd: the same', async () => {
    const saw = await scenario(await startCluster('op-auth-tsetcd', undefined, 3));
    console.log(`tsetcd:\n  ${saw.join('\n  ')}`);
    expect(saw).toEqual(EXPECTED);
    if (etcdSaw.length > 0) expect(saw).toEqual(etcdSaw);
  }, 180_000);
});
