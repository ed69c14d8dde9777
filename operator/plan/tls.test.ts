// The pure certificate planning (no signing, no clock but the number given) and the cert-manager
// Certificates. cert-manager cannot run here, so its objects are checked against the Certificate
// CRD's shape (cert-manager.io/v1: the spec fields, the required ones and the enums we use, as
// cert-manager's CRD declares them), not against a running cert-manager.
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../api/defaults.js';
import { buildCertManagerCertificates, effectiveTls, memberSans, OPERATOR_CLIENT_URI, planCertificates, RENEW_AT_FRACTION, type CertRole, type ObservedCert } from './tls.js';

const ref = { name: 'db', namespace: 'prod', uid: 'u' };
const HOUR = 3600_000;
const spec = (tls = {}) => effectiveTls(ref, resolveSpec({ tls }), false);

function healthy(notBeforeMs: number, lifetimeMs: number, sans = memberSans(ref)): ObservedCert {
  return { notBeforeMs, notAfterMs: notBeforeMs + lifetimeMs, sans, signedByCa: true };
}
function observed(now: number, lifetimeMs: number): Record<CertRole, ObservedCert | null> {
  return { ca: healthy(now, 87600 * HOUR, []), server: healthy(now, lifetimeMs), peer: healthy(now, lifetimeMs), operator: { ...healthy(now, lifetimeMs, [`URI:${OPERATOR_CLIENT_URI}`]), subject: 'O=tsetcd-operator' } };
}

describe('planCertificates', () => {
  const s = spec({ certificateLifetime: '90h' });
  const T = Date.UTC(2026, 0, 1);

  it('issues everything for a new cluster, nothing for a healthy one, and says when to look again', () => {
    const none = { ca: null, server: null, peer: null, operator: null };
    expect(planCertificates(ref, s, none, T).issue.map((r) => `${r.role}:${r.reason}`)).toEqual(['ca:missing', 'server:missing', 'peer:missing', 'operator:missing']);
    const p = planCertificates(ref, s, observed(T, 90 * HOUR), T + HOUR);
    expect(p.issue).toEqual([]);
    expect(p.renewAtMs).toBe(T + RENEW_AT_FRACTION * 90 * HOUR);
  });

  it('renews the leaves at 2/3 of their lifetime, not before, and keeps the CA', () => {
    const o = observed(T, 90 * HOUR);
    expect(planCertificates(ref, s, o, T + 60 * HOUR - 1).issue).toEqual([]);
    expect(planCertificates(ref, s, o, T + 60 * HOUR).issue.map((r) => `${r.role}:${r.reason}`)).toEqual(['server:expiring', 'peer:expiring', 'operator:expiring']);
  });

  it('reissues a leaf of another CA, with other names, or longer-lived than the spec now asks', () => {
    const o = observed(T, 90 * HOUR);
    expect(planCertificates(ref, s, { ...o, server: { ...o.server!, signedByCa: false } }, T).issue.map((r) => `${r.role}:${r.reason}`)).toEqual(['server:ca-changed']);
    expect(planCertificates(ref, s, { ...o, peer: { ...o.peer!, sans: ['DNS:elsewhere'] } }, T).issue.map((r) => `${r.role}:${r.reason}`)).toEqual(['peer:names-changed']);
    // An operator certificate from before it lost its CN (etcd's gateway refuses one with auth on).
    expect(planCertificates(ref, s, { ...o, operator: { ...o.operator!, sans: [], subject: 'CN=tsetcd-operator' } }, T).issue.map((r) => `${r.role}:${r.reason}`)).toEqual(['operator:names-changed']);
    expect(planCertificates(ref, s, { ...o, operator: { ...o.operator!, subject: 'CN=tsetcd-operator' } }, T).issue.map((r) => `${r.role}:${r.reason}`)).toEqual(['operator:names-changed']);
    const shorter = spec({ certificateLifetime: '3m' });
    expect(planCertificates(ref, shorter, o, T).issue.map((r) => r.reason)).toEqual(['lifetime-changed', 'lifetime-changed', 'lifetime-changed']);
  });

  it('a missing or expired CA takes every leaf with it; other modes plan nothing', () => {
    const o = observed(T, 90 * HOUR);
    expect(planCertificates(ref, s, { ...o, ca: null }, T).issue.map((r) => `${r.role}:${r.reason}`)).toEqual(['ca:missing', 'server:ca-changed', 'peer:ca-changed', 'operator:ca-changed']);
    for (const mode of ['disabled', 'secrets', 'cert-manager'] as const) {
      expect(planCertificates(ref, { ...s, tls: { ...s.tls, mode } }, { ca: null, server: null, peer: null, operator: null }, T).issue).toEqual([]);
    }
  });

  it('names every pod of the headless Service, the client Service and loopback', () => {
    expect(memberSans(ref)).toEqual([
      'DNS:*.db-peer.prod.svc', 'DNS:*.db-peer.prod.svc.cluster.local',
      'DNS:db-client', 'DNS:db-client.prod', 'DNS:db-client.prod.svc', 'DNS:db-client.prod.svc.cluster.local',
      'DNS:localhost', 'IP:127.0.0.1',
    ]);
  });
});

