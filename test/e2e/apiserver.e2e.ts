// The apiserver's own use of its storage, through @kubernetes/client-node and kubectl:
// ConfigMap create, paged list, watch, update with conflicts, delete; a CRD and its objects;
// /healthz/etcd. Run on Debian's etcd by default and on tsetcd with CP_STORAGE=tsetcd
// (then this file is our compatibility proof of tsetcd as kube-apiserver's storage).
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Kubectl, waitFor } from './harness.js';

const skip = inject('e2eSkip');
const ns = 'e2e-apiserver';

function isConflict(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 409;
}

describe.skipIf(skip !== '')('kube-apiserver on its storage', () => {
  const kubeconfig = inject('e2eKubeconfig');
  const k = new Kubectl(kubeconfig);
  const kc = new k8s.KubeConfig();
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    kc.loadFromFile(kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await k.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });

  afterAll(async () => {
    await k.run(['delete', 'namespace', ns, '--wait=false']);
    await k.run(['delete', 'crd', 'widgets.e2e.tsetcd.dev', '--wait=false']);
  });

  it('answers /healthz/etcd and /readyz', async () => {
    expect((await k.ok(['get', '--raw', '/healthz/etcd'])).trim()).toBe('ok');
    const ready = await k.ok(['get', '--raw', '/readyz?verbose']);
    expect(ready).toContain('[+]etcd ok');
  });

  it('creates, lists with paging, updates with conflicts and deletes ConfigMaps', async () => {
    const n = 25;
    for (let i = 0; i < n; i++) {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `cm-${String(i).padStart(2, '0')}`, labels: { e2e: 'paging' } }, data: { i: String(i) } } });
    }
    // Paging without selectors (the apiserver counts remaining items only then): limit 10 gives
    // 3 pages with continue tokens and every item once, in name order. The namespace also holds
    // kube-root-ca.crt, published by the controller-manager; wait for it so the count is stable.
    await waitFor('kube-root-ca.crt', 60_000, async () => (await k.run(['get', 'configmap', 'kube-root-ca.crt', '-n', ns])).code === 0);
    const all: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await core.listNamespacedConfigMap({ namespace: ns, limit: 10, ...(cont ? { _continue: cont } : {}) });
      all.push(...page.items.map((c) => c.metadata?.name ?? ''));
      cont = page.metadata?._continue || undefined;
      pages++;
      if (cont) expect(page.metadata?.remainingItemCount).toBe(n + 1 - all.length);
    } while (cont);
    expect(pages).toBe(3);
    expect(all).toHaveLength(n + 1);
    const names = all.filter((x) => x.startsWith('cm-'));
    expect(names).toEqual(Array.from({ length: n }, (_, i) => `cm-${String(i).padStart(2, '0')}`));
    // kubectl pages too (--chunk-size).
    const kubectlNames = (await k.ok(['get', 'configmaps', '-n', ns, '-l', 'e2e=paging', '--chunk-size=7', '-o', 'name'])).trim().split('\n');
    expect(kubectlNames).toHaveLength(n);

    // Update with the current resourceVersion works; a stale one is a conflict.
    const cm = await core.readNamespacedConfigMap({ name: 'cm-00', namespace: ns });
    const staleRv = cm.metadata?.resourceVersion;
    const updated = await core.replaceNamespacedConfigMap({ name: 'cm-00', namespace: ns, body: { ...cm, data: { i: 'updated' } } });
    expect(updated.metadata?.resourceVersion).not.toBe(staleRv);
    let conflict: unknown;
    try {
      await core.replaceNamespacedConfigMap({ name: 'cm-00', namespace: ns, body: { ...cm, metadata: { ...cm.metadata, resourceVersion: staleRv }, data: { i: 'lost update' } } });
    } catch (err) {
      conflict = err;
    }
    expect(isConflict(conflict)).toBe(true);
    expect((await core.readNamespacedConfigMap({ name: 'cm-00', namespace: ns })).data).toEqual({ i: 'updated' });
    // Creating an existing name is a conflict (AlreadyExists).
    let exists: unknown;
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cm-01' } } });
    } catch (err) {
      exists = err;
    }
    expect(isConflict(exists)).toBe(true);

    await k.ok(['delete', 'configmaps', '-n', ns, '-l', 'e2e=paging']);
    const after = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'e2e=paging' });
    expect(after.items).toHaveLength(0);
  });

  it('watches ConfigMaps: ADDED, MODIFIED, DELETED in order, from a resourceVersion', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: ns });
    const events: Array<[string, string, string]> = [];
    const watch = new k8s.Watch(kc);
    let ended: unknown;
    const ctl = await watch.watch(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: false },
      (type, obj: k8s.V1ConfigMap) => { events.push([type, obj.metadata?.name ?? '', obj.data?.v ?? '']); },
      (err) => { ended = err ?? 'closed'; });
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'watched' }, data: { v: '1' } } });
      await k.ok(['patch', 'configmap', 'watched', '-n', ns, '--type=merge', '-p', '{"data":{"v":"2"}}']);
      await k.ok(['delete', 'configmap', 'watched', '-n', ns]);
      const seen = await waitFor('three watch events', 30_000, async () => {
        if (ended !== undefined) throw new Error(`watch ended early: ${String(ended)}`);
        const mine = events.filter((e) => e[1] === 'watched');
        return mine.length >= 3 ? mine : undefined;
      }, 200);
      expect(seen).toEqual([['ADDED', 'watched', '1'], ['MODIFIED', 'watched', '2'], ['DELETED', 'watched', '2']]);
    } finally {
      ctl.abort();
    }
  });

  it('serves a CRD and its objects', async () => {
    await k.ok(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.e2e.tsetcd.dev' },
      spec: {
        group: 'e2e.tsetcd.dev', scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } } } } } }],
      },
    }));
    await k.ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/widgets.e2e.tsetcd.dev']);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const body = { apiVersion: 'e2e.tsetcd.dev/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 3 } };
    await waitFor('the Widget API to be served', 30_000, async () => {
      await custom.createNamespacedCustomObject({ group: 'e2e.tsetcd.dev', version: 'v1', namespace: ns, plural: 'widgets', body });
      return true;
    });
    const got = (await custom.getNamespacedCustomObject({ group: 'e2e.tsetcd.dev', version: 'v1', namespace: ns, plural: 'widgets', name: 'w1' })) as { spec: { size: number } };
    expect(got.spec.size).toBe(3);
    const bad = await k.apply({ ...body, metadata: { name: 'w2', namespace: ns }, spec: { size: 0 } });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.size');
    await custom.deleteNamespacedCustomObject({ group: 'e2e.tsetcd.dev', version: 'v1', namespace: ns, plural: 'widgets', name: 'w1' });
    const list = (await custom.listNamespacedCustomObject({ group: 'e2e.tsetcd.dev', version: 'v1', namespace: ns, plural: 'widgets' })) as { items: unknown[] };
    expect(list.items).toHaveLength(0);
  });
});
