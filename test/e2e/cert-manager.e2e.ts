// spec.tls.mode cert-manager against the real cert-manager (issue 14): cert-manager's controller
// (hack/ensure-cert-manager.sh: v1.21.x built from its Go module, its own CRDs from the same module)
// runs as a local process against the local control plane, beside the operator. The user's side is
// what docs/tls.md tells them to create: a self-signed Issuer, a CA Certificate from it, and a CA
// Issuer on that Secret. Then an EtcdCluster points at the CA Issuer, and:
// - cert-manager issues the three Certificates the operator applies (server, peer, operator client),
//   with the names, usages and subjects the operator asks for (the operator's own: no CN,
//   O=tsetcd-operator, a URI SAN);
// - the members come up with mutual TLS on those Secrets; etcdctl with the operator's client
//   certificate works; plain HTTP and a TLS client without a certificate are refused;
// - re-issue: as `cmctl renew` does, the test sets the Issuing condition on the three Certificates;
//   cert-manager issues new certificates (new keys: rotationPolicy Always), the mounted Secrets
//   change, and every member serves them on new connections, with no pod replaced. (A renewal that
//   cert-manager's own clock triggers cannot be shown in a test's minutes: cert-manager refuses a
//   duration below 1h, so the spec asks for 1h and renewal would come at 40 min.)
// - CA renewal with the same key (the CA Certificate has rotationPolicy Never, as docs/tls.md tells
//   users), then the leaves: every member serves them and the first client certificate still works;
// - cert-manager's webhook checks (hack/cert-manager/_validate: its defaulting, conversion and
//   ValidateCertificate, from the same module) admit the Certificates the operator applied, and
//   draw the lifetime line where the operator does (59m refused, 1h admitted).
// Not covered: the webhook as a server (admission wiring, conversion of stored versions), leader
// election (one process), ACME/Vault/Venafi issuers, a renewal cert-manager's clock triggers, a CA
// rollover to a new key (docs/tls.md: not supported without an overlap).
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveSpec } from '../../operator/api/defaults.js';
import { CERT_MANAGER_LIFETIME_MESSAGE } from '../../operator/api/tls.js';
import { buildCertManagerCertificates, effectiveTls } from '../../operator/plan/tls.js';
import { anonymousHandshake, membersServe, servedSerial } from '../testing/tls-probe.js';
import { isSettled, type Cluster } from './cluster-status.js';
import { clientTls, cpDir, etcdctl, Kubectl, memberSpec, repoRoot, run, startLocalOperator, waitFor, type ClientTlsFiles, type OperatorProcess } from './harness.js';

const skip = inject('e2eSkip');
const local = inject('e2eLocal');
const ns = 'e2e-cm';
const name = 'cm';
const endpoint = `https://${name}-client.${ns}.svc:2379`;
const version = readFileSync(join(repoRoot, 'hack/cert-manager/VERSION'), 'utf8').trim();

interface PodList { items: Array<{ metadata: { name: string; uid: string }; status: { podIP?: string } }> }
interface CertificateList { items: Array<{ metadata: { name: string }; spec: Record<string, unknown>; status?: { conditions?: Array<{ type: string; status: string; message?: string }>; revision?: number } }> }

/** cert-manager's controller as a local process (no leader election, no webhook). */
class CertManagerProcess {
  private child: ChildProcess | undefined;
  readonly logPath = join(cpDir, 'logs', 'cert-manager.log');
  constructor(private readonly bin: string, private readonly kubeconfig: string) {}
  start(): void {
    mkdirSync(join(cpDir, 'logs'), { recursive: true });
    const fd = openSync(this.logPath, 'a');
    this.child = spawn(this.bin, [`--kubeconfig=${this.kubeconfig}`, `--namespace=${ns}`], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
  }
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((res) => {
      child.once('exit', () => res());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    });
  }
  logTail(lines = 30): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }
}

