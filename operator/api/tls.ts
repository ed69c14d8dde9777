// spec.tls: which certificates a cluster uses and who makes them. Secure by default: a spec that says
// nothing gets client and peer TLS with mutual authentication, from a CA the operator issues.
// Compatibility: a spec that names its own Secrets keeps meaning what it meant (mode secrets), and a
// cluster that already runs plain HTTP with no mode set stays plain (see plan/tls.ts), since moving a
// running cluster's peer URLs to https is not a change the operator makes by itself.
import type { TlsMode, TlsSpec } from './types.js';

/** 90 days, as cert-manager's default. */
export const DEFAULT_CERTIFICATE_LIFETIME = '2160h';
/** Below this a renewal (at 2/3 of the lifetime) would race the kubelet's Secret volume sync (up to about a minute). */
export const MIN_CERTIFICATE_LIFETIME_MS = 3 * 60_000;
/** A Go-style duration of h/m/s parts: "2160h", "1h30m", "180s". */
export const CERTIFICATE_LIFETIME_PATTERN = /^([0-9]+h)?([0-9]+m)?([0-9]+s)?$/;
export const CERTIFICATE_LIFETIME_MESSAGE = 'tls.certificateLifetime must be a duration of hours, minutes and seconds (e.g. 2160h, 1h30m), at least 3m';
/**
 * cert-manager's webhook refuses a Certificate whose duration is below 1h (cert-manager.io/v1
 * MinimumCertificateDuration; its renewBefore, a third of that, then clears the 5m minimum too), so
 * mode cert-manager needs at least that: shorter, the operator's Certificates would never be admitted.
 */
export const CERT_MANAGER_MIN_LIFETIME_MS = 3600_000;
export const CERT_MANAGER_LIFETIME_MESSAGE = 'tls.certificateLifetime must be at least 1h with tls.mode cert-manager (cert-manager refuses a shorter Certificate duration)';

export function parseLifetimeMs(s: string): number | null {
  const m = CERTIFICATE_LIFETIME_PATTERN.exec(s);
  if (!m || s === '') return null;
  const n = (x: string | undefined): number => (x === undefined ? 0 : Number(x.slice(0, -1)));
  return ((n(m[1]) * 60 + n(m[2])) * 60 + n(m[3])) * 1000;
}

export interface IssuerRef {
  name: string;
  kind: 'Issuer' | 'ClusterIssuer';
  group: string;
}

export interface ResolvedTls {
  /** null: not set and nothing implies one; plan/tls.ts decides (operator, or disabled for a cluster already plain). */
  mode: TlsMode | null;
  /** The Secret mounted for the client listener (tls.crt, tls.key, ca.crt); null: plain HTTP. */
  clientSecretName: string | null;
  /** The Secret mounted for the peer listener and dialer; null: plain HTTP. */
  peerSecretName: string | null;
  /** The Secret whose certificate the operator presents to the members; null: none. */
  operatorSecretName: string | null;
  /** The operator's CA (mode operator). */
  caSecretName: string | null;
  certificateLifetimeMs: number;
  issuerRef: IssuerRef | null;
}

export function resolveTlsSpec(t: TlsSpec | undefined): ResolvedTls {
  const implied: TlsMode | null =
    t?.mode ?? (t?.clientSecretName !== undefined || t?.peerSecretName !== undefined ? 'secrets' : t?.certManager !== undefined ? 'cert-manager' : null);
  const secrets = implied === 'secrets';
  const ref = t?.certManager?.issuerRef;
  return {
    mode: implied,
    clientSecretName: secrets ? (t?.clientSecretName ?? null) : null,
    peerSecretName: secrets ? (t?.peerSecretName ?? null) : null,
    // With its own Secrets, the operator has always used the client Secret's certificate.
    operatorSecretName: secrets ? (t?.clientSecretName ?? null) : null,
    caSecretName: null,
    certificateLifetimeMs: parseLifetimeMs(t?.certificateLifetime ?? DEFAULT_CERTIFICATE_LIFETIME) ?? 0,
    issuerRef: ref ? { name: ref.name, kind: ref.kind ?? 'Issuer', group: ref.group ?? 'cert-manager.io' } : null,
  };
}

export interface TlsProblem {
  field: string;
  reason: string;
  message: string;
}

/** What the CRD's CEL rules say, checked again by the operator (it never relies on admission). */
export function tlsProblems(t: TlsSpec | undefined): TlsProblem[] {
  const out: TlsProblem[] = [];
  if (t === undefined) return out;
  const named = t.clientSecretName !== undefined || t.peerSecretName !== undefined;
  const cmMode = t.mode === 'cert-manager' || (t.mode === undefined && !named);
  const lifetime = t.certificateLifetime;
  if (lifetime !== undefined) {
    const ms = parseLifetimeMs(lifetime);
    if (ms === null || ms < MIN_CERTIFICATE_LIFETIME_MS) out.push({ field: 'spec.tls.certificateLifetime', reason: 'InvalidTLS', message: CERTIFICATE_LIFETIME_MESSAGE });
    else if (cmMode && t.certManager !== undefined && ms < CERT_MANAGER_MIN_LIFETIME_MS) {
      out.push({ field: 'spec.tls.certificateLifetime', reason: 'InvalidTLS', message: CERT_MANAGER_LIFETIME_MESSAGE });
    }
  }
  if (t.mode !== undefined && t.mode !== 'secrets' && named) {
    out.push({ field: 'spec.tls', reason: 'InvalidTLS', message: `tls.clientSecretName and tls.peerSecretName need tls.mode secrets (or no mode), not ${t.mode}` });
  }
  if (t.mode === 'secrets' && !named) {
    out.push({ field: 'spec.tls', reason: 'InvalidTLS', message: 'tls.mode secrets needs tls.clientSecretName or tls.peerSecretName' });
  }
  if ((t.mode === 'cert-manager' && t.certManager === undefined) || (t.certManager !== undefined && !cmMode)) {
    out.push({ field: 'spec.tls.certManager', reason: 'InvalidTLS', message: 'tls.certManager.issuerRef goes with tls.mode cert-manager (and only with it)' });
  }
  return out;
}
