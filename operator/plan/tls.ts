// Certificates of a cluster, planned without I/O: which TLS mode is in effect, the Secret names, and
// which certificates must be issued now (missing, expiring, not signed by the current CA, wrong names,
// or longer-lived than the spec asks), from what the controller observed in the Secrets and a clock
// reading. Signing happens in the controller (act); cert-manager mode builds Certificate objects here.
import type { ResolvedSpec } from '../api/defaults.js';
import type { ResolvedTls } from '../api/tls.js';
import type { KubeObject } from './kube-object.js';
import { clientServiceName, commonLabels, ownerReference, peerServiceName, type ClusterRef } from './names.js';

export const CA_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;
/** Leaves are renewed once this share of their lifetime has passed (cert-manager's default too). */
export const RENEW_AT_FRACTION = 2 / 3;
/**
 * The operator's client certificate names it by organization, with no common name: with
 * --client-cert-auth and auth on, etcd's gateway (which the operator speaks) refuses a certificate
 * that carries a CN (it could never name the user there), and the operator logs in with spec.auth's
 * user instead. A URI SAN gives cert-manager the one name it requires.
 */
export const OPERATOR_CLIENT_ORG = 'tsetcd-operator';
export const OPERATOR_CLIENT_URI = 'urn:tsetcd:operator';

export type CertRole = 'ca' | 'server' | 'peer' | 'operator';
export const LEAF_ROLES = ['server', 'peer', 'operator'] as const;

export function tlsSecretName(ref: ClusterRef, role: CertRole): string {
  return role === 'ca' ? `${ref.name}-ca` : role === 'operator' ? `${ref.name}-operator-client-tls` : `${ref.name}-${role}-tls`;
}

/**
 * The TLS in effect. An unset mode means operator-issued certificates, except for a cluster whose
 * members already run plain HTTP (runningPlain, from the StatefulSet): switching its peer URLs to https
 * would need every member's peer URL updated, so it stays plain until the user sets a mode.
 */
export function effectiveTls(ref: ClusterRef, spec: ResolvedSpec, runningPlain: boolean): ResolvedSpec {
  const mode = spec.tls.mode ?? (runningPlain ? 'disabled' : 'operator');
  const managed = mode === 'operator' || mode === 'cert-manager';
  const tls: ResolvedTls =
    mode === 'disabled'
      ? { ...spec.tls, mode, clientSecretName: null, peerSecretName: null, operatorSecretName: null, caSecretName: null }
      : managed
        ? {
            ...spec.tls,
            mode,
            clientSecretName: tlsSecretName(ref, 'server'),
            peerSecretName: tlsSecretName(ref, 'peer'),
            operatorSecretName: tlsSecretName(ref, 'operator'),
            caSecretName: mode === 'operator' ? tlsSecretName(ref, 'ca') : null,
          }
        : { ...spec.tls, mode };
  return { ...spec, tls };
}

/** The names a member answers to: every pod of the headless Service, the client Service, loopback. */
export function memberSans(ref: ClusterRef): string[] {
  const peer = `${peerServiceName(ref)}.${ref.namespace}.svc`;
  const client = clientServiceName(ref);
  return [
    `DNS:*.${peer}`,
    `DNS:*.${peer}.cluster.local`,
    `DNS:${client}`,
    `DNS:${client}.${ref.namespace}`,
    `DNS:${client}.${ref.namespace}.svc`,
    `DNS:${client}.${ref.namespace}.svc.cluster.local`,
    'DNS:localhost',
    'IP:127.0.0.1',
  ];
}

/** What the controller read from one Secret's tls.crt. */
export interface ObservedCert {
  notBeforeMs: number;
  notAfterMs: number;
  /** "DNS:name", "IP:address" and "URI:uri" entries. */
  sans: string[];
  /** The subject, RFC 4514 ("CN=x" or "O=y"); absent: not compared. */
  subject?: string;
  /** Verified with the CA Secret's certificate (always true for the CA itself). */
  signedByCa: boolean;
}

export type IssueReason = 'missing' | 'expiring' | 'ca-changed' | 'names-changed' | 'lifetime-changed';

export interface CertRequest {
  role: CertRole;
  secretName: string;
  /** The subject's CN; empty for none (the operator's certificate). */
  commonName: string;
  /** The subject's O, when there is no CN. */
  organization?: string;
  sans: string[];
  /** serverAuth and clientAuth for members (they dial each other), clientAuth for the operator. */
  server: boolean;
  lifetimeMs: number;
  reason: IssueReason;
}

export interface CertPlan {
  issue: CertRequest[];
  /** When the next leaf is due for renewal (requeue then); null: nothing to watch. */
  renewAtMs: number | null;
}

export function renewAtMs(c: ObservedCert): number {
  return c.notBeforeMs + RENEW_AT_FRACTION * (c.notAfterMs - c.notBeforeMs);
}

