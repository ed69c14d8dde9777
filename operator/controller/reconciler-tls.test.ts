// Secure by default, through the reconciler on the in-memory KubeApi and a fake clock:
// - no spec.tls: a CA, server/peer/operator-client Secrets, members on https with mutual TLS, and
//   the operator's member API made from its own client certificate;
// - renewal at 2/3 of the lifetime (spec.tls.certificateLifetime), same CA, nothing else touched;
// - mode disabled (plain HTTP), a cluster already running plain with no mode (kept plain), and a
//   switch of a running cluster refused as bad input;
// - mode cert-manager: Certificate objects instead of signing; a lifetime cert-manager would refuse
//   (below 1h) is bad input, and no Certificate is written.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CERT_MANAGER_LIFETIME_MESSAGE } from '../api/tls.js';
import { cond, setup } from './testing/reconciler-harness.js';

const serial = (t: ReturnType<typeof setup>, name: string): string => new X509Certificate(t.kube.secrets.get(`ns/${name}`)!['tls.crt']!).serialNumber;
const args = (t: ReturnType<typeof setup>): string[] =>
  ((t.kube.object('StatefulSet', 'ns', 'e')!.spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0]!.args);

describe('Reconciler: TLS', () => {
  it('gives a cluster without TLS settings client and peer TLS with mutual authentication', async () => {
    const t = setup({ replicas: 3 });
    await t.settle();
    for (const s of ['e-ca', 'e-server-tls', 'e-peer-tls', 'e-operator-client-tls']) {
      const secret = t.kube.object('Secret', 'ns', s);
      expect(secret, s).toBeDefined();
      expect(secret?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'EtcdCluster', controller: true });
    }
    const ca = new X509Certificate(t.kube.secrets.get('ns/e-ca')!['tls.crt']!);
    const server = new X509Certificate(t.kube.secrets.get('ns/e-server-tls')!['tls.crt']!);
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    expect(t.kube.secrets.get('ns/e-server-tls')!['ca.crt']!.toString()).toBe(ca.toString());
    const a = args(t);
    expect(a).toContain('--listen-client-urls=https://$(POD_IP):2379');
    expect(a).toContain('--listen-peer-urls=https://$(POD_IP):2380');
    expect(a).toContain('--client-cert-auth=true');
    expect(a).toContain('--peer-client-cert-auth=true');
    const vols = (t.kube.object('StatefulSet', 'ns', 'e')!.spec as { template: { spec: { volumes: Array<{ secret?: { secretName: string } }> } } }).template.spec.volumes;
    expect(vols.map((v) => v.secret?.secretName).filter(Boolean)).toEqual(['e-server-tls', 'e-peer-tls']);
    // The operator reached the members with its own client certificate.
    expect(t.tlsSecretsSeen.at(-1)?.['tls.crt']?.toString()).toBe(t.kube.secrets.get('ns/e-operator-client-tls')!['tls.crt']!.toString());
    expect(new X509Certificate(t.tlsSecretsSeen.at(-1)!['tls.crt']!).subject).toBe('O=tsetcd-operator'); // no CN: etcd's gateway refuses one with auth on
    expect(t.kube.events.filter((e) => e.reason === 'CertificatesIssued')).toHaveLength(1);
    expect(cond(t.kube.cluster('ns', 'e'), 'Available')).toMatchObject({ status: 'True' });
  });

  it('renews the leaf certificates at 2/3 of their lifetime, with the same CA, and wakes up for it', async () => {
    const t = setup({ replicas: 3, tls: { certificateLifetime: '30m' } });
    await t.settle();
    const before = { ca: serial(t, 'e-ca'), server: serial(t, 'e-server-tls'), peer: serial(t, 'e-peer-tls'), op: serial(t, 'e-operator-client-tls') };
    const res = await t.pass();
    expect(res instanceof Error ? null : res.requeueAfterMs).toBeLessThanOrEqual(20 * 60_000);
    expect(serial(t, 'e-server-tls')).toBe(before.server);
    t.clock.advance(20 * 60_000); // 2/3 of 30 minutes
    await t.pass();
    expect(serial(t, 'e-ca')).toBe(before.ca);
    expect(serial(t, 'e-server-tls')).not.toBe(before.server);
    expect(serial(t, 'e-peer-tls')).not.toBe(before.peer);
    expect(serial(t, 'e-operator-client-tls')).not.toBe(before.op);
    expect(t.kube.events.at(-1)?.message ?? '').toBeDefined();
    expect(t.kube.events.some((e) => e.reason === 'CertificatesIssued' && e.message.includes('e-server-tls (expiring)'))).toBe(true);
    // No pod was deleted for it: the members reload the files.
    expect(t.kube.cluster('ns', 'e').status?.currentOperation ?? null).toBeNull();
  });

  it('serves plain HTTP only on the explicit opt-out', async () => {
    const t = setup({ replicas: 3, tls: { mode: 'disabled' } });
    await t.settle();
    expect(t.kube.secrets.size).toBe(0);
    expect(args(t)).toContain('--listen-peer-urls=http://$(POD_IP):2380');
    expect(t.tlsSecretsSeen).toEqual([]);
  });

  it('keeps a cluster that already runs plain HTTP plain when no mode is set, and refuses switching it', async () => {
    const t = setup({ replicas: 3, tls: { mode: 'disabled' } });
    await t.settle();
    t.kube.editSpec('ns', 'e', (c) => delete c.spec.tls); // an old spec, written before TLS became the default
    await t.settle();
    expect(args(t)).toContain('--listen-peer-urls=http://$(POD_IP):2380');
    expect(t.kube.secrets.size).toBe(0);
    t.kube.editSpec('ns', 'e', (c) => (c.spec.tls = { mode: 'operator' }));
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'TLSChangeUnsupported' });
    expect(args(t)).toContain('--listen-peer-urls=http://$(POD_IP):2380');
  });

  it('asks cert-manager for the certificates when an Issuer is named', async () => {
    const t = setup({ replicas: 3, tls: { certManager: { issuerRef: { name: 'my-ca', kind: 'ClusterIssuer' } } } });
    await t.pass();
    const cert = t.kube.object('Certificate', 'ns', 'e-server-tls') as unknown as { apiVersion: string; spec: Record<string, unknown> };
    expect(cert.apiVersion).toBe('cert-manager.io/v1');
    expect(cert.spec).toMatchObject({ secretName: 'e-server-tls', issuerRef: { name: 'my-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' }, duration: '7776000s', renewBefore: '2592000s' });
    expect(cert.spec.dnsNames).toContain('*.e-peer.ns.svc');
    expect(cert.spec.ipAddresses).toEqual(['127.0.0.1']);
    expect(t.kube.object('Certificate', 'ns', 'e-operator-client-tls')).toBeDefined();
    expect(t.kube.secrets.size).toBe(0); // the operator signs nothing itself
  });

  it('refuses a cert-manager lifetime below 1h (cert-manager would refuse the Certificates) and writes none', async () => {
    const t = setup({ replicas: 3, tls: { certManager: { issuerRef: { name: 'my-ca' } }, certificateLifetime: '30m' } });
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidTLS' });
    expect(cond(c, 'Degraded')?.message).toContain(CERT_MANAGER_LIFETIME_MESSAGE);
    expect(t.kube.events.some((e) => e.reason === 'InvalidTLS' && e.message.includes('at least 1h'))).toBe(true);
    expect(t.kube.object('Certificate', 'ns', 'e-server-tls')).toBeUndefined();
    expect(t.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();
  });
});
