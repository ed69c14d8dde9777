// One seeded run, VOPR style: a safety phase with faults (message loss, delay, reordering,
// duplication, symmetric and one-way partitions, crash-restarts that lose unsynced writes,
// membership changes, leadership transfers, snapshots) while a client proposes and reads;
// then a liveness phase: heal the network, restart every crashed member, and require a
// stable leader and a proposal applied on every member within a bounded number of ticks.
// Safety is checked on every Ready of every node in both phases.
import type { ConfChange, NodeId } from '../../node/raft/types.js';
import type { Violation } from './checkers.js';
import { Cluster, type ClusterStats } from './cluster.js';
import { optionsForSeed, TICK_UNITS, type OptionOverrides, type SimOptions } from './options.js';
import { SimRng } from './rng.js';
import { makePayload } from './state-machine.js';

export interface SeedResult {
  readonly seed: number;
  readonly opts: SimOptions;
  readonly violations: readonly Violation[];
  /** Ticks from cold start to the first leader (undefined: none during the run). */
  readonly ticksToFirstLeader: number | undefined;
  /** Ticks from healing to a stable leader in the liveness phase. */
  readonly ticksToRecover: number | undefined;
  /** Ticks from healing until the liveness proposal was applied everywhere. */
  readonly ticksToCommit: number | undefined;
  /** Highest committed index. */
  readonly commits: number;
  readonly ticks: number;
  readonly stats: ClusterStats;
  readonly net: { sent: number; dropped: number; duplicated: number; cut: number };
}

const NO_CONTEXT = new Uint8Array(0);
/** The liveness phase's hard cap, in multiples of livenessTicks, however steady the progress. */
const LIVENESS_CAP_FACTOR = 40;
/** How many node ids a run may ever use (initial members plus joiners). */
const MAX_JOINERS = 6;

