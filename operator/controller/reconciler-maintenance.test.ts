// The reconciler's day-two work on the fake API and the member twin: scheduled defragmentation (status,
// events, metrics, a failed call) and compaction flags reaching the StatefulSet.
import { describe, expect, it } from 'vitest';
import { MemberApiError } from '../members/member-api.js';
import { DEFAULT_IMAGE } from '../api/defaults.js';
import { OperatorMetrics } from '../metrics.js';
import { cond, setup } from './testing/reconciler-harness.js';

const MiB = 1024 * 1024;

/** Every member's backend: 400 MiB, 100 MiB of it in use. */
function fragment(t: ReturnType<typeof setup>): void {
  for (const m of t.twin.members) {
    m.dbSize = 400 * MiB;
    m.dbSizeInUse = 100 * MiB;
  }
}

describe('Reconciler: scheduled defragmentation', () => {
  it('defragments members over the threshold one at a time, the leader last, and reports status, events and metrics', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    const t = setup({ replicas: 3 }, metrics);
    await t.settle();
    fragment(t);
    t.twin.calls.length = 0;
    // The clock is a few seconds past 00:00 UTC: the hourly minute 00:00 is due.
    t.kube.editSpec('ns', 'e', (c) => (c.spec.defragmentation = { schedule: '0 * * * *', minDbSize: '1Mi' }));
    await t.settle();
    expect(t.twin.calls.filter((c) => c.startsWith('defragment'))).toEqual(['defragment:1002', 'defragment:1003', 'defragment:1001']);
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.defragmentation).toMatchObject({ lastScheduleTime: '2026-01-01T00:00:00.000Z', run: null, lastRun: { result: 'Succeeded', message: 'defragmented 3 member(s)' } });
    for (const m of c.status?.members ?? []) {
      expect(m.lastDefragReclaimedBytes, m.name).toBe(300 * MiB);
      expect(m.lastDefragTime, m.name).toMatch(/^2026-01-01T00:0/);
      expect(m.dbSize).toBe(100 * MiB);
      expect(m.dbSizeInUse).toBe(100 * MiB);
    }
    const reasons = t.kube.events.map((e) => e.reason).filter((r) => r.startsWith('Defrag') || r === 'MemberDefragmented');
    expect(reasons).toEqual(['DefragmentationNext', 'MemberDefragmented', 'DefragmentationNext', 'MemberDefragmented', 'DefragmentationNext', 'MemberDefragmented', 'DefragmentationFinished']);
    expect(t.kube.events.find((e) => e.reason === 'MemberDefragmented')?.message).toMatch(/^e-1: Defragment gave back 314572800 bytes \(dbSize 419430400 -> 104857600\)/);
    const text = await metrics.registry.metrics();
    expect(text).toContain('tsetcd_cluster_defrag_reclaimed_bytes_total{namespace="ns",cluster="e",member="e-0"} 314572800');
    expect(text).toMatch(/tsetcd_cluster_member_last_defrag_timestamp_seconds\{namespace="ns",cluster="e",member="e-2"\} 1767225\d\d\d/);
    expect(text).toContain('tsetcd_cluster_defragmentation_runs_total{namespace="ns",cluster="e",result="Succeeded"} 1');
    expect(cond(c, 'Degraded')?.status).toBe('False');
    // The same scheduled minute runs once.
    await t.pass();
    expect(t.twin.calls.filter((x) => x.startsWith('defragment'))).toHaveLength(3);
  });

  it('shows the run in flight as Progressing, and a failed call as Degraded=DefragmentFailed with its attempt counted; the next pass retries', async () => {
    const t = setup();
    await t.settle();
    fragment(t);
    t.kube.editSpec('ns', 'e', (c) => (c.spec.defragmentation = { schedule: '0 * * * *', minDbSize: '1Mi' }));
    await t.pass(); // record intent for e-1
    let c = t.kube.cluster('ns', 'e');
    expect(c.status?.defragmentation?.run?.current).toMatchObject({ memberName: 'e-1', attempts: 0 });
    expect(cond(c, 'Progressing')).toMatchObject({ status: 'True', reason: 'Defragmenting' });
    expect(t.twin.calls.filter((x) => x.startsWith('defragment'))).toEqual([]); // intent only, no call yet
    t.twin.failNext.set('defragment', new MemberApiError('DeadlineExceeded', 'http://10.0.0.2:2379/v3/maintenance/defragment: no answer within 120000ms'));
    const res = await t.pass();
    expect(res).toBeInstanceOf(Error);
    c = t.kube.cluster('ns', 'e');
    expect(c.status?.defragmentation?.run?.current).toMatchObject({ memberName: 'e-1', attempts: 1 });
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'DefragmentFailed' });
    expect(t.kube.events.some((e) => e.type === 'Warning' && e.reason === 'DefragmentFailed' && /no answer within/.test(e.message))).toBe(true);
    await t.settle();
    c = t.kube.cluster('ns', 'e');
    expect(c.status?.defragmentation?.lastRun?.result).toBe('Succeeded');
    expect(cond(c, 'Degraded')?.status).toBe('False');
  });

  it('an operator crash after Defragment returned, before the status write: the same member again, then on', async () => {
    const t = setup();
    await t.settle();
    fragment(t);
    t.kube.editSpec('ns', 'e', (c) => (c.spec.defragmentation = { schedule: '0 * * * *', minDbSize: '1Mi' }));
    await t.pass(); // intent: e-1
    const write = t.kube.updateStatus.bind(t.kube);
    t.kube.updateStatus = async () => {
      t.kube.updateStatus = write; // once
      throw new Error('operator killed before its status write');
    };
    expect(await t.pass()).toBeInstanceOf(Error);
    expect(t.kube.cluster('ns', 'e').status?.defragmentation?.run?.current).toMatchObject({ memberName: 'e-1', attempts: 0 });
    await t.settle();
    expect(t.twin.calls.filter((x) => x.startsWith('defragment'))).toEqual(['defragment:1002', 'defragment:1002', 'defragment:1003', 'defragment:1001']);
    expect(t.kube.cluster('ns', 'e').status?.defragmentation?.lastRun?.result).toBe('Succeeded');
  });

  it('tsetcd-like sizes (dbSizeInUse == dbSize): nothing to do, said once per scheduled minute', async () => {
    const t = setup({ replicas: 3, defragmentation: { schedule: '@hourly', minFreePercent: 10, minDbSize: '0' } });
    await t.settle();
    expect(t.twin.calls.filter((x) => x.startsWith('defragment'))).toEqual([]);
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.defragmentation?.lastRun).toMatchObject({ result: 'NothingToDo' });
    expect(t.kube.events.filter((e) => e.reason === 'DefragmentationFinished')).toHaveLength(1);
  });

  it('an unreadable schedule is bad input: Degraded=InvalidSchedule, nothing changes', async () => {
    const t = setup();
    await t.settle();
    t.kube.editSpec('ns', 'e', (c) => (c.spec.defragmentation = { schedule: '0 25 * * *' }));
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidSchedule' });
    expect(cond(c, 'Degraded')?.message).toMatch(/hour: "25"/);
  });
});

