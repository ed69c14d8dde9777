// The differential test: one scripted session (session.ts: etcdctl 3.6, raw gRPC, the /v3 JSON
// gateway, /health, /livez, /readyz, /version) against a fresh 3-member etcd 3.6 and a fresh
// 3-member tsetcd, step by step, plus the set of metric family names. Only IDs, Raft terms and
// indexes, sizes and durations are normalized (normalize.ts). Every difference is printed; the test
// fails on any that allowed.ts does not explain. `make compat` runs it alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD36_VERSION as VERSION, etcd36Bin, haveEtcd36, requireTools } from '../integration/harness.js';
import { ALLOWED_EXTRA_METRICS, ALLOWED_MISSING_METRICS, DELIBERATE, KNOWN_GAPS } from './allowed.js';
import { describeDifference, normalize, type Difference } from './normalize.js';
import { SESSION } from './session.js';
import { Target } from './target.js';

const ETCD = etcd36Bin('etcd');
const ETCDCTL = etcd36Bin('etcdctl');

const d = requireTools().ok && haveEtcd36(['etcd', 'etcdctl'], 'the differential test') ? describe.sequential : describe.skip;

async function metricFamilies(t: Target): Promise<Set<string>> {
  const o = await t.http('GET', '/metrics', undefined, 'metrics');
  return new Set([...o.body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

d(`differential test against etcd ${VERSION}`, () => {
  let etcd: Target;
  let tsetcd: Target;
  beforeAll(async () => {
    etcd = await Target.start('etcd', ETCD, ETCDCTL);
    tsetcd = await Target.start('tsetcd', undefined, ETCDCTL);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([etcd?.stop(), tsetcd?.stop()]);
  }, 30_000);

  it(`the session answers alike (${SESSION.length} steps)`, async () => {
    const differences: Difference[] = [];
    for (const step of SESSION) {
      const a = await step.run(etcd);
      const b = await step.run(tsetcd);
      if (step.grantsLease) {
        etcd.noteLease(a.body);
        tsetcd.noteLease(b.body);
      }
      const na = normalize(a, etcd);
      const nb = normalize(b, tsetcd);
      if (na !== nb) differences.push({ step: step.name, etcd: na, tsetcd: nb });
    }
    const why = (step: string): string | undefined => DELIBERATE.get(step) ?? KNOWN_GAPS.get(step);
    const unexplained = differences.filter((x) => why(x.step) === undefined);
    const stale = [...DELIBERATE.keys(), ...KNOWN_GAPS.keys()].filter((s) => !differences.some((x) => x.step === s));
    const deliberate = differences.filter((x) => DELIBERATE.has(x.step)).length;
    const gaps = differences.filter((x) => KNOWN_GAPS.has(x.step)).length;
    console.log(`differential test: ${SESSION.length} steps, ${differences.length} differ: ${deliberate} deliberate, ${gaps} known gaps, ${unexplained.length} unexplained`);
    for (const x of differences) if (why(x.step)) console.log(`  ${x.step}: ${why(x.step)}`);
    for (const x of unexplained) console.log(describeDifference(x));
    if (stale.length) console.log(`no longer differ (delete from allowed.ts): ${stale.join('; ')}`);
    expect({ unexplained: unexplained.map((x) => x.step), staleAllowances: stale }).toEqual({ unexplained: [], staleAllowances: [] });
  }, 600_000);

  it('serves the metric families etcd serves', async () => {
    const [a, b] = await Promise.all([metricFamilies(etcd), metricFamilies(tsetcd)]);
    const missing = [...a].filter((n) => !b.has(n)).sort();
    const extra = [...b].filter((n) => !a.has(n)).sort();
    const unexplainedMissing = missing.filter((n) => !ALLOWED_MISSING_METRICS.some(([re]) => re.test(n)));
    const unexplainedExtra = extra.filter((n) => !ALLOWED_EXTRA_METRICS.some(([re]) => re.test(n)));
    const staleMissing = ALLOWED_MISSING_METRICS.filter(([re]) => !missing.some((n) => re.test(n))).map(([re]) => String(re));
    const staleExtra = ALLOWED_EXTRA_METRICS.filter(([re]) => !extra.some((n) => re.test(n))).map(([re]) => String(re));
    console.log(`metric families: etcd ${a.size}, tsetcd ${b.size}; missing ${missing.length} (${unexplainedMissing.length} unexplained), extra ${extra.length} (${unexplainedExtra.length} unexplained)`);
    const explained = missing.filter((n) => !unexplainedMissing.includes(n));
    if (explained.length) console.log(`missing, explained in allowed.ts:\n  ${explained.join('\n  ')}`);
    if (unexplainedMissing.length) console.log(`missing from tsetcd:\n  ${unexplainedMissing.join('\n  ')}`);
    if (unexplainedExtra.length) console.log(`only in tsetcd:\n  ${unexplainedExtra.join('\n  ')}`);
    expect({ unexplainedMissing, unexplainedExtra, staleMissing, staleExtra }).toEqual({ unexplainedMissing: [], unexplainedExtra: [], staleMissing: [], staleExtra: [] });
  });
});
