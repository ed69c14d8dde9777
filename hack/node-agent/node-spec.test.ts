import { describe, expect, it } from 'vitest';
import { parseNodeSpec } from './node-spec.js';

describe('parseNodeSpec', () => {
  it('reads a bare name with the standard labels', () => {
    expect(parseNodeSpec('node-6')).toEqual({ name: 'node-6', labels: { 'kubernetes.io/hostname': 'node-6', 'kubernetes.io/os': 'linux' }, taints: [] });
  });
  it('reads labels and taints', () => {
    const n = parseNodeSpec('node-1:dedicated=etcd,zone=a:taint=dedicated=etcd:NoSchedule,taint=gpu:NoExecute');
    expect(n.labels).toMatchObject({ dedicated: 'etcd', zone: 'a' });
    expect(n.taints).toEqual([
      { key: 'dedicated', value: 'etcd', effect: 'NoSchedule' },
      { key: 'gpu', value: '', effect: 'NoExecute' },
    ]);
  });
  it('reads taints without labels', () => {
    expect(parseNodeSpec('n:taint=dedicated=etcd:NoSchedule').taints).toHaveLength(1);
  });
  it('rejects bad names, labels and effects', () => {
    expect(() => parseNodeSpec('Node_1')).toThrow(/invalid node name/);
    expect(() => parseNodeSpec('n:novalue')).toThrow(/not key=value/);
    expect(() => parseNodeSpec('n:taint=a=b:Sometimes')).toThrow(/Effect/);
  });
});
