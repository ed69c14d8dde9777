import { describe, expect, it } from 'vitest';
import { BootstrapError, refuseIfBootstrapped } from './bootstrap.js';

describe('joining with an empty data dir (initial-cluster-state=existing)', () => {
  const self = { id: 0x8e9e05c52164694dn, name: 'kv-1', peerUrls: ['http://kv-1:2380'], clientUrls: ['http://kv-1:2379'], isLearner: false };

  it('refuses to serve as a voter that already started (its log and votes were lost with its data)', () => {
    expect(() => refuseIfBootstrapped(self)).toThrow(BootstrapError);
    expect(() => refuseIfBootstrapped(self)).toThrow(/member [0-9a-f]+ has already been bootstrapped/);
  });

  it('joins as a member that was added and never started (no name yet), or as a learner', () => {
    expect(() => refuseIfBootstrapped({ ...self, name: '', clientUrls: [] })).not.toThrow();
    expect(() => refuseIfBootstrapped({ ...self, isLearner: true })).not.toThrow();
  });
});
