// LeaseApi over coordination.k8s.io/v1 Leases.
import * as k8s from '@kubernetes/client-node';
import { httpCode } from './real-kube-api.js';
import { LeaseConflictError, type LeaseApi, type LeaseRecord } from './leader-election.js';

export class RealLeaseApi implements LeaseApi {
  private readonly api: k8s.CoordinationV1Api;
  constructor(
    kc: k8s.KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  async get(): Promise<LeaseRecord | null> {
    try {
      const l = await this.api.readNamespacedLease({ namespace: this.namespace, name: this.name });
      return {
        holderIdentity: l.spec?.holderIdentity ?? null,
        leaseDurationSeconds: l.spec?.leaseDurationSeconds ?? 15,
        acquireTimeMs: l.spec?.acquireTime ? new Date(l.spec.acquireTime).getTime() : null,
        renewTimeMs: l.spec?.renewTime ? new Date(l.spec.renewTime).getTime() : null,
        leaseTransitions: l.spec?.leaseTransitions ?? 0,
        resourceVersion: l.metadata?.resourceVersion ?? null,
      };
    } catch (err: unknown) {
      if (httpCode(err) === 404) return null;
      throw err;
    }
  }

  async create(r: LeaseRecord): Promise<void> {
    try {
      await this.api.createNamespacedLease({ namespace: this.namespace, body: this.body(r) });
    } catch (err: unknown) {
      if (httpCode(err) === 409) throw new LeaseConflictError('lease exists');
      throw err;
    }
  }

  async update(r: LeaseRecord): Promise<void> {
    try {
      await this.api.replaceNamespacedLease({ namespace: this.namespace, name: this.name, body: this.body(r) });
    } catch (err: unknown) {
      if (httpCode(err) === 409) throw new LeaseConflictError('lease changed');
      throw err;
    }
  }

  private body(r: LeaseRecord): k8s.V1Lease {
    const spec: k8s.V1LeaseSpec = { leaseDurationSeconds: r.leaseDurationSeconds, leaseTransitions: r.leaseTransitions };
    if (r.holderIdentity !== null) spec.holderIdentity = r.holderIdentity;
    if (r.acquireTimeMs !== null) spec.acquireTime = new k8s.V1MicroTime(r.acquireTimeMs);
    if (r.renewTimeMs !== null) spec.renewTime = new k8s.V1MicroTime(r.renewTimeMs);
    const metadata: k8s.V1ObjectMeta = { name: this.name, namespace: this.namespace };
    if (r.resourceVersion !== null) metadata.resourceVersion = r.resourceVersion;
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec };
  }
}
