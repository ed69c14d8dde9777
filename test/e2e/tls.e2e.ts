// TLS on by default, end to end (issue 14): an EtcdCluster without TLS settings serves only TLS with
// mutual authentication, and a renewal rolls new certificates into the running members without a
// failed request. Local control plane only (the operator runs as a process; the test reaches pods
// by IP and the cluster's names through the node agent).
// - refused: plain HTTP, a client without a certificate, a certificate from another CA;
// - renewal: spec.tls.certificateLifetime 3m, so the operator renews the leaves ~90 s after issuing
//   them; the node agent updates the mounted Secrets (as the kubelet does) and each member reloads
//   them: new connections to every pod's client and peer port present the new serial, while an etcd3
//   client (one open connection per pod) and fresh etcdctl processes see no failure.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { haveOpenssl, issueLeaf, makeCa } from '../testing/openssl-ca.js';
import { anonymousHandshake, membersServe, servedSerial } from '../testing/tls-probe.js';
import { isSettled, type Cluster } from './cluster-status.js';
import { clientTls, etcdctl, Kubectl, memberSpec, OperatorProcess, startLocalOperator, waitFor, type ClientTlsFiles } from './harness.js';

const skip = inject('e2eSkip');
const local = inject('e2eLocal');
const ns = 'e2e-tls';
const name = 'sec';
const endpoint = `https://${name}-client.${ns}.svc:2379`;

interface PodList { items: Array<{ metadata: { name: string }; status: { podIP?: string } }> }

describe.skipIf(skip !== '' || !local || !haveOpenssl())('TLS by default (real apiserver, operator, members)', () => {
  const k = new Kubectl(inject('e2eKubeconfig'));
  let operator: OperatorProcess | undefined;
  let client: ClientTlsFiles;
  let dir = '';
  const get = (): Promise<Cluster> => k.json<Cluster>(['get', 'etcdcluster', name, '-n', ns]);
  const podIPs = async (): Promise<string[]> =>
    (await k.json<PodList>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`])).items.map((p) => p.status.podIP ?? '').filter((ip) => ip !== '');
  const secretSerial = async (secret: string): Promise<string> => {
    const r = await k.json<{ data: Record<string, string> }>(['get', 'secret', secret, '-n', ns]);
    return new X509Certificate(Buffer.from(r.data['tls.crt'] ?? '', 'base64')).serialNumber;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsetcd-e2e-tls-'));
    operator = await startLocalOperator(k, ns);
  });

  afterAll(async () => {
    await k.run(['delete', 'etcdcluster', '--all', '-n', ns, '--timeout=120s']);
    await k.run(['delete', 'pvc', '--all', '-n', ns, '--wait=false']);
    await operator?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a cluster without TLS settings comes up with mutual TLS and refuses plain, anonymous and foreign clients', async () => {
    await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name, namespace: ns },
      spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', extra: { tls: { certificateLifetime: '3m' } } }),
    });
    await waitFor('3 healthy voters over TLS', 300_000, async () => (isSettled(await get(), 3) ? true : undefined), 2000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\nstatus: ${JSON.stringify((await get().catch(() => undefined))?.status)}\noperator log:\n${operator?.logTail() ?? ''}`);
    });
    client = await clientTls(k, ns, name);
    const ok = await etcdctl(endpoint, [...client.flags, 'put', '/tls/hello', 'world']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe('OK');
    const short = ['--dial-timeout=2s', '--command-timeout=4s'];
    // Plain HTTP to the TLS port.
    const plain = await etcdctl(`http://${name}-client.${ns}.svc:2379`, [...short, 'get', '/tls/hello']);
    expect(plain.code).not.toBe(0);
    // TLS without a client certificate.
    const anonymous = await etcdctl(endpoint, [...short, client.flags[0]!, 'get', '/tls/hello']);
    expect(anonymous.code).not.toBe(0);
    // A client certificate from another CA (trusting the cluster's CA for the server side).
    const other = makeCa(dir, 'other-ca');
    const foreign = issueLeaf(other, dir, 'foreign', { cn: 'tsetcd-operator', serial: 'BAD1' });
    const caFile = join(dir, 'cluster-ca.pem');
    writeFileSync(caFile, client.ca);
    const foreignRun = await etcdctl(endpoint, [...short, `--cacert=${caFile}`, `--cert=${foreign.certFile}`, `--key=${foreign.keyFile}`, 'get', '/tls/hello']);
    expect(foreignRun.code).not.toBe(0);

    // The peer port is mutual TLS too: a handshake without a client certificate gets no answer.
    const ip = (await podIPs())[0]!;
    expect(await anonymousHandshake(ip, 2380)).toMatch(/certificate required|closed/);
  });

  it('renews the certificates before expiry and every member serves the new ones, with no failed request', async () => {
    const before = await secretSerial(`${name}-server-tls`);
    const peerBefore = await secretSerial(`${name}-peer-tls`);
    const ips = await podIPs();
    expect(ips).toHaveLength(3);
    const uids = async (): Promise<string> => (await k.run(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`, '-o', 'jsonpath={.items[*].metadata.uid}'])).stdout;
    const podsBefore = await uids();
    for (const ip of ips) expect(await servedSerial(ip, 2379, client)).toBe(before);
    // Load: one etcd3 client with an open connection per member, and fresh etcdctl processes.
    const etcd = new Etcd3({
      hosts: ips.map((ip) => `https://${ip}:2379`),
      credentials: { rootCertificate: client.ca, certChain: client.cert, privateKey: client.key },
      grpcOptions: { 'grpc.ssl_target_name_override': `${name}-client.${ns}.svc` },
    });
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loops = Promise.all([
      (async () => {
        for (let i = 0; i < 20_000 && !stop; i++) {
          try {
            await etcd.put(`/tls/load/${i % 100}`).value(String(i));
            ok++;
          } catch (e) {
            failures.push(`etcd3 #${i}: ${String(e)}`);
          }
        }
      })(),
      (async () => {
        for (let i = 0; i < 500 && !stop; i++) {
          const r = await etcdctl(endpoint, [...client.flags, 'put', `/tls/ctl/${i % 10}`, String(i)]);
          if (r.code === 0) ok++;
          else failures.push(`etcdctl #${i}: ${r.stderr.trim()}`);
        }
      })(),
    ]);
    const started = Date.now();
    try {
      const after = await waitFor('the operator to renew the server certificate', 240_000, async () => {
        const s = await secretSerial(`${name}-server-tls`);
        return s !== before ? s : undefined;
      }, 2000);
      const renewedAt = Date.now();
      const peerAfter = await secretSerial(`${name}-peer-tls`);
      expect(peerAfter).not.toBe(peerBefore);
      await waitFor('every member to serve the renewed certificates on new connections', 120_000, () => membersServe(ips, client, { client: after, peer: peerAfter }), 1000);
      console.log(`TLS e2e: renewed ${Math.round((renewedAt - started) / 1000)} s into the load; every member served the new certificates ${Date.now() - renewedAt} ms later`);
    } finally {
      stop = true;
      await loops;
      etcd.close();
    }
    console.log(`TLS e2e: ${ok} requests during the renewal, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    const events = await k.json<{ items: Array<{ reason: string; message: string }> }>(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`]);
    expect(events.items.some((e) => e.reason === 'CertificatesIssued' && e.message.includes('(expiring)'))).toBe(true);
    // No pod was replaced for it: the members reloaded the files.
    expect(await uids()).toBe(podsBefore);
    expect(isSettled(await get(), 3)).toBe(true);
  }, 420_000);
});
