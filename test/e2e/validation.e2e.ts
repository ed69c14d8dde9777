// The EtcdCluster CRD against the real apiserver: structural schema, defaults and CEL rules.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { applyCrds, Kubectl, repoRoot } from './harness.js';

const skip = inject('e2eSkip');
const ns = 'e2e-validation';
const crdPath = join(repoRoot, 'crds/tsetcd.dev_etcdclusters.yaml');

function cluster(name: string, spec: Record<string, unknown> | undefined): Record<string, unknown> {
  return { apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name, namespace: ns }, ...(spec ? { spec } : {}) };
}

describe.skipIf(skip !== '')('EtcdCluster validation by the apiserver', () => {
  const k = new Kubectl(inject('e2eKubeconfig'));
  const crdText = readFileSync(crdPath, 'utf8');
  const message = (start: string): string => {
    const m = new RegExp(`message: "(${start}[^"]*)"`).exec(crdText);
    if (!m?.[1]) throw new Error(`no CEL message starting '${start}' in ${crdPath}`);
    return m[1];
  };

  beforeAll(async () => {
    await applyCrds(k); // retries the wait: on a CRD created a moment ago it fails at once (status.conditions still null)
    await k.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });

  it('accepts a valid cluster and fills in the defaults', async () => {
    const r = await k.apply(cluster('ok', { replicas: 3 }), ['--dry-run=server', '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const obj = JSON.parse(r.stdout) as { spec: { resources: { requests: Record<string, string>; limits: Record<string, string> }; storage: { retentionPolicy: string } } };
    expect(obj.spec.resources.requests).toEqual(obj.spec.resources.limits);
    expect(obj.spec.storage.retentionPolicy).toBe('Retain');
  });

  for (const replicas of [2, 4]) {
    it(`rejects replicas: ${replicas} with the CEL message about odd sizes`, async () => {
      const r = await k.apply(cluster(`even-${replicas}`, { replicas }));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('spec.replicas');
      expect(r.stderr).toContain(message('replicas must be odd'));
    });
  }

  it('rejects requests != limits (Guaranteed QoS)', async () => {
    const r = await k.apply(cluster('burstable', {
      replicas: 3,
      resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: '1Gi' } },
    }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message('resources.requests must equal resources.limits'));
  });

  it('rejects a missing required field', async () => {
    const noSpec = await k.apply(cluster('no-spec', undefined));
    expect(noSpec.code).not.toBe(0);
    expect(noSpec.stderr).toMatch(/spec: Required value/);
    const noLimits = await k.apply(cluster('no-limits', { replicas: 3, resources: { requests: { cpu: '1', memory: '1Gi' } } }));
    expect(noLimits.code).not.toBe(0);
    expect(noLimits.stderr).toMatch(/spec\.resources\.limits: Required value/);
  });

  it('rejects an election timeout shorter than 5 heartbeats', async () => {
    const r = await k.apply(cluster('timeouts', { replicas: 3, heartbeatIntervalMs: 100, electionTimeoutMs: 300 }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message('electionTimeoutMs must be at least'));
  });

  it('rejects shrinking the storage size (transition rule)', async () => {
    expect((await k.apply(cluster('grow-only', { replicas: 1, storage: { size: '2Gi' } }))).code).toBe(0);
    const r = await k.apply(cluster('grow-only', { replicas: 1, storage: { size: '1Gi' } }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message('storage.size cannot shrink'));
    await k.run(['delete', 'etcdcluster', 'grow-only', '-n', ns, '--wait=false']);
  });
});