describe.skipIf(skip !== '' || !local)(`cert-manager ${version} issues the cluster's certificates (real apiserver, cert-manager, operator, members)`, () => {
  const k = new Kubectl(inject('e2eKubeconfig'));
  let operator: OperatorProcess | undefined;
  let certManager: CertManagerProcess | undefined;
  let client: ClientTlsFiles;
  let bin = '';
  /** cert-manager's webhook checks (hack/cert-manager/_validate) on a Certificate List: one line per Certificate. */
  const webhookChecks = async (list: unknown): Promise<{ code: number; lines: string[] }> => {
    const r = await run(join(bin, 'cert-manager-validate'), [], { input: typeof list === 'string' ? list : JSON.stringify(list) });
    if (r.code === 2) throw new Error(`cert-manager-validate failed: ${r.stderr}`);
    return { code: r.code, lines: r.stdout.trim().split('\n').sort() };
  };
  const get = (): Promise<Cluster> => k.json<Cluster>(['get', 'etcdcluster', name, '-n', ns]);
  const pods = async (): Promise<PodList['items']> => (await k.json<PodList>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`])).items;
  const secretCert = async (secret: string): Promise<{ cert: X509Certificate; ca: X509Certificate }> => {
    const r = await k.json<{ data: Record<string, string> }>(['get', 'secret', secret, '-n', ns]);
    return { cert: new X509Certificate(Buffer.from(r.data['tls.crt'] ?? '', 'base64')), ca: new X509Certificate(Buffer.from(r.data['ca.crt'] ?? '', 'base64')) };
  };
  const leaves = [`${name}-server-tls`, `${name}-peer-tls`, `${name}-operator-client-tls`];
  /** What `cmctl renew` does: the Issuing condition, set on each Certificate's status. */
  const reissue = async (certs: string[]): Promise<void> => {
    const issuing = { type: 'Issuing', status: 'True', reason: 'ManuallyTriggered', message: 'e2e: re-issue now', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    for (const cert of certs) {
      await k.ok(['patch', 'certificate', cert, '-n', ns, '--subresource=status', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/status/conditions/-', value: issuing }])]);
    }
  };
  const diagnose = async (err: unknown): Promise<never> => {
    const certs = await k.run(['get', 'certificates,certificaterequests,issuers', '-n', ns, '-o', 'wide']);
    throw new Error(`${String(err)}\nstatus: ${JSON.stringify((await get().catch(() => undefined))?.status)}\n${certs.stdout}\ncert-manager log:\n${certManager?.logTail() ?? ''}\noperator log:\n${operator?.logTail() ?? ''}`);
  };

  beforeAll(async () => {
    // Built once per machine and cached (~/.cache/tsetcd/cert-manager); hack/test.sh builds it in the background.
    const ensured = await run('bash', [join(repoRoot, 'hack/ensure-cert-manager.sh')], { timeoutMs: 1_800_000 });
    if (ensured.code !== 0) throw new Error(`hack/ensure-cert-manager.sh failed: ${ensured.stderr}`);
    bin = ensured.stdout.trim().split('\n').at(-1)!;
    await k.ok(['apply', '--server-side', '-f', join(bin, 'crds')]);
    await waitFor('cert-manager CRDs to be Established', 60_000, async () =>
      (await k.run(['wait', '--for=condition=Established', '--timeout=30s', 'crd/certificates.cert-manager.io', 'crd/certificaterequests.cert-manager.io', 'crd/issuers.cert-manager.io', 'crd/clusterissuers.cert-manager.io'])).code === 0, 500);
    operator = await startLocalOperator(k, ns);
    certManager = new CertManagerProcess(join(bin, 'cert-manager-controller'), inject('e2eKubeconfig'));
    certManager.start();
  });

  afterAll(async () => {
    await k.run(['delete', 'etcdcluster', '--all', '-n', ns, '--timeout=120s']);
    await k.run(['delete', 'pvc', '--all', '-n', ns, '--wait=false']);
    await operator?.stop();
    await certManager?.stop();
  });

  it('the user\'s CA Issuer chain becomes Ready', async () => {
    // As docs/tls.md tells the user: a self-signed Issuer, a CA Certificate from it, a CA Issuer on its Secret.
    const applied = await k.apply({
      apiVersion: 'v1', kind: 'List', items: [
        { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'selfsigned', namespace: ns }, spec: { selfSigned: {} } },
        {
          apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'etcd-ca', namespace: ns },
          // A CA renewal keeps its key (rotationPolicy Never): certificates of the old CA certificate stay valid (last test).
          spec: { isCA: true, commonName: 'e2e etcd CA', secretName: 'etcd-ca', duration: '87600h', privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Never' }, issuerRef: { name: 'selfsigned', kind: 'Issuer', group: 'cert-manager.io' } },
        },
        { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'etcd-ca', namespace: ns }, spec: { ca: { secretName: 'etcd-ca' } } },
      ],
    });
    expect(applied.stderr).toBe('');
    await waitFor('the CA Issuer to be Ready', 120_000, async () =>
      (await k.run(['get', 'issuer', 'etcd-ca', '-n', ns, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).stdout === 'True', 1000).catch(diagnose);
  });

  it('refuses a lifetime cert-manager would refuse (below 1h) at admission', async () => {
    const r = await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name: 'short', namespace: ns },
      spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', extra: { tls: { certManager: { issuerRef: { name: 'etcd-ca' } }, certificateLifetime: '30m' } } }),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(CERT_MANAGER_LIFETIME_MESSAGE);
    // The boundary is cert-manager's: its webhook checks refuse the operator's Certificates at 59m and admit them at 1h.
    const ref = { name, namespace: ns, uid: 'u' };
    const certsFor = (lifetime: string): unknown => ({
      items: buildCertManagerCertificates(ref, effectiveTls(ref, resolveSpec({ tls: { certManager: { issuerRef: { name: 'etcd-ca' } }, certificateLifetime: lifetime } }), false)),
    });
    const short = await webhookChecks(certsFor('59m'));
    expect(short.code).toBe(1);
    for (const line of short.lines) expect(line).toContain('certificate duration must be greater than 1h0m0s');
    expect(await webhookChecks(certsFor('1h'))).toEqual({ code: 0, lines: [`${name}-operator-client-tls: admitted`, `${name}-peer-tls: admitted`, `${name}-server-tls: admitted`] });
  });

  it('issues the Certificates the operator asks for, and the members run mutual TLS on them', async () => {
    await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name, namespace: ns },
      spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', extra: { tls: { mode: 'cert-manager', certManager: { issuerRef: { name: 'etcd-ca' } }, certificateLifetime: '1h' } } }),
    });
    await waitFor('the three Certificates to be Ready', 180_000, async () => {
      const list = await k.json<CertificateList>(['get', 'certificates', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`]);
      return list.items.length === 3 && list.items.every((c) => c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')) ? true : undefined;
    }, 1000).catch(diagnose);

    // The Certificates the operator applied, as the apiserver holds them, pass cert-manager's webhook checks.
    const applied = await k.ok(['get', 'certificates', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`, '-o', 'json']);
    expect(await webhookChecks(applied)).toEqual({ code: 0, lines: [`${name}-operator-client-tls: admitted`, `${name}-peer-tls: admitted`, `${name}-server-tls: admitted`] });
    const ca = (await secretCert('etcd-ca')).cert;
    for (const secret of [`${name}-server-tls`, `${name}-peer-tls`, `${name}-operator-client-tls`]) {
      const s = await secretCert(secret);
      expect(s.cert.verify(ca.publicKey), `${secret} is signed by the CA Issuer`).toBe(true);
      expect(s.ca.fingerprint256, `${secret} carries the CA as ca.crt`).toBe(ca.fingerprint256);
      expect(s.cert.publicKey.asymmetricKeyType).toBe('ec');
    }
    const server = (await secretCert(`${name}-server-tls`)).cert;
    expect(server.subject).toBe(`CN=${name}-server`);
    expect(server.subjectAltName).toContain(`DNS:*.${name}-peer.${ns}.svc`);
    expect(server.subjectAltName).toContain(`DNS:${name}-client.${ns}.svc`);
    expect(server.subjectAltName).toContain('IP Address:127.0.0.1');
    // The operator's own: no CN, O=tsetcd-operator, the URI SAN (docs/tls.md), client auth only.
    const op = (await secretCert(`${name}-operator-client-tls`)).cert;
    expect(op.subject).toBe('O=tsetcd-operator');
    expect(op.subjectAltName).toBe('URI:urn:tsetcd:operator');
    expect(op.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    const peer = (await secretCert(`${name}-peer-tls`)).cert;
    expect([...(peer.keyUsage ?? [])].sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);

    await waitFor('3 healthy voters over TLS', 300_000, async () => (isSettled(await get(), 3) ? true : undefined), 2000).catch(diagnose);
    client = await clientTls(k, ns, name);
    const ok = await etcdctl(endpoint, [...client.flags, 'put', '/cm/hello', 'world']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe('OK');
    const got = await etcdctl(endpoint, [...client.flags, 'get', '/cm/hello', '--print-value-only']);
    expect(got.stdout.trim()).toBe('world');
    const short = ['--dial-timeout=2s', '--command-timeout=4s'];
    const plain = await etcdctl(`http://${name}-client.${ns}.svc:2379`, [...short, 'get', '/cm/hello']);
    expect(plain.code).not.toBe(0);
    const anonymous = await etcdctl(endpoint, [...short, client.flags[0]!, 'get', '/cm/hello']);
    expect(anonymous.code).not.toBe(0);
    // Both ports of every member are mutual TLS: a handshake without a client certificate gets no answer.
    for (const ip of (await pods()).map((p) => p.status.podIP ?? '')) {
      expect(await anonymousHandshake(ip, 2379)).toMatch(/certificate required|closed/);
      expect(await anonymousHandshake(ip, 2380)).toMatch(/certificate required|closed/);
    }
  });

  it('a re-issue by cert-manager reaches every member without a restart', async () => {
    const before = (await secretCert(`${name}-server-tls`)).cert.serialNumber;
    const peerBefore = (await secretCert(`${name}-peer-tls`)).cert.serialNumber;
    const podsBefore = await pods();
    const ips = podsBefore.map((p) => p.status.podIP ?? '').filter((ip) => ip !== '');
    expect(ips).toHaveLength(3);
    for (const ip of ips) expect(await servedSerial(ip, 2379, client)).toBe(before);
    await reissue(leaves);
    const after = await waitFor('cert-manager to re-issue the server certificate', 120_000, async () => {
      const s = (await secretCert(`${name}-server-tls`)).cert.serialNumber;
      return s !== before ? s : undefined;
    }, 2000).catch(diagnose);
    const renewedAt = Date.now();
    const peerAfter = await waitFor('cert-manager to re-issue the peer certificate', 60_000, async () => {
      const s = (await secretCert(`${name}-peer-tls`)).cert.serialNumber;
      return s !== peerBefore ? s : undefined;
    }, 1000);
    await waitFor('every member to serve the renewed certificates on new connections', 120_000, () => membersServe(ips, client, { client: after, peer: peerAfter }), 1000);
    console.log(`cert-manager e2e: every member served cert-manager's re-issued certificates ${Date.now() - renewedAt} ms after the server Secret changed`);
    // The operator's client Secret was re-issued too; a client with the new one works.
    const renewedClient = await clientTls(k, ns, name);
    const put = await etcdctl(endpoint, [...renewedClient.flags, 'put', '/cm/after', 'renewal']);
    expect(put.stdout.trim()).toBe('OK');
    expect((await pods()).map((p) => p.metadata.uid).sort()).toEqual(podsBefore.map((p) => p.metadata.uid).sort());
    expect(isSettled(await get(), 3)).toBe(true);
  }, 480_000);

  it('a renewal of the CA Certificate (same key) and then of the leaves breaks nothing, old client certificates included', async () => {
    const caBefore = (await secretCert('etcd-ca')).cert;
    const podsBefore = await pods();
    const ips = podsBefore.map((p) => p.status.podIP ?? '').filter((ip) => ip !== '');
    await reissue(['etcd-ca']);
    const caAfter = await waitFor('cert-manager to renew the CA certificate', 120_000, async () => {
      const c = (await secretCert('etcd-ca')).cert;
      return c.serialNumber !== caBefore.serialNumber ? c : undefined;
    }, 1000).catch(diagnose);
    expect(caAfter.publicKey.export({ format: 'der', type: 'spki' }).equals(caBefore.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
    // The leaves, issued from the new CA certificate, now carry it as ca.crt.
    const serverBefore = (await secretCert(`${name}-server-tls`)).cert.serialNumber;
    await reissue(leaves);
    const after = await waitFor('the leaves to be re-issued with the new CA certificate', 120_000, async () => {
      const [srv, peer, op] = await Promise.all(leaves.map(secretCert));
      const fresh = [srv!, peer!, op!].every((x) => x.ca.fingerprint256 === caAfter.fingerprint256) && srv!.cert.serialNumber !== serverBefore;
      return fresh ? { client: srv!.cert.serialNumber, peer: peer!.cert.serialNumber } : undefined;
    }, 1000).catch(diagnose);
    await waitFor('every member to serve the new leaves', 120_000, () => membersServe(ips, client, after), 1000);
    // The first client certificate (signed under the old CA certificate, same key) still works, as does the newest.
    const old = await etcdctl(endpoint, [...client.flags, 'put', '/cm/old-client', 'ok']);
    expect(old.stdout.trim()).toBe('OK');
    const newest = await clientTls(k, ns, name);
    expect((await etcdctl(endpoint, [...newest.flags, 'get', '/cm/old-client', '--print-value-only'])).stdout.trim()).toBe('ok');
    expect((await pods()).map((p) => p.metadata.uid).sort()).toEqual(podsBefore.map((p) => p.metadata.uid).sort());
    await waitFor('3 healthy voters after the CA renewal', 60_000, async () => (isSettled(await get(), 3) ? true : undefined), 2000).catch(diagnose);
  }, 360_000);
});
