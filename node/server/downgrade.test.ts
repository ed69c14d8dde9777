// Downgrade's rules against etcd 3.6's (v3_server.go, version/version.go): the version format,
// the one allowed target (the previous minor of the cluster version, 3.4 for tsetcd's 3.5), the
// state while enabled, and cancel. The member runtime test proves the state goes through raft.
import { describe, expect, it } from 'vitest';
import { DowngradeAction, downgradeTarget, parseSemver, serveDowngrade } from './downgrade.js';
import { MemoryBackend } from './testing/memory-backend.js';

const message = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e as Error).message);

describe('Downgrade', () => {
  it("parses versions as go-semver does, with etcd's major.minor fallback", () => {
    expect(parseSemver('3.4.0')).toEqual({ major: 3n, minor: 4n });
    expect(parseSemver('3.4.0-rc.1+build.5')).toEqual({ major: 3n, minor: 4n });
    expect(parseSemver('3.4.0-')).toEqual({ major: 3n, minor: 4n }); // an empty pre-release passes in go-semver
    expect(parseSemver('+3.4.0')).toBeUndefined(); // all of it is build metadata: no version left
    expect(parseSemver('3.4')).toBeUndefined();
    expect(parseSemver('3.4.0.1')).toBeUndefined();
    expect(parseSemver('v3.4.0')).toBeUndefined();
    expect(parseSemver('3.4.0-r_c')).toBeUndefined();
    expect(downgradeTarget('3.4')).toEqual({ major: 3n, minor: 4n });
    expect(downgradeTarget('3.4.99')).toEqual({ major: 3n, minor: 4n });
    for (const bad of ['', 'abc', '3', '3.x', 'v3.4', '3.4.0.1', '99999999999999999999.1']) {
      expect(() => downgradeTarget(bad), bad).toThrow('etcdserver: wrong downgrade target version format');
    }
  });

  it('validates, enables, refuses while enabled, and cancels, as etcd 3.6 does', async () => {
    const b = new MemoryBackend({ leaseCheckMs: 0 });
    const run = (action: number, version = ''): Promise<string> => serveDowngrade(b, { action, version });
    expect(await run(DowngradeAction.VALIDATE, '3.4')).toBe('3.5');
    expect(await message(run(DowngradeAction.VALIDATE, '3.5'))).toBe('etcdserver: invalid downgrade target version');
    expect(await message(run(DowngradeAction.VALIDATE, '3.3.0'))).toBe('etcdserver: invalid downgrade target version');
    expect(await message(run(DowngradeAction.ENABLE, '3.6'))).toBe('etcdserver: invalid downgrade target version');
    expect(await message(run(DowngradeAction.ENABLE, 'three'))).toBe('etcdserver: wrong downgrade target version format');
    expect(b.downgradeInfo()).toEqual({ enabled: false, targetVersion: '' });
    // Cancel with nothing in progress: etcd logs the failure and answers success.
    expect(await run(DowngradeAction.CANCEL)).toBe('3.5');
    expect(await run(DowngradeAction.ENABLE, '3.4.7')).toBe('3.5');
    expect(b.downgradeInfo()).toEqual({ enabled: true, targetVersion: '3.4.0' });
    expect(await message(run(DowngradeAction.VALIDATE, '3.4'))).toBe('etcdserver: cluster has a downgrade job in progress');
    expect(await message(run(DowngradeAction.ENABLE, '3.4'))).toBe('etcdserver: cluster has a downgrade job in progress');
    // The target is checked before the state (etcd's order).
    expect(await message(run(DowngradeAction.ENABLE, '3.2'))).toBe('etcdserver: invalid downgrade target version');
    expect(await run(DowngradeAction.CANCEL)).toBe('3.5');
    expect(b.downgradeInfo()).toEqual({ enabled: false, targetVersion: '' });
    expect(await message(run(7, '3.4'))).toBe('etcdserver: unknown method');
  });
});
