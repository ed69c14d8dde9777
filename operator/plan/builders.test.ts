import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../api/defaults.js';
import { buildBootstrapConfigMap } from './bootstrap-configmap.js';
import type { ClusterRef } from './names.js';
import { buildPodDisruptionBudget, pdbMaxUnavailable } from './pdb.js';
import { buildClientService, buildPeerService } from './services.js';
import { buildStatefulSet } from './statefulset.js';

const ref: ClusterRef = { name: 'e', namespace: 'ns', uid: 'uid-1234567890' };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;

function sts(spec: Parameters<typeof resolveSpec>[0], replicas = 3): J {
  return buildStatefulSet(ref, resolveSpec(spec), replicas, { imageOverride: null, command: ['tsetcd'] });
}

const owner = { apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', name: 'e', uid: 'uid-1234567890', controller: true, blockOwnerDeletion: true };

describe('StatefulSet', () => {
  it('has OnDelete updates, Parallel start, the headless service and one PVC per member', () => {
    const s = sts({ replicas: 3, storage: { size: '4Gi', storageClassName: 'fast' } }, 3);
    expect(s.spec.updateStrategy).toEqual({ type: 'OnDelete' });
    expect(s.spec.podManagementPolicy).toBe('Parallel');
    expect(s.spec.serviceName).toBe('e-peer');
    expect(s.spec.replicas).toBe(3);
    expect(s.spec.volumeClaimTemplates).toHaveLength(1);
    expect(s.spec.volumeClaimTemplates[0].spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '4Gi' } }, storageClassName: 'fast' });
    expect(s.metadata.ownerReferences).toEqual([owner]);
    expect(s.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    // Delete is applied by the operator (scale-down, and the EtcdCluster finalizer), never by the StatefulSet controller.
    expect(sts({ storage: { retentionPolicy: 'Delete' } }).spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
  });

  it('gives Guaranteed QoS: requests equal limits, defaults when omitted, one side fills both', () => {
    const c = sts({}).spec.template.spec.containers[0];
    expect(c.resources.requests).toEqual(c.resources.limits);
    expect(c.resources.requests).toEqual({ cpu: '1', memory: '2Gi' });
    const d = sts({ resources: { limits: { cpu: '2', memory: '4Gi' } } }).spec.template.spec.containers[0];
    expect(d.resources.requests).toEqual({ cpu: '2', memory: '4Gi' });
    expect(d.resources.limits).toEqual({ cpu: '2', memory: '4Gi' });
  });

  it('probes readiness on /readyz and liveness conservatively on /livez', () => {
    const c = sts({}).spec.template.spec.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
    const livenessBudgetS = c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold;
    expect(livenessBudgetS).toBeGreaterThanOrEqual(120);
    expect(c.livenessProbe.timeoutSeconds).toBeGreaterThanOrEqual(10);
    expect(c.startupProbe.httpGet.path).toBe('/livez');
  });

  it('runs the member as the image user, non-root, with a group-writable data volume and no privileges', () => {
    const pod = sts({}).spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, fsGroupChangePolicy: 'OnRootMismatch' });
    expect(pod.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('runs the member with etcd-style flags on the headless DNS names and the bootstrap ConfigMap env', () => {
    const c = sts({ heartbeatIntervalMs: 50, electionTimeoutMs: 500 }).spec.template.spec.containers[0];
    expect(c.command).toEqual(['tsetcd']);
    expect(c.args).toContain('--name=$(POD_NAME)');
    expect(c.args).toContain('--initial-advertise-peer-urls=http://$(POD_NAME).e-peer.ns.svc:2380');
    expect(c.args).toContain('--advertise-client-urls=http://$(POD_NAME).e-peer.ns.svc:2379');
    expect(c.args).toContain('--heartbeat-interval=50');
    expect(c.args).toContain('--election-timeout=500');
    expect(c.args).toContain('--auto-compaction-mode=periodic');
    expect(c.args).toContain('--auto-compaction-retention=1h');
    const env = Object.fromEntries(c.env.map((e: J) => [e.name, e.valueFrom]));
    expect(env.ETCD_INITIAL_CLUSTER.configMapKeyRef).toEqual({ name: 'e-bootstrap', key: 'initial-cluster' });
    expect(env.ETCD_INITIAL_CLUSTER_STATE.configMapKeyRef).toEqual({ name: 'e-bootstrap', key: 'initial-cluster-state' });
    expect(env.POD_NAME.fieldRef.fieldPath).toBe('metadata.name');
  });

  it('uses https and mounts secrets when TLS is configured', () => {
    const s = sts({ tls: { clientSecretName: 'c', peerSecretName: 'p' } });
    const c = s.spec.template.spec.containers[0];
    expect(c.args).toContain('--initial-advertise-peer-urls=https://$(POD_NAME).e-peer.ns.svc:2380');
    expect(c.args).toContain('--client-cert-auth=true');
    expect(c.args).toContain('--peer-client-cert-auth=true');
    expect(s.spec.template.spec.volumes).toEqual([
      { name: 'tls-client', secret: { secretName: 'c' } },
      { name: 'tls-peer', secret: { secretName: 'p' } },
    ]);
  });

  it('places members: required anti-affinity per hostname by default, dedicated nodes, spread, priority', () => {
    const s = sts({
      placement: {
        dedicated: { nodeSelector: { dedicated: 'etcd' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'etcd', effect: 'NoSchedule' }] },
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }],
        priorityClassName: 'etcd-critical',
      },
    }).spec.template.spec;
    const req = s.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(req).toHaveLength(1);
    expect(req[0].topologyKey).toBe('kubernetes.io/hostname');
    expect(req[0].labelSelector.matchLabels['tsetcd.dev/cluster']).toBe('e');
    expect(s.nodeSelector).toEqual({ dedicated: 'etcd' });
    expect(s.tolerations).toEqual([{ key: 'dedicated', operator: 'Equal', value: 'etcd', effect: 'NoSchedule' }]);
    expect(s.topologySpreadConstraints[0].labelSelector.matchLabels['tsetcd.dev/cluster']).toBe('e');
    expect(s.priorityClassName).toBe('etcd-critical');
  });

  it('uses preferred anti-affinity when asked', () => {
    const aff = sts({ placement: { antiAffinity: 'preferred' } }).spec.template.spec.affinity.podAntiAffinity;
    expect(aff.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(aff.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
  });

  it('the image override and the command come from the operator config', () => {
    const s: J = buildStatefulSet(ref, resolveSpec({}), 1, { imageOverride: 'local/tsetcd:dev', command: ['/repo/bin/tsetcd'] });
    expect(s.spec.template.spec.containers[0].image).toBe('local/tsetcd:dev');
    expect(s.spec.template.spec.containers[0].command).toEqual(['/repo/bin/tsetcd']);
    expect((sts({}) as J).spec.template.spec.containers[0].image).toBe('ghcr.io/tsetcd/tsetcd:0.1.0');
  });
});

