import { describe, expect, it } from 'vitest';
import { renderHosts, sliceService } from './hosts-file.js';

describe('renderHosts', () => {
  it('maps StatefulSet members and Services, sorted and stable', () => {
    const text = renderHosts(
      [
        { namespace: 'ns', hostname: 'e-1', subdomain: 'e', ip: '198.18.1.2' },
        { namespace: 'ns', hostname: 'e-0', subdomain: 'e', ip: '198.18.1.1' },
        { namespace: 'ns', hostname: 'lonely', ip: '198.18.1.9' },
      ],
      [{ namespace: 'ns', service: 'e-client', ips: ['198.18.1.2', '198.18.1.1', '198.18.1.2'] }],
    );
    expect(text.split('\n')).toEqual([
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      '198.18.1.1\te-0.e.ns.svc.cluster.local e-0.e.ns.svc e-0.e.ns',
      '198.18.1.2\te-1.e.ns.svc.cluster.local e-1.e.ns.svc e-1.e.ns',
      '198.18.1.1\te-client.ns.svc.cluster.local e-client.ns.svc',
      '198.18.1.2\te-client.ns.svc.cluster.local e-client.ns.svc',
      '',
    ]);
  });
  it('finds the Service of an EndpointSlice', () => {
    expect(sliceService({ 'kubernetes.io/service-name': 'x' })).toBe('x');
    expect(sliceService(undefined)).toBeUndefined();
  });
});
