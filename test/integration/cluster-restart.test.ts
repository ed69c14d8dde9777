// Restarts and flags with real processes:
// - a bad or unknown flag fails at start with exit code 2 and a message naming the flag;
// - --version answers;
// - a restarted member keeps its identity and data: the data dir wins over the
//   --initial-cluster* flags (here: a restart with a bogus one-member --initial-cluster would
//   make a brand-new cluster if the flags won);
// - the whole cluster stopped (SIGTERM) and started again keeps every key.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, TSETCD_BIN, ctlOk, requireTools, waitFor } from './harness.js';

const tools = requireTools();

describe.skipIf(!tools.ok)('bin/tsetcd flags', () => {
  it('exits 2 with a clear message on an unknown or malformed flag', () => {
    const unknown = spawnSync(TSETCD_BIN, ['--no-such-flag=1'], { encoding: 'utf8', timeout: 30_000 });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown flag: --no-such-flag');
    const bad = spawnSync(TSETCD_BIN, ['--heartbeat-interval', 'soon'], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--heartbeat-interval');
    const env = spawnSync(TSETCD_BIN, [], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ETCD_ELECTION_TIMEOUT: '50' } });
    expect(env.status).toBe(2);
    expect(env.stderr).toContain('--election-timeout[50ms] should be at least as 5 times as --heartbeat-interval[100ms]');
  });

  it('answers --version with an etcd 3.5 version', () => {
    const v = spawnSync(TSETCD_BIN, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/etcd Version: 3\.5\.\d+/);
  });
});

describe.skipIf(!tools.ok)('cluster restarts (real processes)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3, label: 'restart', heartbeatMs: 50, electionMs: 500 });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a leader stopped with SIGTERM hands leadership over first, so writes go on without an election timeout', async () => {
    const leader = await cluster.waitLeader(30_000);
    await cluster.kill(leader, 'SIGTERM');
    const log = readFileSync(leader.logFile, 'utf8');
    expect(log).toContain('leadership handed over before stopping');
    // The survivors already follow the new leader: a write needs no retry and no wait.
    await ctlOk(cluster.endpoints(cluster.running()), ['put', 'after-hand-over', 'ok']);
    cluster.launch(leader, cluster.members.map((m) => `${m.name}=${m.peerUrl}`).join(','), 'existing');
    await cluster.waitHealthy([leader], 30_000);
  });

  it('a restarted member keeps its identity and data: the data dir wins over --initial-cluster', async () => {
    const ep = cluster.endpoints();
    await ctlOk(ep, ['put', 'before', '1']);
    const membersBefore = JSON.parse(await ctlOk(ep, ['member', 'list', '-w', 'json'])) as { members: Array<{ ID: number; name: string }> };
    const m = cluster.members[2]!;
    await cluster.kill(m, 'SIGTERM');
    await ctlOk(cluster.endpoints(), ['put', 'while-down', '2']);
    // Restart with flags that would bootstrap a different, one-member cluster.
    cluster.launch(m, `${m.name}=${m.peerUrl}`, 'new');
    await cluster.waitHealthy([m], 30_000);
    const got = await waitFor(
      'the restarted member to serve the key written while it was down',
      async () => {
        const out = await ctlOk(cluster.endpoints([m]), ['get', 'while-down', '--consistency=s', '--print-value-only']);
        return out.trim() === '2' ? out : undefined;
      },
      30_000,
    );
    expect(got.trim()).toBe('2');
    const membersAfter = JSON.parse(await ctlOk(cluster.endpoints([m]), ['member', 'list', '-w', 'json'])) as { members: Array<{ ID: number; name: string }> };
    expect(membersAfter.members.map((x) => x.ID).sort()).toEqual(membersBefore.members.map((x) => x.ID).sort());
    const st = await cluster.statuses([m]);
    expect(st[0]!.Status.leader).not.toBe('0');
  }, 120_000);

  it('the whole cluster stopped and started again keeps every key', async () => {
    const ep = cluster.endpoints();
    for (let i = 0; i < 20; i++) await ctlOk(ep, ['put', `persist-${i}`, `v${i}`]);
    await Promise.all(cluster.members.map((m) => cluster.kill(m, 'SIGTERM')));
    const initial = cluster.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    for (const m of cluster.members) cluster.launch(m, initial, 'new');
    await cluster.waitHealthy(cluster.members, 30_000);
    await cluster.waitLeader(30_000);
    const out = await ctlOk(cluster.endpoints(), ['get', 'persist-', '--prefix', '--keys-only']);
    expect(out.split('\n').filter((l) => l.startsWith('persist-')).length).toBe(20);
    expect((await ctlOk(cluster.endpoints(), ['get', 'before', '--print-value-only'])).trim()).toBe('1');
  }, 120_000);
});
