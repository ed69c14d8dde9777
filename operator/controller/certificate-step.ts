// The certificate step of a reconcile pass: observe the TLS Secrets, plan (plan/tls.ts, pure, on the
// injected clock), then sign and apply what the plan asks for (mode operator), and hand back the
// material the operator presents to the members. Runs before the members are observed, because
// talking to them needs that material.
import type { ResolvedSpec } from '../api/defaults.js';
import type { SpecProblem } from '../api/validate.js';
import type { ClusterRef } from '../plan/names.js';
import { LEAF_ROLES, buildTlsSecret, planCertificates, tlsSecretName, type CertRequest, type CertRole, type ObservedCert } from '../plan/tls.js';
import { caCertOf, issue, observeCert, type PemPair } from './certificates.js';
import type { KubeApi } from './kube-api.js';

export interface CertificateStep {
  /** The Secret data (ca.crt, tls.crt, tls.key) the operator uses to reach the members; null: plain HTTP or not there yet. */
  operatorSecret: Record<string, Buffer> | null;
  issued: CertRequest[];
  /** When to look again (a leaf's renewal time); null: no need. */
  renewAtMs: number | null;
  problems: SpecProblem[];
}

export async function certificateStep(kube: KubeApi, ref: ClusterRef, spec: ResolvedSpec, nowMs: number, mayIssue: boolean): Promise<CertificateStep> {
  const tls = spec.tls;
  const none: CertificateStep = { operatorSecret: null, issued: [], renewAtMs: null, problems: [] };
  if (tls.mode === 'disabled' || tls.operatorSecretName === null) return none;
  if (tls.mode !== 'operator') {
    const secret = await kube.getSecret(ref.namespace, tls.operatorSecretName);
    if (secret !== null) return { ...none, operatorSecret: secret };
    if (tls.mode === 'cert-manager') return none; // cert-manager has not issued it yet: the pods wait for their Secrets too.
    return {
      ...none,
      problems: [
        {
          field: 'spec.tls.clientSecretName',
          reason: 'TLSSecretNotFound',
          message: `Secret "${tls.operatorSecretName}" (ca.crt, tls.crt, tls.key) does not exist in ${ref.namespace}; create it or fix the name`,
        },
      ],
    };
  }
  const read = async (role: CertRole): Promise<Record<string, Buffer> | null> => kube.getSecret(ref.namespace, tlsSecretName(ref, role));
  const caSecret = await read('ca');
  const caCert = caCertOf(caSecret);
  const secrets: Record<CertRole, Record<string, Buffer> | null> = { ca: caSecret, server: null, peer: null, operator: null };
  for (const role of LEAF_ROLES) secrets[role] = await read(role);
  const observed = {} as Record<CertRole, ObservedCert | null>;
  for (const role of ['ca', ...LEAF_ROLES] as const) observed[role] = observeCert(secrets[role], caCert, role);
  const plan = planCertificates(ref, spec, observed, nowMs);
  if (!mayIssue || plan.issue.length === 0) return { ...none, operatorSecret: secrets.operator, renewAtMs: plan.renewAtMs };

  let ca: PemPair | null = caSecret?.['tls.crt'] && caSecret['tls.key'] ? { cert: caSecret['tls.crt'].toString(), key: caSecret['tls.key'].toString() } : null;
  let operatorSecret = secrets.operator;
  for (const req of plan.issue) {
    const pair = await issue(req, req.role === 'ca' ? null : ca, nowMs);
    if (req.role === 'ca') ca = pair;
    const caPem = ca!.cert;
    const obj = buildTlsSecret(ref, req.secretName, { cert: pair.cert, key: pair.key, ca: caPem });
    await kube.apply(obj);
    if (req.role === 'operator') operatorSecret = { 'tls.crt': Buffer.from(pair.cert), 'tls.key': Buffer.from(pair.key), 'ca.crt': Buffer.from(caPem) };
  }
  return { operatorSecret, issued: plan.issue, renewAtMs: plan.renewAtMs, problems: [] };
}