describe('Reconciler: compaction', () => {
  it('passes spec.compaction to the members (and rolls them when it changes)', async () => {
    const t = setup();
    await t.settle();
    const args = (): string[] => ((t.kube.object('StatefulSet', 'ns', 'e')?.spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0]?.args ?? []);
    expect(args()).toEqual(expect.arrayContaining(['--auto-compaction-mode=periodic', '--auto-compaction-retention=1h']));
    t.kube.editSpec('ns', 'e', (c) => (c.spec.compaction = { mode: 'revision', retention: '10000' }));
    await t.pass();
    expect(args()).toEqual(expect.arrayContaining(['--auto-compaction-mode=revision', '--auto-compaction-retention=10000']));
  });
});

describe('Reconciler: version changes', () => {
  const image = (t: ReturnType<typeof setup>): string | undefined =>
    (t.kube.object('StatefulSet', 'ns', 'e')?.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]?.image;

  it('refuses a skipped minor version with Degraded=UnsupportedVersionChange and an Event, and keeps the image the members run', async () => {
    const t = setup();
    await t.settle();
    expect(image(t)).toBe(DEFAULT_IMAGE);
    expect(t.kube.cluster('ns', 'e').status?.clusterVersion).toBe('3.5.0');
    t.kube.editSpec('ns', 'e', (c) => {
      c.spec.version = '3.7.0';
      c.spec.image = 'registry.example/tsetcd:0.3.0';
    });
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(image(t)).toBe(DEFAULT_IMAGE);
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'UnsupportedVersionChange' });
    expect(cond(c, 'Degraded')?.message).toMatch(/cluster version is 3\.5/);
    expect(t.kube.events.filter((e) => e.type === 'Warning' && e.reason === 'UnsupportedVersionChange')).toHaveLength(1);
    await t.pass();
    expect(t.kube.events.filter((e) => e.reason === 'UnsupportedVersionChange')).toHaveLength(1); // once, not every pass
  });

  it('one minor up is applied (the StatefulSet gets the new image; the pods then roll one at a time)', async () => {
    const t = setup();
    await t.settle();
    t.kube.editSpec('ns', 'e', (c) => {
      c.spec.version = '3.6.0';
      c.spec.image = 'registry.example/tsetcd:0.2.0';
    });
    await t.pass();
    expect(image(t)).toBe('registry.example/tsetcd:0.2.0');
    expect(cond(t.kube.cluster('ns', 'e'), 'Degraded')?.status).toBe('False');
  });

  it('a version no release speaks (without spec.image) is bad input: nothing is applied', async () => {
    const t = setup();
    await t.settle();
    const applies = t.kube.applies;
    t.kube.editSpec('ns', 'e', (c) => (c.spec.version = '3.6.0'));
    await t.pass();
    expect(cond(t.kube.cluster('ns', 'e'), 'Degraded')).toMatchObject({ status: 'True', reason: 'UnknownVersion' });
    expect(t.kube.applies).toBe(applies);
  });
});
