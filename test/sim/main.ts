// The simulator's command line: `make sim SEEDS=N START=S` runs
// `npx tsx test/sim/main.ts --seeds N --start S`. It prints the seed range, one line per
// failing seed with the command that reproduces it, and one summary line; the exit code is
// non-zero on any violation. `--verbose` prints a line per seed (options and figures).
import { reproduceCommand, runSeed, summarize, summaryLine, type SeedResult } from './simulation.js';
import type { OptionOverrides } from './options.js';

function parseArgs(argv: readonly string[]): { seeds: number; start: number; verbose: boolean; trace: boolean; overrides: OptionOverrides; flags: string[] } {
  let seeds = 500;
  let start = 1;
  let verbose = false;
  let trace = false;
  const overrides: OptionOverrides = {};
  /** Option flags (not --seeds/--start/--verbose/--trace), repeated in reproduction commands. */
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (optionFlag) flags.push(v);
      return v;
    };
    const optionFlag = a !== undefined && !['--seeds', '--start', '--verbose', '-v', '--trace'].includes(a);
    if (optionFlag) flags.push(a);
    switch (a) {
      case '--seeds': seeds = Number(next()); break;
      case '--start': start = Number(next()); break;
      case '--verbose': case '-v': verbose = true; break;
      case '--trace': trace = true; break;
      case '--size': {
        const s = Number(next());
        if (s !== 3 && s !== 5) throw new Error('--size is 3 or 5');
        overrides.clusterSize = s;
        break;
      }
      case '--fault-ticks': overrides.faultTicks = Number(next()); break;
      case '--no-faults': overrides.noFaults = true; break;
      case '--lying-disk': overrides.lyingDisk = true; break;
      case '--skip-entry-sync': overrides.skipEntrySync = true; break;
      case '--wal': overrides.wal = true; break;
      case '--stack-frames': overrides.stackFrames = Number(next()); break;
      case '--inflight-msgs': overrides.maxInflightMsgs = Number(next()); break;
      default: throw new Error(`unknown argument ${String(a)} (use --seeds N --start S [--verbose] [--trace] [--size 3|5] [--fault-ticks N] [--no-faults] [--lying-disk] [--skip-entry-sync] [--wal] [--inflight-msgs N] [--stack-frames N])`);
    }
  }
  if (!Number.isSafeInteger(seeds) || seeds < 1) throw new Error('--seeds must be a positive integer');
  if (!Number.isSafeInteger(start) || start < 0) throw new Error('--start must be a non-negative integer');
  return { seeds, start, verbose, trace, overrides, flags };
}

function describe(r: SeedResult): string {
  const o = r.opts;
  return (
    `seed=${r.seed} n=${o.clusterSize} prevote=${o.preVote} cq=${o.checkQuorum} drop=${o.net.dropRate} dup=${o.net.dupRate} ` +
    `delay<=${o.net.maxDelay} part=${o.partitionRate} crash=${o.crashRate} conf=${o.confChangeRate} snapEvery=${o.snapshotEvery} ` +
    `ticks=${r.ticks} elect=${r.ticksToFirstLeader ?? '-'} recover=${r.ticksToRecover ?? '-'} commit=${r.ticksToCommit ?? '-'} ` +
    `committed=${r.commits} crashes=${r.stats.crashes} midReadyCrashes=${r.stats.midReadyCrashes} pauses=${r.stats.pauses} leaders=${r.stats.leaderChanges} confApplied=${r.stats.confChangesApplied} ` +
    `snapsSent=${r.stats.snapshotsSent} reads=${r.stats.readsConfirmed}/${r.stats.readsIssued} msgs=${r.net.sent}`
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const end = args.start + args.seeds - 1;
  console.log(`sim: seeds ${args.start}..${end} (${args.seeds} seeds)`);
  const results: SeedResult[] = [];
  for (let seed = args.start; seed <= end; seed++) {
    const r = await runSeed(seed, args.overrides, args.trace ? (line) => console.log(line) : undefined);
    results.push(r);
    if (args.verbose) console.log(describe(r));
    if (r.violations.length > 0) {
      const v = r.violations[0];
      console.log(`FAIL seed=${seed} ${v?.property} at tick ${v?.tick}: ${v?.detail} (${r.violations.length} violation(s))`);
      console.log(`  reproduce: ${reproduceCommand(seed, args.flags)}`);
    }
  }
  const s = summarize(results);
  console.log(summaryLine(s));
  process.exitCode = s.violations > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 2;
});
