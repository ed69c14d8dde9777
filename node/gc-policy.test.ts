import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GC_POLICY_FLAGS } from './gc-policy.js';

// Object literals from one site that all outlive many scavenges (every object is kept, and a 1 MiB
// young generation makes scavenges frequent): V8 decides to pretenure such a site unless the flags
// the member sets on itself (gc-policy.ts) turn that off. Every object survives, so the decision
// does not depend on when a scavenge happens to run (an earlier version dropped its objects every
// 200,000 and, depending on scavenge timing, sometimes saw no decision at all).
function tenureDecisions(flags: readonly string[]): number {
  const script =
    `for (const f of ${JSON.stringify(flags)}) require('node:v8').setFlagsFromString(f);\n` +
    'function run() { const keep = []; for (let i = 0; i < 1e6; i++) keep.push({ a: i, b: [i] }); return keep.length; }\n' +
    'run();';
  const args = ['--max-semi-space-size=1', '--trace-pretenuring-statistics', '-e', script];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  expect(r.status, r.stderr).toBe(0);
  // "(maybe tenure|undecided) => tenure": V8 decided to allocate the site's objects in old space.
  return r.stdout.split('\n').filter((l) => /=> tenure$/.test(l)).length;
}

describe("the member's GC policy", () => {
  it('turns off allocation-site pretenuring: a site whose objects survive stays in the young generation', () => {
    expect(tenureDecisions([])).toBeGreaterThan(0);
    expect(tenureDecisions(GC_POLICY_FLAGS)).toBe(0);
  });
});