// cert-manager.io/v1 Certificate, the parts of its CRD this operator writes.
const CERTIFICATE_SPEC_FIELDS = new Set([
  'secretName', 'secretTemplate', 'commonName', 'duration', 'renewBefore', 'dnsNames', 'ipAddresses', 'uris', 'emailAddresses',
  'isCA', 'usages', 'privateKey', 'issuerRef', 'subject', 'keystores', 'literalSubject', 'revisionHistoryLimit', 'encodeUsagesInRequest', 'additionalOutputFormats', 'nameConstraints', 'otherNames', 'renewBeforePercentage', 'signatureAlgorithm',
]);
const KEY_USAGES = new Set(['signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc']);
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

describe('cert-manager Certificates', () => {
  it('match the Certificate CRD shape: known fields, required secretName and issuerRef.name, valid enums and durations', () => {
    const s = effectiveTls(ref, resolveSpec({ tls: { certManager: { issuerRef: { name: 'corp-ca' } } } }), false);
    const certs = buildCertManagerCertificates(ref, s);
    expect(certs.map((c) => c.metadata.name)).toEqual(['db-server-tls', 'db-peer-tls', 'db-operator-client-tls']);
    for (const c of certs) {
      expect(c.apiVersion).toBe('cert-manager.io/v1');
      expect(c.kind).toBe('Certificate');
      const spec = c.spec as Record<string, unknown>;
      for (const k of Object.keys(spec)) expect(CERTIFICATE_SPEC_FIELDS.has(k), `spec.${k}`).toBe(true);
      expect(typeof spec.secretName).toBe('string');
      expect(spec.secretName).toBe(c.metadata.name);
      expect(spec.issuerRef).toEqual({ name: 'corp-ca', kind: 'Issuer', group: 'cert-manager.io' });
      for (const u of spec.usages as string[]) expect(KEY_USAGES.has(u), u).toBe(true);
      expect(spec.duration).toMatch(GO_DURATION);
      expect(spec.renewBefore).toMatch(GO_DURATION);
      expect(spec.privateKey).toEqual({ algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' });
      expect(c.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'EtcdCluster', controller: true });
    }
    expect((certs[0]!.spec as { usages: string[] }).usages).toContain('server auth');
    expect((certs[2]!.spec as { usages: string[] }).usages).not.toContain('server auth');
    // The operator's certificate has no CN (cert-manager then needs another name: the URI SAN).
    expect(certs[2]!.spec).toMatchObject({ subject: { organizations: ['tsetcd-operator'] }, uris: [OPERATOR_CLIENT_URI] });
    expect((certs[2]!.spec as Record<string, unknown>).commonName).toBeUndefined();
    expect(buildCertManagerCertificates(ref, spec())).toEqual([]); // mode operator signs itself
  });
});