function want(ref: ClusterRef, tls: ResolvedTls, role: CertRole): Omit<CertRequest, 'reason'> {
  const secretName = tlsSecretName(ref, role);
  if (role === 'ca') return { role, secretName, commonName: `${ref.name}.${ref.namespace} tsetcd CA`, sans: [], server: false, lifetimeMs: CA_LIFETIME_MS };
  if (role === 'operator') return { role, secretName, commonName: '', organization: OPERATOR_CLIENT_ORG, sans: [`URI:${OPERATOR_CLIENT_URI}`], server: false, lifetimeMs: tls.certificateLifetimeMs };
  return { role, secretName, commonName: `${ref.name}-${role}`, sans: memberSans(ref), server: true, lifetimeMs: tls.certificateLifetimeMs };
}

/** The subject a request asks for, as observeCert reports one. */
export function subjectOf(req: Pick<CertRequest, 'commonName' | 'organization'>): string {
  return req.commonName !== '' ? `CN=${req.commonName}` : `O=${req.organization ?? ''}`;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/** Mode operator only; other modes issue nothing here. */
export function planCertificates(ref: ClusterRef, spec: ResolvedSpec, observed: Record<CertRole, ObservedCert | null>, nowMs: number): CertPlan {
  if (spec.tls.mode !== 'operator') return { issue: [], renewAtMs: null };
  const issue: CertRequest[] = [];
  const ca = observed.ca;
  // A CA that is missing or expired: a new one, and every leaf with it. (A CA rollover of a running
  // cluster is the runbook in docs/tls.md; the CA lives ten years.)
  const newCa = ca === null || nowMs >= ca.notAfterMs;
  if (newCa) issue.push({ ...want(ref, spec.tls, 'ca'), reason: ca === null ? 'missing' : 'expiring' });
  let next: number | null = null;
  for (const role of LEAF_ROLES) {
    const w = want(ref, spec.tls, role);
    const o = observed[role];
    const reason: IssueReason | null =
      o === null
        ? 'missing'
        : newCa || !o.signedByCa
          ? 'ca-changed'
          : !sameSet(o.sans, w.sans) || (o.subject !== undefined && o.subject !== subjectOf(w))
            ? 'names-changed'
            : o.notAfterMs - o.notBeforeMs > w.lifetimeMs + 60_000
              ? 'lifetime-changed'
              : nowMs >= renewAtMs(o)
                ? 'expiring'
                : null;
    if (reason !== null) {
      issue.push({ ...w, reason });
      // The new one is due after 2/3 of its lifetime from now.
      next = Math.min(next ?? Infinity, nowMs + RENEW_AT_FRACTION * w.lifetimeMs);
    } else if (o !== null) {
      next = Math.min(next ?? Infinity, renewAtMs(o));
    }
  }
  return { issue, renewAtMs: next };
}

/** A kubernetes.io/tls Secret with the CA certificate beside the pair (what members and clients mount). */
export function buildTlsSecret(ref: ClusterRef, name: string, data: { cert: string; key: string; ca: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ref.namespace, labels: commonLabels(ref), ownerReferences: [ownerReference(ref) as unknown as Record<string, unknown>] },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': b64(data.cert),
      'tls.key': b64(data.key),
      'ca.crt': b64(data.ca),
    },
  };
}

function b64(s: string): string {
  // The pure room has no Buffer; PEM is ASCII, so btoa is exact.
  return btoa(s);
}

/** cert-manager Certificates (cert-manager.io/v1) for the server, peer and operator-client Secrets. */
export function buildCertManagerCertificates(ref: ClusterRef, spec: ResolvedSpec): KubeObject[] {
  const tls = spec.tls;
  if (tls.mode !== 'cert-manager' || tls.issuerRef === null) return [];
  const seconds = Math.round(tls.certificateLifetimeMs / 1000);
  const renewBefore = Math.round(seconds * (1 - RENEW_AT_FRACTION));
  return LEAF_ROLES.map((role) => {
    const w = want(ref, tls, role);
    const dnsNames = w.sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
    const ipAddresses = w.sans.filter((s) => s.startsWith('IP:')).map((s) => s.slice(3));
    const uris = w.sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
    const certSpec: Record<string, unknown> = {
      secretName: w.secretName,
      ...(w.commonName !== '' ? { commonName: w.commonName } : { subject: { organizations: [w.organization ?? ''] } }),
      duration: `${seconds}s`,
      renewBefore: `${renewBefore}s`,
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      usages: w.server ? ['digital signature', 'key encipherment', 'server auth', 'client auth'] : ['digital signature', 'key encipherment', 'client auth'],
      issuerRef: { name: tls.issuerRef!.name, kind: tls.issuerRef!.kind, group: tls.issuerRef!.group },
      secretTemplate: { labels: commonLabels(ref) },
    };
    if (dnsNames.length > 0) certSpec.dnsNames = dnsNames;
    if (ipAddresses.length > 0) certSpec.ipAddresses = ipAddresses;
    if (uris.length > 0) certSpec.uris = uris;
    return {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: w.secretName, namespace: ref.namespace, labels: commonLabels(ref), ownerReferences: [ownerReference(ref) as unknown as Record<string, unknown>] },
      spec: certSpec,
    };
  });
}
