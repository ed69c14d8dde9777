// A step of the wall clock on real processes: every member of a 3-member cluster runs under
// libfaketime (Debian's faketime), whose offset file moves the wall clock (Date.now) by an hour,
// forward and then back, while the monotonic clock runs on, as an NTP step or a VM resume does.
// A lease granted for 60 s must neither expire nor be extended by the step: etcd's lessor measures
// with Go's monotonic clock, and so must tsetcd's. (Before, tsetcd's lessor read the wall clock,
// and a forward step expired every lease at once.) Clock *rate* skew needs a simulated clock for
// the monotonic side too: that is the simulator's.

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NemesisCluster, realProcessPrerequisites, REPO, tearDownTestCluster } from './cluster.js';
import { KvClient } from './kv-client.js';
import { NemesisNetwork } from './netns.js';
import { retry } from './run.js';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
let why = await realProcessPrerequisites('the clock-step suite');
if (!why && !existsSync(LIBFAKETIME)) {
  if (process.env['CI']) throw new Error(`the clock-step suite needs ${LIBFAKETIME} (apt-get install faketime)`);
  why = `needs ${LIBFAKETIME} (apt-get install faketime)`;
  console.log(`skipping the clock-step suite: ${why}`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(why !== '')('a wall-clock step on real processes', () => {
  const dir = join(REPO, '.data', `nemesis-clock-${process.pid}`);
  const offsetFile = join(dir, 'faketime-offset');
  let net: NemesisNetwork;
  let cluster: NemesisCluster;
  let clients: KvClient[] = [];

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    net = await NemesisNetwork.create(3);
    cluster = new NemesisCluster(net, dir, 'nemesis-clock', { heartbeatMs: 50, electionMs: 500 });
    writeFileSync(offsetFile, '+0\n');
    // Only the wall clock moves (FAKETIME_DONT_FAKE_MONOTONIC), read afresh on every call.
    const env = { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
    for (let i = 0; i < 3; i++) {
      cluster.env.set(i, env);
      cluster.launch(i);
    }
    expect(await cluster.waitHealthy(60_000)).toBe(true);
    clients = cluster.members.map((m) => new KvClient(m.address, 5000));
  }, 120_000);

  afterAll(async () => {
    await tearDownTestCluster({ clients, cluster, net, dir });
  });

  it('a 60 s lease outlives a one-hour step of the wall clock forward and back, and keeps renewing', async () => {
    const c = clients[0]!;
    const lease = await retry('grant', () => c.leaseGrant(60), 30_000);
    await c.putWithLease('n/clock', 'held', lease.id);
    // Let the leader's expiry check see the lease on the unstepped clock first.
    await sleep(1500);
    for (const step of ['+3600', '-3600', '+0']) {
      writeFileSync(offsetFile, `${step}\n`);
      // Several of the leader's expiry checks (every 500 ms) run on the stepped clock.
      await sleep(2500);
      const r = await c.run({ kind: 'get', key: 'n/clock' });
      expect(r !== 'failed' && r?.value, `the lease's key after a step to ${step} s`).toBe('held');
      expect(await c.leaseKeepAlive(lease.id), `a keep-alive after a step to ${step} s`).toBe(60);
    }
    await c.leaseRevoke(lease.id);
    const gone = await c.run({ kind: 'get', key: 'n/clock' });
    expect(gone !== 'failed' && gone?.exists).toBe(false);
  }, 120_000);
});