describe('Services', () => {
  it('peer service is headless and publishes not-ready addresses', () => {
    const s: J = buildPeerService(ref);
    expect(s.spec.clusterIP).toBe('None');
    expect(s.spec.publishNotReadyAddresses).toBe(true);
    expect(s.metadata.ownerReferences).toEqual([owner]);
  });
  it('client service serves ready members on 2379 and metrics on 2381', () => {
    const s: J = buildClientService(ref);
    expect(s.spec.publishNotReadyAddresses).toBeUndefined();
    expect(s.spec.ports.map((p: J) => p.port)).toEqual([2379, 2381]);
    expect(s.metadata.ownerReferences).toEqual([owner]);
  });
});

describe('PodDisruptionBudget', () => {
  it('allows one disruption only while quorum keeps a margin', () => {
    expect([1, 2, 3, 4, 5, 7, 9].map(pdbMaxUnavailable)).toEqual([0, 0, 1, 1, 1, 1, 1]);
    const p: J = buildPodDisruptionBudget(ref, 3);
    expect(p.spec.maxUnavailable).toBe(1);
    expect(p.spec.selector.matchLabels['tsetcd.dev/cluster']).toBe('e');
    expect(p.metadata.ownerReferences).toEqual([owner]);
  });
});

describe('bootstrap ConfigMap', () => {
  it('lists the members and the state', () => {
    const c: J = buildBootstrapConfigMap(ref, 'new', [
      { name: 'e-0', peerURL: 'http://e-0.e-peer.ns.svc:2380' },
      { name: 'e-1', peerURL: 'http://e-1.e-peer.ns.svc:2380' },
    ]);
    expect(c.data['initial-cluster']).toBe('e-0=http://e-0.e-peer.ns.svc:2380,e-1=http://e-1.e-peer.ns.svc:2380');
    expect(c.data['initial-cluster-state']).toBe('new');
    expect(c.data['initial-cluster-token']).toBe('ns-e-uid-1234');
    expect(c.metadata.ownerReferences).toEqual([owner]);
  });
});
