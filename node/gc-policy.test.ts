import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GC_POLICY_FLAGS } from './gc-policy.js';

// Object literals from one site that mostly outlive a scavenge: V8 pretenures such a site unless
// the flags the member sets on itself (gc-policy.ts) turn that off.
function tenuredSites(flags: readonly string[]): number {
  const script =
    `for (const f of ${JSON.stringify(flags)}) require('node:v8').setFlagsFromString(f);\n` +
    'function run() { const keep = []; for (let i = 0; i < 3e6; i++) { const o = { a: i, b: [i] }; keep.push(o); if (keep.length > 200000) keep.length = 0; } }\n' +
    'run();';
  const r = spawnSync(process.execPath, ['--trace-pretenuring-statistics', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter((l) => l.includes('tenure => tenure')).length;
}

describe("the member's GC policy", () => {
  it('turns off allocation-site pretenuring: a site whose objects survive stays in the young generation', () => {
    expect(tenuredSites([])).toBeGreaterThan(0);
    expect(tenuredSites(GC_POLICY_FLAGS)).toBe(0);
  });
});
