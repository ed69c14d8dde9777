// Removing a follower through that follower's own endpoint: the member must learn that its
// removal committed and answer the client before it stops (etcd does). Several trials, since
// the lost answer was a race (about 1 run in 6 before the transport kept the last messages).
import { describe, expect, it } from 'vitest';
import { Cluster, ctlOk, etcdctl, parseCtlJson, requireTools, waitFor } from './harness.js';

const tools = requireTools();
const TRIALS = Number(process.env['REMOVE_SELF_TRIALS'] ?? 4);

describe.skipIf(!tools.ok)('member remove through the member being removed (real processes)', () => {
  it(`answers the client every time (${TRIALS} trials)`, async () => {
    for (let t = 0; t < TRIALS; t++) {
      const cluster = await Cluster.start({ size: 3, label: `rmself${t}`, heartbeatMs: 50, electionMs: 500 });
      try {
        const leader = await cluster.waitLeader(30_000);
        const follower = cluster.running().find((m) => m !== leader)!;
        const ep = `127.0.0.1:${follower.clientPort}`;
        await ctlOk(ep, ['put', 'k', String(t)]);
        const list = parseCtlJson<{ members: Array<{ ID: string; name: string }> }>(await ctlOk(ep, ['member', 'list', '-w', 'json']));
        const id = BigInt(list.members.find((m) => m.name === follower.name)!.ID);
        const r = await etcdctl(ep, ['member', 'remove', id.toString(16)], { timeoutMs: 20_000 });
        expect({ trial: t, code: r.code, out: r.stdout.trim(), err: r.stderr.trim() }).toMatchObject({ trial: t, code: 0, out: expect.stringMatching(/^Member\s+[0-9a-f]+ removed from cluster\s+[0-9a-f]+$/) });
        await waitFor('the removed member to stop', async () => (follower.proc && follower.proc.exitCode !== null ? true : undefined), 30_000);
        const left = cluster.running();
        expect(left.map((m) => m.name)).not.toContain(follower.name);
        await ctlOk(cluster.endpoints(left), ['put', 'after', String(t)]);
      } finally {
        await cluster.stop();
      }
    }
  }, 600_000);
});
