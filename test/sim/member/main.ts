// The whole-member simulator's CLI: many seeds, one line each, a summary, exit 1 on a violation.
//   npx tsx test/sim/member/main.ts --seeds 20 --start 1 [--size 3|5] [--fault-ms 20000] [--no-lin] [-v]
import { runWhole } from './run.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seeds = Number(arg('--seeds') ?? 1);
const start = Number(arg('--start') ?? 1);
const size = arg('--size') ? Number(arg('--size')) : undefined;
const faultMs = arg('--fault-ms') ? Number(arg('--fault-ms')) : undefined;
const verbose = process.argv.includes('-v');
const lin = !process.argv.includes('--no-lin');

let failing = 0;
let ops = 0;
let events = 0;
const faults = new Map<string, number>();
console.log(`whole-member sim: seeds ${start}..${start + seeds - 1}`);
for (let seed = start; seed < start + seeds; seed++) {
  const t0 = Date.now();
  const r = await runWhole({ seed, ...(size ? { size } : {}), ...(faultMs ? { faultMs } : {}), linearizability: lin, verbose });
  ops += r.ops;
  events += r.watchEvents;
  for (const [k, v] of Object.entries(r.faults)) faults.set(k, (faults.get(k) ?? 0) + v);
  const f = Object.entries(r.faults).map(([k, v]) => `${k}=${v}`).join(',');
  console.log(`seed=${seed} size=${r.size} fsync=${r.fsync} ops=${r.ops} unknown=${r.unknownOps} watch_events=${r.watchEvents} leases_expired=${r.leasesExpired} faults=${f} sim_s=${(r.simMs / 1000).toFixed(1)} steps=${r.steps} lin=${r.lin} wal_reads=${r.counts['walReads'] ?? 0} fingerprint=${r.fingerprint} wall_s=${((Date.now() - t0) / 1000).toFixed(1)}`);
  if (r.violations.length > 0) {
    failing++;
    for (const v of r.violations.slice(0, 10)) console.log(`FAIL seed=${seed}: ${v}`);
    console.log(`reproduce: npx tsx test/sim/member/main.ts --seeds 1 --start ${seed}${size ? ` --size ${size}` : ''}${faultMs ? ` --fault-ms ${faultMs}` : ''} -v`);
  }
}
console.log(`seeds=${seeds} ops=${ops} watch_events=${events} faults=${[...faults.entries()].sort().map(([k, v]) => `${k}=${v}`).join(',')} failing_seeds=${failing}`);
process.exit(failing > 0 ? 1 : 0);
