import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { OperatorMetrics, serveMetrics } from './metrics.js';

const PROMTOOL = '/usr/bin/promtool';

function sample(m: OperatorMetrics): void {
  m.reconcileTotal.inc({ result: 'success' });
  m.reconcileDuration.observe(0.02);
  m.workqueueDepth.set(3);
  const snap = {
    voters: 3,
    learners: 1,
    unhealthy: 0,
    hasLeader: true,
    leaderID: '11',
    quorumMargin: 1,
    raftIndexLag: [{ member: 'e-3', lag: 40 }],
    heartbeatFailures: [{ member: 'e-0', total: 2 }],
    operation: { type: 'ScaleUp', ageSeconds: 12 },
  };
  m.observeCluster('ns', 'e', snap);
  m.observeCluster('ns', 'e', { ...snap, leaderID: '12', heartbeatFailures: [{ member: 'e-0', total: 5 }] });
  m.membershipOperation('ns', 'e', 'ScaleUp', 'Succeeded', 42);
}

describe('operator metrics', () => {
  it('exposes every series the issue names, with the right values', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    sample(m);
    const text = await m.registry.metrics();
    for (const name of [
      'tsetcd_operator_reconcile_total{result="success"} 1',
      'tsetcd_operator_reconcile_duration_seconds_count 1',
      'tsetcd_operator_workqueue_depth 3',
      'tsetcd_cluster_members{namespace="ns",cluster="e",state="voter"} 3',
      'tsetcd_cluster_members{namespace="ns",cluster="e",state="learner"} 1',
      'tsetcd_cluster_has_leader{namespace="ns",cluster="e"} 1',
      'tsetcd_cluster_leader_changes_total{namespace="ns",cluster="e"} 1',
      'tsetcd_cluster_quorum_margin{namespace="ns",cluster="e"} 1',
      'tsetcd_cluster_member_raft_index_lag{namespace="ns",cluster="e",member="e-3"} 40',
      'tsetcd_cluster_heartbeat_failures_total{namespace="ns",cluster="e"} 3',
      'tsetcd_cluster_membership_operations_total{namespace="ns",cluster="e",op="ScaleUp",result="Succeeded"} 1',
      'tsetcd_cluster_membership_operation_duration_seconds_count{op="ScaleUp",result="Succeeded"} 1',
      'tsetcd_cluster_membership_operation_age_seconds{namespace="ns",cluster="e",op="ScaleUp"} 12',
    ]) {
      expect(text).toContain(name);
    }
    m.forgetCluster('ns', 'e');
    expect(await m.registry.metrics()).not.toContain('tsetcd_cluster_has_leader{');
  });

  it.skipIf(!existsSync(PROMTOOL))('passes promtool check metrics', async () => {
    const own = new OperatorMetrics({ defaultMetrics: false });
    sample(own);
    const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: await own.registry.metrics(), encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
    // With prom-client's default process metrics, promtool's only complaints are about three of
    // prom-client's own gauges (nodejs_active_*_total), which we do not name.
    const all = new OperatorMetrics({ defaultMetrics: true });
    sample(all);
    const r2 = spawnSync(PROMTOOL, ['check', 'metrics'], { input: await all.registry.metrics(), encoding: 'utf8' });
    const complaints = (r2.stderr + r2.stdout).split('\n').filter((l) => l.trim() !== '');
    expect(complaints.filter((l) => !/^nodejs_active_(handles|requests|resources)_total non-counter/.test(l))).toEqual([]);
  });

  it('serves /metrics, /healthz and /readyz', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    let ready = false;
    const server = await serveMetrics(m, { host: '127.0.0.1', port: 0, ready: () => ready });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const res = await fetch(`${base}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/text\/plain/);
      expect(await res.text()).toContain('tsetcd_operator_workqueue_depth');
    } finally {
      server.close();
    }
  });
});
