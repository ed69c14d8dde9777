// The nemesis suite at length (make torture SECONDS=N): seeds one after another, alternating 3 and
// 5 members, until the time is up; each run's figures on one line, a failing seed with its
// schedule and the command that replays it. Needs root, bin/tsetcd (make build) and Go (lincheck).
//
//   npx tsx test/nemesis/main.ts [--seconds 600] [--start 1] [--size 3|5] [--faults 12] [--seed S]

import { canBuildNetworks } from './netns.js';
import { runNemesis, tearDownRunning } from './run.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const can = await canBuildNetworks();
  if (!can.ok) throw new Error(`the nemesis suite ${can.why}`);
  const seconds = arg('seconds', 600);
  const only = arg('seed', 0);
  const fixedSize = arg('size', 0);
  const faults = arg('faults', 12);
  const end = Date.now() + seconds * 1000;
  const totals = { runs: 0, ops: 0, unknown: 0, faults: 0, watchEvents: 0, leases: 0, revoked: 0, expired: 0, compactions: 0, watchCompacted: 0, readsCompacted: 0, diskStops: 0, failed: [] as string[] };
  const kinds: Record<string, number> = {};
  let maxOvershootMs = 0;
  for (let seed = only || arg('start', 1); only ? seed === only : Date.now() < end; seed++) {
    const size = fixedSize || (seed % 2 === 0 ? 5 : 3);
    let r;
    try {
      r = await runNemesis({ seed, size, faults, clients: 8, maxOpsPerClient: 5000, maxLoadMs: 120_000, keys: 5, opDeadlineMs: 2000, leaseClients: 3, compactEveryMs: 3000, log: (l) => console.log(l) });
    } catch (e) {
      // The run could not finish its checks (e.g. the healed cluster never became healthy).
      totals.runs++;
      totals.failed.push(`seed ${seed}`);
      console.log(`FAILED seed ${seed} (${size} members): ${(e as Error).message}\nreplay: npx tsx test/nemesis/main.ts --seed ${seed} --size ${size} --faults ${faults}`);
      continue;
    }
    totals.runs++;
    totals.ops += r.ops;
    totals.unknown += r.unknownOps;
    totals.faults += r.faultsInjected;
    totals.watchEvents += r.watchEvents;
    totals.leases += r.leases.leases;
    totals.revoked += r.leases.revoked;
    totals.expired += r.leases.expired;
    totals.compactions += r.compactions;
    totals.watchCompacted += r.watchCompacted;
    totals.readsCompacted += r.readsCompacted;
    totals.diskStops += r.diskStops;
    for (const [k, n] of Object.entries(r.faultKinds)) kinds[k] = (kinds[k] ?? 0) + n;
    maxOvershootMs = Math.max(maxOvershootMs, ...r.leases.overshootMs);
    const ok = r.lin.verdict === 'ok' && r.problems.length === 0;
    console.log(`seed ${seed} (${size} members): ${r.ops} ops (${r.unknownOps} unknown: ${r.resolved.applied} applied, ${r.resolved.dropped} not), ${r.faultsInjected} faults (${r.faultsSkipped} refused, ${r.diskStops} full disks stopped their member), final revision ${r.finalRev}, ${r.watchEvents} watch events (${r.watchReopened} reopens, ${r.watchCompacted} compacted), ${r.leases.leases} leases (${r.leases.revoked} revoked, ${r.leases.expired} expired), ${r.compactions} compactions (${r.readsCompacted} reads refused as compacted), linearizable: ${r.lin.verdict}, problems: ${r.problems.length}`);
    if (!ok) {
      totals.failed.push(`seed ${seed}`);
      console.log(`FAILED seed ${seed}: ${JSON.stringify(r.lin)}\n${r.problems.join('\n')}\nschedule:\n${r.schedule.join('\n')}\ndata: ${r.dir}\nreplay: npx tsx test/nemesis/main.ts --seed ${seed} --size ${size} --faults ${faults}`);
    }
  }
  console.log(`nemesis: ${totals.runs} runs, ${totals.ops} operations (${totals.unknown} unknown outcome), ${totals.faults} faults injected (${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ')}; ${totals.diskStops} full disks stopped their member), ${totals.watchEvents} watch events checked (${totals.watchCompacted} watches canceled as compacted); ${totals.leases} leases (${totals.revoked} revoked, ${totals.expired} expired; latest expiry seen ${maxOvershootMs.toFixed(0)} ms after its TTL ran out); ${totals.compactions} compactions, ${totals.readsCompacted} reads refused as compacted; failed: ${totals.failed.length ? totals.failed.join(', ') : 'none'}`);
  if (totals.failed.length) process.exitCode = 1;
}

// Ctrl-C or a kill: stop the members and remove the namespaces before leaving.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.log(`${sig}: stopping the members and removing the network`);
    void tearDownRunning().finally(() => process.exit(130));
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
