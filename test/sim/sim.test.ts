// The seeded cluster simulator in CI: a range of seeds must show no safety violation and
// must recover (leader + committed proposal) after healing. Plus falsification runs: with a
// deliberately broken app or disk the simulator must report violations, which shows the
// checkers are wired to real runs and not only to hand-made histories.
import { describe, expect, it } from 'vitest';
import { reproduceCommand, runSeed, summarize, summaryLine, type SeedResult } from './simulation.js';

const START = Number(process.env.SIM_START ?? 1);
const SEEDS = Number(process.env.SIM_SEEDS ?? 1000);

describe('seeded cluster simulator', () => {
  it(`seeds ${START}..${START + SEEDS - 1}: no violations, liveness after healing`, async () => {
    console.log(`sim.test: seeds ${START}..${START + SEEDS - 1}`);
    const results: SeedResult[] = [];
    for (let seed = START; seed < START + SEEDS; seed++) results.push(await runSeed(seed));
    const s = summarize(results);
    console.log(summaryLine(s));
    const failures = s.failing.map((r) => {
      const v = r.violations[0];
      return `seed ${r.seed}: ${v?.property} at tick ${v?.tick}: ${v?.detail} -- reproduce: ${reproduceCommand(r.seed)}`;
    });
    expect(failures).toEqual([]);
    expect(s.violations).toBe(0);
    // The runs really exercised the faults they claim to (guards against a silent no-op sim).
    const total = (f: (r: SeedResult) => number) => results.reduce((a, r) => a + f(r), 0);
    expect(total((r) => r.stats.crashes)).toBeGreaterThan(SEEDS);
    expect(total((r) => r.stats.midReadyCrashes)).toBeGreaterThan(SEEDS / 10);
    expect(total((r) => r.stats.pauses)).toBeGreaterThan(SEEDS / 10);
    expect(total((r) => r.stats.transfers)).toBeGreaterThan(SEEDS / 10);
    expect(total((r) => r.stats.confChangesApplied)).toBeGreaterThan(SEEDS);
    expect(total((r) => r.stats.snapshotsSent)).toBeGreaterThan(SEEDS);
    expect(total((r) => r.stats.readsConfirmed)).toBeGreaterThan(SEEDS);
    expect(total((r) => r.net.dropped + r.net.cut)).toBeGreaterThan(SEEDS * 10);
    expect(s.commits).toBeGreaterThan(SEEDS * 50);
    expect(results.every((r) => r.ticksToCommit !== undefined)).toBe(true);
  }, 170_000); // ~10 s on an idle core; the bound leaves room for a loaded CI machine

  it('seeds 1..100 on the real WAL (node/storage on MemoryFs, torn crashes): no violations', async () => {
    const results: SeedResult[] = [];
    for (let seed = 1; seed <= 100; seed++) results.push(await runSeed(seed, { wal: true }));
    const s = summarize(results);
    console.log(`wal: ${summaryLine(s)}`);
    expect(s.failing.map((r) => `seed ${r.seed}: ${r.violations[0]?.property}: ${r.violations[0]?.detail} -- reproduce: ${reproduceCommand(r.seed, ['--wal'])}`)).toEqual([]);
    expect(results.reduce((a, r) => a + r.stats.crashes, 0)).toBeGreaterThan(100);
  }, 120_000);

  it('the same seed replays the same run', async () => {
    const a = await runSeed(4242);
    const b = await runSeed(4242);
    expect(b.stats).toEqual(a.stats);
    expect(b.net).toEqual(a.net);
    expect(b.commits).toBe(a.commits);
    expect(b.ticksToFirstLeader).toBe(a.ticksToFirstLeader);
  });

  it('an app that skips the entry fsync loses committed entries: the checkers catch it', async () => {
    const props = new Set<string>();
    let failing = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const r = await runSeed(seed, { skipEntrySync: true, wal: seed % 2 === 0 });
      if (r.violations.length > 0) failing++;
      for (const v of r.violations) props.add(v.property);
    }
    console.log(`skip-entry-sync: ${failing}/25 seeds failed (even seeds on the WAL); properties: ${[...props].sort().join(', ')}`);
    expect(failing).toBeGreaterThan(5);
    // Either raft's own assertion on a lost log or a Raft safety property must fire.
    expect([...props].some((p) => ['LeaderCompleteness', 'StateMachineSafety', 'RaftThrew', 'LogMatching', 'ElectionSafety'].includes(p))).toBe(true);
  });

  it('liveness: a healthy cluster draining a large backlog passes; a cluster that never heals fails on the stall', async () => {
    // Seed 706 (5 members, 4000 fault ticks, 20% loss, one in-flight message of 64 bytes) heals
    // with ~3,300 uncommitted entries on the leader: it needs more than livenessTicks to drain
    // them, but commits all the way. A fixed 250-tick deadline called this a liveness failure.
    const backlog = await runSeed(706, { clusterSize: 5, faultTicks: 4000 });
    console.log(`liveness backlog: seed 706 applied the marker ${backlog.ticksToCommit} ticks after healing`);
    expect(backlog.violations).toEqual([]);
    expect(backlog.ticksToCommit).toBeGreaterThan(backlog.opts.livenessTicks);

    const stuck = await runSeed(3, { noHeal: true });
    expect(stuck.violations.map((v) => v.property)).toEqual(['Liveness']);
    expect(stuck.violations[0]?.detail).toMatch(/no commit for the last 250/);
  });

  it('a disk that loses synced hard state (term, vote) on crash is caught', async () => {
    let failing = 0;
    const props = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const r = await runSeed(seed, { lyingDisk: true });
      if (r.violations.length > 0) failing++;
      for (const v of r.violations) props.add(v.property);
    }
    console.log(`lying disk: ${failing}/20 seeds failed; properties: ${[...props].sort().join(', ')}`);
    expect(failing).toBeGreaterThan(5);
    expect(props.has('TermMonotonic') || props.has('VoteOnce')).toBe(true);
  });
});
