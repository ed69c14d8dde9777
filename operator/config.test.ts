import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';

describe('parseConfig', () => {
  it('has sensible defaults', () => {
    const c = parseConfig([], {}, 'h');
    expect(c).toMatchObject({ kubeconfig: null, namespaces: [], metricsHost: '0.0.0.0', metricsPort: 8080, leaderElect: true, leaderElectionNamespace: 'default', memberCommand: ['tsetcd'], memberEndpointMode: 'pod-ip', workers: 2 });
    expect(Object.isFrozen(c)).toBe(true);
  });
  it('reads flags, then env, flags winning', () => {
    const c = parseConfig(['--namespaces=a,b', '--metrics-addr=127.0.0.1:0', '--leader-elect=false', '--member-command=/repo/bin/tsetcd --x'], { KUBECONFIG: '/k', TSETCD_OPERATOR_NAMESPACES: 'z', POD_NAME: 'op-1' });
    expect(c).toMatchObject({ kubeconfig: '/k', namespaces: ['a', 'b'], metricsHost: '127.0.0.1', metricsPort: 0, leaderElect: false, identity: 'op-1', memberCommand: ['/repo/bin/tsetcd', '--x'] });
  });
  it('rejects unknown and malformed flags with a clear message', () => {
    expect(() => parseConfig(['--nope=1'], {})).toThrow(/unknown flag --nope/);
    expect(() => parseConfig(['--workers=two'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--metrics-addr=8080'], {})).toThrow(/host:port/);
    expect(() => parseConfig(['--renew-deadline-ms=20000'], {})).toThrow(/below --lease-duration-ms/);
  });
});
