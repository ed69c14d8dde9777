// Swarm-randomized options: every seed draws its own cluster shape and fault mix, so a
// range of seeds covers calm runs, lossy runs, crash-heavy runs and membership churn.
import type { NetworkFaults } from './network.js';
import { SimRng } from './rng.js';

/** Virtual time units per raft tick. Message delays are in these units. */
export const TICK_UNITS = 100;

export interface SimOptions {
  readonly seed: number;
  readonly clusterSize: 3 | 5;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  /** 0: no limit. */
  readonly maxCommittedSizePerReady: number;
  /** 0: no limit. */
  readonly maxUncommittedEntriesSize: number;
  /** Ticks of the safety phase (faults on). */
  readonly faultTicks: number;
  /** Liveness phase bound: after healing, the commit index may stall at most this many ticks
   *  (and the proposal must apply everywhere within LIVENESS_CAP_FACTOR times it). */
  readonly livenessTicks: number;
  readonly net: NetworkFaults;
  /** Per tick: chance a partition starts (when none is active). */
  readonly partitionRate: number;
  readonly partitionTicks: readonly [number, number];
  /** Per tick: chance a live node crashes. */
  readonly crashRate: number;
  /**
   * Per Ready of a leader: chance it crashes in the middle of the Ready, after sending its
   * app/heartbeat/snap messages but before its own write is durable (the contract allows a
   * leader to send those before its fsync, Raft thesis 10.2.1).
   */
  readonly midReadyCrashRate: number;
  readonly downTicks: readonly [number, number];
  /** Per tick: chance a live node stalls (a long GC pause: no ticks, no messages handled). */
  readonly pauseRate: number;
  readonly pauseTicks: readonly [number, number];
  /** Clock skew: each node's tick interval is TICK_UNITS +- this many units. */
  readonly tickSkewUnits: number;
  /** Per tick: expected proposals. */
  readonly proposeRate: number;
  readonly maxPayloadBytes: number;
  /** Per tick: chance of a membership step (add learner, promote, remove). */
  readonly confChangeRate: number;
  /** Per tick: chance of a ReadIndex request / a leadership transfer. */
  readonly readRate: number;
  readonly transferRate: number;
  /** Per tick: chance a random node is told to campaign now (RawNode.campaign). */
  readonly campaignRate: number;
  /** A node snapshots and compacts its log after this many applied entries... */
  readonly snapshotEvery: number;
  /** ...keeping this many entries behind the snapshot. */
  readonly compactKeep: number;
  /** Test-only: the disk acknowledges hard-state syncs it then loses on crash. */
  readonly lyingDisk: boolean;
  /** Test-only: the app breaks the contract and does not sync entries when mustSync asks. */
  readonly skipEntrySync: boolean;
  /** Keep durable state in the member's real WAL on the in-memory file system (slower). */
  readonly wal: boolean;
  /** Stack frames shown when raft throws (reporting only). */
  readonly stackFrames: number;
  /** Test-only: the liveness phase does not heal; every member stays cut off from the others. */
  readonly noHeal: boolean;
}

export interface OptionOverrides {
  clusterSize?: 3 | 5;
  faultTicks?: number;
  livenessTicks?: number;
  noFaults?: boolean;
  lyingDisk?: boolean;
  skipEntrySync?: boolean;
  wal?: boolean;
  stackFrames?: number;
  /** Pin the flow-control window (e.g. to steer around a known bug while hunting others). */
  maxInflightMsgs?: number;
  noHeal?: boolean;
}

/** An override wins, but the draw still happens so the other options stay the same. */
function pin<T>(override: T | undefined, drawn: T): T {
  return override ?? drawn;
}

export function optionsForSeed(seed: number, o: OptionOverrides = {}): SimOptions {
  const r = new SimRng(seed, 0x5eed);
  const clusterSize: 3 | 5 = o.clusterSize ?? (r.chance(0.5) ? 3 : 5);
  const calm = o.noFaults === true;
  const maxDelay = r.pick([5, 20, 50, 100, 200]);
  const net: NetworkFaults = calm
    ? { dropRate: 0, dupRate: 0, minDelay: 1, maxDelay: 5, longDelayRate: 0, longDelayMax: 5 }
    : {
        dropRate: r.pick([0, 0.01, 0.05, 0.1, 0.2]),
        dupRate: r.pick([0, 0.01, 0.05]),
        minDelay: 1,
        maxDelay,
        longDelayRate: r.pick([0, 0.01, 0.05]),
        longDelayMax: maxDelay * r.range(2, 10),
      };
  return {
    seed,
    clusterSize,
    electionTick: r.pick([10, 10, 5, 20]),
    heartbeatTick: r.pick([1, 1, 2]),
    preVote: r.chance(0.8),
    checkQuorum: r.chance(0.8),
    maxSizePerMsg: r.pick([64, 512, 4096, 1 << 20]),
    maxInflightMsgs: pin(o.maxInflightMsgs, r.pick([1, 4, 64, 256])),
    maxInflightBytes: pin(o.maxInflightMsgs !== undefined ? 0 : undefined, r.pick([0, 2048, 1 << 20])),
    maxCommittedSizePerReady: r.pick([0, 0, 256, 4096]),
    maxUncommittedEntriesSize: r.pick([0, 0, 0, 4096]),
    faultTicks: o.faultTicks ?? r.range(150, 300),
    livenessTicks: o.livenessTicks ?? 250,
    net,
    partitionRate: calm ? 0 : r.pick([0, 0.01, 0.03, 0.06]),
    partitionTicks: [5, r.pick([20, 40, 80])],
    crashRate: calm ? 0 : r.pick([0, 0.003, 0.01, 0.02]),
    midReadyCrashRate: calm ? 0 : r.pick([0, 0, 0.002, 0.01]),
    downTicks: [1, r.pick([10, 30, 60])],
    proposeRate: r.pick([0.2, 0.5, 1, 2]),
    pauseRate: calm ? 0 : r.pick([0, 0, 0.005, 0.02]),
    pauseTicks: [1, r.pick([5, 15, 40])],
    tickSkewUnits: calm ? 0 : r.pick([0, 2, 10, 25]),
    maxPayloadBytes: r.pick([16, 128, 1024]),
    confChangeRate: calm ? 0 : r.pick([0, 0.01, 0.03]),
    readRate: r.pick([0, 0.05, 0.2]),
    transferRate: calm ? 0 : r.pick([0, 0.005, 0.02]),
    campaignRate: calm ? 0 : r.pick([0, 0, 0.005, 0.02]),
    snapshotEvery: r.pick([5, 20, 100]),
    compactKeep: r.pick([0, 2, 10]),
    lyingDisk: o.lyingDisk ?? false,
    skipEntrySync: o.skipEntrySync ?? false,
    wal: o.wal ?? false,
    stackFrames: o.stackFrames ?? 3,
    noHeal: o.noHeal === true,
  };
}
