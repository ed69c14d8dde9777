import { describe, expect, it } from 'vitest';
import type { Pod } from './kube-types.js';
import { expand, parseQuantityBytes, resolveProcess, UnresolvableError } from './pod-process.js';

const pod: Pod = {
  metadata: { name: 'e-0', namespace: 'ns', uid: 'u1', labels: { app: 'e' } },
  spec: {
    nodeName: 'node-1', hostname: 'e-0', subdomain: 'e',
    containers: [{
      name: 'etcd', image: 'ghcr.io/tsetcd/tsetcd:0.1.0',
      command: ['tsetcd'],
      args: ['--name=$(POD_NAME)', '--listen-client-urls=http://$(POD_IP):2379', '--literal=$$(POD_NAME)', '--unknown=$(NOPE)'],
      env: [
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'PEERS', valueFrom: { configMapKeyRef: { name: 'boot', key: 'initial-cluster' } } },
        { name: 'URL', value: 'http://$(POD_NAME).e:2379' },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } },
      ],
      envFrom: [{ prefix: 'X_', configMapRef: { name: 'boot' } }],
      resources: { limits: { memory: '1Gi', cpu: '500m' } },
      volumeMounts: [{ name: 'data', mountPath: '/var/lib/etcd' }],
    }],
  },
};

const lookup = (kind: 'configmap' | 'secret', name: string) => (kind === 'configmap' && name === 'boot' ? { 'initial-cluster': 'e-0=http://a' } : undefined);

describe('resolveProcess', () => {
  it('maps the image binary, expands $(VAR), resolves env sources and binds volumes', () => {
    const p = resolveProcess({
      pod, container: pod.spec.containers[0]!, podIP: '198.18.1.5', hostIP: '198.18.0.1',
      imageMap: [{ name: 'tsetcd', path: '/repo/bin/tsetcd' }], volumePaths: { data: '/pv/1' }, lookup,
    });
    expect(p.file).toBe('/repo/bin/tsetcd');
    expect(p.args).toEqual(['--name=e-0', '--listen-client-urls=http://198.18.1.5:2379', '--literal=$(POD_NAME)', '--unknown=$(NOPE)']);
    expect(p.env).toMatchObject({ POD_NAME: 'e-0', POD_IP: '198.18.1.5', APP: 'e', PEERS: 'e-0=http://a', URL: 'http://e-0.e:2379', MEM: String(2 ** 30), 'X_initial-cluster': 'e-0=http://a', HOSTNAME: 'e-0' });
    expect(p.binds).toEqual([{ source: '/pv/1', target: '/var/lib/etcd' }]);
  });
  it('uses the mapped binary as entrypoint when the container has no command', () => {
    const c = { ...pod.spec.containers[0]!, command: undefined, args: ['--x'] };
    const p = resolveProcess({ pod, container: c, podIP: '1.2.3.4', hostIP: 'h', imageMap: [{ name: 'tsetcd', path: '/b/tsetcd' }], volumePaths: { data: '/d' }, lookup });
    expect([p.file, ...p.args]).toEqual(['/b/tsetcd', '--x']);
  });
  it('fails with a typed error on a missing ConfigMap key, volume or mapping', () => {
    const base = { pod, podIP: '1.2.3.4', hostIP: 'h', imageMap: [], lookup: () => undefined };
    expect(() => resolveProcess({ ...base, container: pod.spec.containers[0]!, volumePaths: { data: '/d' } })).toThrow(UnresolvableError);
    const noEnv = { ...pod.spec.containers[0]!, env: [], envFrom: [] };
    expect(() => resolveProcess({ ...base, container: noEnv, volumePaths: {} })).toThrow(/volume data/);
    expect(() => resolveProcess({ ...base, container: { ...noEnv, command: undefined, volumeMounts: [] }, volumePaths: {} })).toThrow(/no local mapping/);
  });
});

describe('expand and quantities', () => {
  it('leaves unknown variables and unescapes $$', () => {
    expect(expand('a $(A) $(B) $$(A) $$', { A: '1' })).toBe('a 1 $(B) $(A) $');
  });
  it('parses binary and decimal quantities', () => {
    expect(parseQuantityBytes('8Gi')).toBe(8 * 2 ** 30);
    expect(parseQuantityBytes('1.5M')).toBe(1_500_000);
    expect(parseQuantityBytes('42')).toBe(42);
    expect(() => parseQuantityBytes('1e3')).toThrow();
  });
});