export async function runSeed(seed: number, overrides: OptionOverrides = {}, trace?: (line: string) => void): Promise<SeedResult> {
  const opts = optionsForSeed(seed, overrides);
  const cluster = new Cluster(opts);
  cluster.trace = trace;
  const rng = new SimRng(seed, 7);
  const ids: NodeId[] = [];
  for (let i = 1; i <= opts.clusterSize; i++) ids.push(BigInt(i));
  await cluster.bootstrap(ids);
  let nextId = BigInt(opts.clusterSize + 1);
  let payloadSeq = 1;
  let readSeq = 1;
  let healAtTick: number | undefined;

  const proposeOne = (): void => {
    const up = cluster.upNodes();
    if (up.length === 0) return;
    const l = cluster.leader();
    const target = l !== undefined && rng.chance(0.7) ? l : rng.pick(up);
    const size = rng.range(8, Math.max(8, opts.maxPayloadBytes));
    cluster.propose(target.id, makePayload(payloadSeq++, size));
  };

  const membershipStep = async (): Promise<void> => {
    const l = cluster.leader();
    if (l === undefined) return;
    const cs = l.confState;
    const live = (id: NodeId) => cluster.nodes.get(id)?.removed === false;
    const learners = cs.learners.filter(live);
    let cc: ConfChange | undefined;
    if (learners.length > 0 && rng.chance(0.6)) {
      cc = { type: 'addNode', nodeId: rng.pick(learners), context: NO_CONTEXT };
    } else if (learners.length > 0 && rng.chance(0.2)) {
      cc = { type: 'removeNode', nodeId: rng.pick(learners), context: NO_CONTEXT };
    } else if (cs.voters.length < 5 && nextId <= BigInt(opts.clusterSize + MAX_JOINERS) && rng.chance(0.6)) {
      const id = nextId++;
      await cluster.addJoiningNode(id);
      cc = { type: 'addLearnerNode', nodeId: id, context: NO_CONTEXT };
    } else if (cs.voters.length > 3) {
      const victim = rng.chance(0.3) ? l.id : rng.pick(cs.voters);
      cc = { type: 'removeNode', nodeId: victim, context: NO_CONTEXT };
    }
    if (cc === undefined) return;
    // Mostly to the leader; sometimes through another node, which forwards it.
    const up = cluster.upNodes();
    const via = rng.chance(0.7) || up.length === 0 ? l : rng.pick(up);
    cluster.log(`propose ${cc.type} ${cc.nodeId} via ${via.id} (leader ${l.id}): ${cluster.proposeConfChange(via.id, cc)}`);
  };

  const partitionStep = (): void => {
    const all = [...cluster.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
    if (all.length < 2) return;
    const kind = rng.intn(4);
    if (kind === 0) {
      // Isolate the leader (the interesting case) or anyone.
      const l = cluster.leader();
      cluster.net.isolate(l !== undefined && rng.chance(0.7) ? l.id : rng.pick(all), all);
    } else if (kind === 1) {
      // Symmetric split into two random groups.
      const a: NodeId[] = [];
      const b: NodeId[] = [];
      for (const id of all) (rng.chance(0.5) ? a : b).push(id);
      cluster.net.partition([a, b]);
    } else {
      // One-way cuts: some links lose messages in one direction only.
      const cuts = rng.range(1, all.length);
      for (let i = 0; i < cuts; i++) {
        const from = rng.pick(all);
        const to = rng.pick(all);
        if (from !== to) cluster.net.cutOneWay(from, to);
      }
    }
    healAtTick = cluster.tick + rng.range(opts.partitionTicks[0], opts.partitionTicks[1]);
    cluster.log(`partition (kind ${kind}) until tick ${healAtTick}: ${cluster.net.cutCount()} links cut`);
  };

  // ---- safety phase ----
  for (let t = 0; t < opts.faultTicks && !cluster.aborted; t++) {
    await cluster.runUntil((t + 1) * TICK_UNITS);
    for (const n of cluster.nodes.values()) {
      if (!n.up && !n.removed && n.downUntilTick !== undefined && n.downUntilTick <= t) await cluster.restart(n.id);
    }
    if (healAtTick !== undefined && t >= healAtTick) {
      cluster.net.heal();
      healAtTick = undefined;
      cluster.log('heal partition');
    } else if (healAtTick === undefined && rng.chance(opts.partitionRate)) {
      partitionStep();
    }
    const up = cluster.upNodes();
    if (up.length > 0 && rng.chance(opts.crashRate * up.length)) {
      await cluster.settleIo(); // a crash strikes between events, never under a write in flight
      cluster.crash(rng.pick(up).id, rng.range(opts.downTicks[0], opts.downTicks[1]));
    }
    if (up.length > 0 && rng.chance(opts.pauseRate * up.length)) {
      const l = cluster.leader();
      const victim = l !== undefined && rng.chance(0.5) ? l : rng.pick(up);
      cluster.pause(victim.id, rng.range(opts.pauseTicks[0], opts.pauseTicks[1]));
    }
    let props = Math.floor(opts.proposeRate) + (rng.chance(opts.proposeRate % 1) ? 1 : 0);
    while (props-- > 0) proposeOne();
    if (rng.chance(opts.confChangeRate)) await membershipStep();
    if (rng.chance(opts.campaignRate) && up.length > 0) {
      const who = rng.pick(up);
      cluster.log(`force campaign on node ${who.id} (${who.role})`);
      cluster.campaign(who.id);
    }
    if (rng.chance(opts.readRate) && up.length > 0) cluster.readIndex(rng.pick(up).id, `r${readSeq++}`);
    if (rng.chance(opts.transferRate)) {
      const l = cluster.leader();
      // Mostly a voter; sometimes a learner, itself or a removed node, which raft must refuse.
      const pool = rng.chance(0.8) ? (l?.confState.voters ?? []) : [...cluster.nodes.keys()];
      const others = pool.filter((v) => v !== l?.id || rng.chance(0.1));
      if (l !== undefined && others.length > 0) {
        const to = rng.pick(others);
        cluster.log(`transfer leadership ${l.id} -> ${to}`);
        cluster.transferLeader(l.id, to);
      }
    }
  }

  // ---- liveness phase ----
  cluster.faultsOn = false;
  // Clock skew is a fault too: without pre-vote, nodes with stale logs and fast clocks can keep
  // disrupting elections indefinitely (seen in the sweep; expected Raft behaviour, which is why
  // etcd turns pre-vote on).
  cluster.evenClocks();
  cluster.net.heal();
  if (opts.noHeal) cluster.net.partition([...cluster.nodes.keys()].map((id) => [id]));
  cluster.net.setFaults({ dropRate: 0, dupRate: 0, minDelay: 1, maxDelay: Math.min(opts.net.maxDelay, 20), longDelayRate: 0, longDelayMax: 1 });
  for (const n of cluster.nodes.values()) if (!n.up && !n.removed) await cluster.restart(n.id);
  const healTick = cluster.tick;
  cluster.log('liveness phase: network healed, all members restarted');
  if (cluster.trace !== undefined) dumpRaftState(cluster);
  let ticksToRecover: number | undefined;
  let ticksToCommit: number | undefined;
  let lastMarkerTick = -Infinity;
  let why = 'no stable leader';
  // A backlog proposed during the faults (thousands of entries behind a small in-flight window)
  // can take longer than livenessTicks to drain while the cluster is healthy. So the phase fails
  // when the commit index stalls for livenessTicks, or at a hard cap, not at a fixed deadline.
  const capTicks = opts.livenessTicks * LIVENESS_CAP_FACTOR;
  let lastCommit = cluster.checker.committedIndex;
  let lastProgressT = 0;
  let t = 0;
  for (; t - lastProgressT < opts.livenessTicks && t < capTicks && !cluster.aborted; t++) {
    await cluster.runUntil((healTick + t + 1) * TICK_UNITS);
    if (cluster.checker.committedIndex > lastCommit) {
      lastCommit = cluster.checker.committedIndex;
      lastProgressT = t;
    }
    const l = cluster.stableLeader();
    if (ticksToRecover === undefined) {
      if (l === undefined) continue;
      ticksToRecover = t + 1;
    }
    // Find the lowest index at which any liveness marker was applied.
    let markerIndex = -1;
    for (const idx of cluster.watchedPayloads.values()) if (idx >= 0 && (markerIndex < 0 || idx < markerIndex)) markerIndex = idx;
    if (markerIndex < 0) {
      why = 'the liveness proposal was not applied';
      if (l !== undefined && t - lastMarkerTick >= 2 * opts.electionTick) {
        const id = 1_000_000_000 + payloadSeq++;
        cluster.watchedPayloads.set(id, -1);
        cluster.propose(l.id, makePayload(id, 16));
        lastMarkerTick = t;
      }
      continue;
    }
    const behind = [...cluster.nodes.values()].filter((n) => !n.removed && n.isMember() && n.applied < markerIndex);
    if (behind.length === 0) {
      ticksToCommit = t + 1;
      break;
    }
    why = `nodes ${behind.map((n) => `${n.id}(applied ${n.applied}${n.up ? '' : ', down'})`).join(', ')} did not apply index ${markerIndex}`;
  }
  if (!cluster.aborted && ticksToCommit === undefined) {
    dumpRaftState(cluster);
    cluster.checker.violations.push({
      property: 'Liveness',
      detail: `${t} ticks after healing (${t >= capTicks ? 'hard cap' : `no commit for the last ${t - lastProgressT}`}): ${why}`,
      tick: cluster.tick,
    });
  }
  const s = cluster.net.stats;
  return {
    seed,
    opts,
    violations: cluster.checker.violations,
    ticksToFirstLeader: cluster.firstLeaderTick,
    ticksToRecover,
    ticksToCommit,
    commits: cluster.checker.committedIndex,
    ticks: cluster.tick,
    stats: cluster.stats,
    net: { sent: s.sent, dropped: s.dropped, duplicated: s.duplicated, cut: s.cut },
  };
}

export interface RangeSummary {
  readonly seeds: number;
  readonly violations: number;
  readonly failing: readonly SeedResult[];
  readonly meanTicksToElect: number;
  readonly meanTicksToRecover: number;
  readonly commits: number;
}

export function summarize(results: readonly SeedResult[]): RangeSummary {
  let violations = 0;
  let commits = 0;
  let elect = 0, electN = 0, rec = 0, recN = 0;
  const failing: SeedResult[] = [];
  for (const r of results) {
    violations += r.violations.length;
    if (r.violations.length > 0) failing.push(r);
    commits += r.commits;
    if (r.ticksToFirstLeader !== undefined) { elect += r.ticksToFirstLeader; electN++; }
    if (r.ticksToRecover !== undefined) { rec += r.ticksToRecover; recN++; }
  }
  return {
    seeds: results.length,
    violations,
    failing,
    meanTicksToElect: electN > 0 ? elect / electN : NaN,
    meanTicksToRecover: recN > 0 ? rec / recN : NaN,
    commits,
  };
}

export function summaryLine(s: RangeSummary): string {
  return `seeds=${s.seeds} violations=${s.violations} mean_ticks_to_elect=${s.meanTicksToElect.toFixed(1)} commits=${s.commits} mean_ticks_to_recover=${s.meanTicksToRecover.toFixed(1)} failing_seeds=${s.failing.length}`;
}

/** The command that replays one seed; option flags need the direct tsx form. */
export function reproduceCommand(seed: number, flags: readonly string[] = []): string {
  if (flags.length === 0) return `make sim SEEDS=1 START=${seed}`;
  return `npx tsx test/sim/main.ts --seeds 1 --start ${seed} ${flags.join(' ')}`;
}

/** On a liveness failure, trace every member's Raft state and the leader's view of each peer. */
function dumpRaftState(cluster: Cluster): void {
  for (const n of cluster.nodes.values()) {
    if (n.raw === undefined) {
      cluster.log(`state: node ${n.id} down${n.removed ? ' (removed)' : ''}`);
      continue;
    }
    const st = n.raw.status();
    const r = n.raw.raftForTesting;
    const uncommitted = r.raftLog.lastIndex() - st.hardState.commit;
    cluster.log(`state: node ${n.id} ${st.softState.raftState} term ${st.hardState.term} commit ${st.hardState.commit} applied ${st.applied} last ${r.raftLog.lastIndex()} (uncommitted ${uncommitted})`);
    for (const [id, pr] of st.progress ?? []) cluster.log(`  progress ${id}: ${JSON.stringify(pr)}`);
  }
}
