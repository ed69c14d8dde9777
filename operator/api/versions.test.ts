import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE, resolveSpec } from './defaults.js';
import { validateSpec } from './validate.js';
import { RELEASES, clusterVersionOf, imageForVersion, versionChangeProblem } from './versions.js';
import type { EtcdClusterSpec } from './types.js';

const check = (spec: EtcdClusterSpec) => validateSpec(spec, resolveSpec(spec), null);

describe('spec.version and the member image', () => {
  it('the default version selects the release image, which is the default image', () => {
    expect(RELEASES['3.5.17']).toBeDefined();
    expect(imageForVersion('3.5.17')).toBe(DEFAULT_IMAGE);
    expect(resolveSpec({}).image).toBe(DEFAULT_IMAGE);
    expect(resolveSpec({ version: '3.5.17' }).image).toBe(DEFAULT_IMAGE);
    expect(check({})).toEqual([]);
  });

  it('spec.image wins; spec.version then declares what it speaks', () => {
    expect(resolveSpec({ version: '3.6.0', image: 'registry.example/tsetcd:0.2.0' }).image).toBe('registry.example/tsetcd:0.2.0');
    expect(check({ version: '3.6.0', image: 'registry.example/tsetcd:0.2.0' })).toEqual([]);
  });

  it('a version no release speaks, without spec.image, is refused and says which exist', () => {
    const p = check({ version: '3.6.0' });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ field: 'spec.version', reason: 'UnknownVersion' });
    expect(p[0]?.message).toMatch(/known: 3\.5\.17.*set spec\.image/);
    expect(check({ version: 'latest' })[0]?.reason).toBe('InvalidVersion');
  });
});

describe('clusterVersionOf', () => {
  it('is the lowest minor the members run, as etcd computes it; null when none is known', () => {
    expect(clusterVersionOf(['3.5.17', '3.6.1', '3.6.0'])).toBe('3.5.0');
    expect(clusterVersionOf(['3.6.1', '3.6.0'])).toBe('3.6.0');
    expect(clusterVersionOf([])).toBeNull();
    expect(clusterVersionOf(['?'])).toBeNull();
  });
});

describe('versionChangeProblem (etcd: one minor at a time, never below the cluster version)', () => {
  const table: Array<[string[], string, RegExp | null]> = [
    [['3.5.17', '3.5.17', '3.5.17'], '3.5.17', null],
    [['3.5.17', '3.5.17', '3.5.17'], '3.5.20', null], // patch up
    [['3.5.17', '3.5.17', '3.5.17'], '3.5.0', null], // patch down within the minor
    [['3.5.17', '3.5.17', '3.5.17'], '3.6.0', null], // one minor up
    [['3.5.17', '3.5.17', '3.5.17'], '3.7.0', /skips a minor version.*set 3\.6\.x first/],
    [['3.5.17', '3.5.17', '3.5.17'], '3.4.31', /below the cluster version 3\.5.*downgrade API/],
    [['3.5.17', '3.5.17', '3.5.17'], '4.0.0', /major version/],
    // Mid-upgrade the cluster version is still the lowest: going back is allowed, going on twice is not.
    [['3.5.17', '3.6.0', '3.6.0'], '3.5.17', null],
    [['3.5.17', '3.6.0', '3.6.0'], '3.7.0', /cluster version is 3\.5/],
    // Once every member runs 3.6, the data is 3.6's.
    [['3.6.0', '3.6.0', '3.6.0'], '3.5.17', /below the cluster version 3\.6/],
    // Nothing known: nothing to check (a cluster that is down must stay fixable).
    [[], '3.9.0', null],
    [['garbage'], '3.9.0', null],
  ];
  for (const [running, desired, want] of table) {
    it(`${running.join(',') || '(none)'} -> ${desired}: ${want === null ? 'allowed' : 'refused'}`, () => {
      const got = versionChangeProblem(running, desired);
      if (want === null) expect(got).toBeNull();
      else expect(got).toMatch(want);
    });
  }
});
