// One seed of the whole-member simulation: N real members on simulated time, clients on their
// API, a nemesis, then a quiet phase and the checks (checks.ts). Everything follows from the seed:
// the same seed gives the same run, and the run's fingerprint (a hash of its trace and history)
// proves it.

import { createHash } from 'node:crypto';
import { RaftLog } from '../../../node/raft/raft-log.js';
import { MvccStateMachine } from '../../../node/runtime/mvcc-adapter.js';
import { checkLinearizable } from '../../nemesis/lincheck.js';
import { SimRng } from '../rng.js';
import { buildReference, checkDurability, checkLeases, checkSerializableReads, checkWatches, linHistory } from './checks.js';
import { SimCluster, type Slot } from './cluster.js';
import { Workload } from './workload.js';
import { World } from './world.js';

export interface WholeRunOptions {
  readonly seed: number;
  /** Members (default: 3 or 5, from the seed). */
  readonly size?: number;
  /** Simulated milliseconds of faults and load. */
  readonly faultMs?: number;
  readonly clients?: number;
  readonly watchers?: number;
  /** Run the porcupine checker (needs Go's build of hack/lincheck). */
  readonly linearizability?: boolean;
  readonly verbose?: boolean;
  /** Task budget for the whole run (a runaway is reported, not waited for). */
  readonly maxSteps?: number;
  /** A planted bug, to prove the checks catch it (falsification). */
  readonly plant?: 'stale-reads' | 'lying-disk' | 'drop-watch-event' | 'apply-held-entries';
}

export interface WholeRunReport {
  readonly seed: number;
  readonly size: number;
  /** The disk's fdatasync latency profile (none, uniform, slow, stalls, one-slow). */
  readonly fsync: string;
  readonly violations: string[];
  /** sha256 over the trace and the history: equal for equal seeds. */
  readonly fingerprint: string;
  readonly ops: number;
  readonly unknownOps: number;
  readonly watchEvents: number;
  readonly leasesExpired: number;
  readonly faults: Record<string, number>;
  readonly simMs: number;
  readonly steps: number;
  readonly lin: string;
  readonly counts: Record<string, number>;
}

export async function runWhole(o: WholeRunOptions): Promise<WholeRunReport> {
  if (o.plant !== 'apply-held-entries') return runSeed(o);
  // Raft hands out for applying the entries a leader holds back (not in its storage yet).
  const nextEnts = RaftLog.prototype.nextEnts;
  RaftLog.prototype.nextEnts = function (this: RaftLog) {
    return nextEnts.call(this, true);
  };
  try {
    return await runSeed(o);
  } finally {
    RaftLog.prototype.nextEnts = nextEnts;
  }
}

async function runSeed(o: WholeRunOptions): Promise<WholeRunReport> {
  const rng = new SimRng(o.seed);
  const bytesRng = new SimRng(o.seed, 9);
  const hotRng = new SimRng(o.seed, 10);
  const size = o.size ?? (rng.chance(0.5) ? 3 : 5);
  const world = new World();
  const heartbeatMs = 100;
  const electionMs = 1000;
  const maxRateDelta = rng.pick([0, 0.01, 0.05]);
  const c = new SimCluster(
    world,
    rng.fork(2),
    size,
    {
      heartbeatMs,
      electionMs,
      snapshotCount: rng.pick([20, 50, 200]),
      snapshotCatchUpEntries: rng.pick([5, 20, 100]),
      // The byte bounds of raft's memory log (snapshot-policy.ts): off (the defaults, far above
      // the simulated entries), or a few dozen entries' worth. Drawn from a stream of their own,
      // so the seeds of earlier runs still replay the same runs.
      snapshotLogBytes: bytesRng.pick([2 ** 30, 1500, 6000]),
      snapshotCatchUpBytes: bytesRng.pick([128 * 2 ** 20, 300, 3000]),
      // Applied entries whose payloads stay in memory (memory-storage.ts, "Cold entries"): none,
      // a few, or more than a run makes (as the member's default of 1,024 is, here); the rest are
      // read back from the simulated WAL whenever a lagging or restarted follower needs them.
      hotLogEntries: hotRng.pick([0, 3, 4096]),
    },
    { maxRateDelta, maxOffsetMs: rng.pick([0, 500, 5000]) },
    rng.pick([0, 0.02, 0.3]),
    o.verbose ?? false,
  );
  const maxRate = 1 + maxRateDelta;
  const maxSteps = o.maxSteps ?? 3_000_000;
  const w = new Workload(c, rng.fork(3), 5, 10_000);
  const nem = rng.fork(4);
  c.lyingDisk = o.plant === 'lying-disk';
  // fdatasync latency, from a stream of its own (seeds drawing 'none' replay as before it existed):
  // none, 0.2-2 ms, 2-10 ms (slower than the network: the followers' acks come first), 0.5 ms
  // with a 30 ms stall one time in 50, or one slow disk (m0: 5-15 ms; the others 0.2-1 ms), where
  // the followers of a leader on it commit alone.
  const diskRng = new SimRng(o.seed, 10);
  const fsyncProfile = diskRng.pick(['none', 'uniform', 'slow', 'stalls', 'one-slow'] as const);
  if (fsyncProfile === 'uniform') c.fsyncMs = () => 0.2 + diskRng.float() * 1.8;
  if (fsyncProfile === 'slow') c.fsyncMs = () => 2 + diskRng.float() * 8;
  if (fsyncProfile === 'stalls') c.fsyncMs = () => (diskRng.chance(0.02) ? 30 : 0.5);
  if (fsyncProfile === 'one-slow') c.fsyncMs = (slot) => (slot === 0 ? 5 + diskRng.float() * 10 : 0.2 + diskRng.float() * 0.8);
  w.plantStaleReads = o.plant === 'stale-reads';
  w.plantDropWatchEvent = o.plant === 'drop-watch-event';

  for (const s of c.slots) world.at(0, () => void c.boot(s));
  await world.runUntil(3000, maxSteps);

  // ---------------------------------------------------------------- faults and load
  const faultMs = o.faultMs ?? 20_000;
  const end = world.now + faultMs;
  for (let i = 0; i < (o.clients ?? 4); i++) w.startClient(i);
  for (let i = 0; i < (o.watchers ?? 2); i++) w.startWatcher(i);
  const restartLater = (s: Slot, ms: number): void => {
    world.at(world.now + ms, () => {
      if (s.state === 'down' && !s.diskFault) void c.boot(s);
    });
  };
  const nemesis = (): void => {
    if (world.now >= end) return;
    injectFault(c, nem, restartLater);
    world.at(world.now + nem.range(300, 2500), nemesis);
  };
  world.at(world.now + 500, nemesis);
  const churn = new Churn(c, rng.fork(5), size);
  const churnLoop = (): void => {
    if (world.now >= end) return;
    churn.step();
    world.at(world.now + nem.range(1000, 4000), churnLoop);
  };
  world.at(world.now + 1500, churnLoop);
  // Agreement while running: members at the same revision and compaction have the same HashKV.
  const sampleHashes = (): void => {
    if (world.now >= end) return;
    compareHashes(c, false);
    world.at(world.now + 2000, sampleHashes);
  };
  world.at(world.now + 1000, sampleHashes);
  let ran = await world.runUntil(end, maxSteps);

  // ---------------------------------------------------------------- quiet: heal, restart, settle
  w.stopped = true;
  heal(c);
  const maxTtl = Math.max(2, ...[...w.leases.values()].map((l) => l.ttlS));
  const quietEnd = world.now + 4 * electionMs + (maxTtl * 1000) / (1 - maxRateDelta) + 4000;
  if (ran) ran = await world.runUntil(quietEnd, maxSteps);
  // Every member up and caught up (liveness), or the run says which is not.
  if (ran) ran = await world.runUntil(world.now + 30_000, maxSteps, () => caughtUp(c));
  if (!ran) c.violations.push(`the run used its budget of ${maxSteps} tasks`);
  else if (!caughtUp(c)) c.violations.push(`liveness: 30 s after healing the members have not converged: ${convergence(c)}`);
  else compareHashes(c, true);
  for (const e of world.errors) c.violations.push(e);

  // ---------------------------------------------------------------- checks
  const ref = buildReference(c.applied);
  const violations = [...c.violations];
  violations.push(...checkDurability(ref, w.ops));
  violations.push(...checkSerializableReads(ref, w));
  const wc = checkWatches(ref, w);
  violations.push(...wc.violations);
  const lc = checkLeases(c.applied, w, maxRate);
  violations.push(...lc.violations);
  // Every lease left unrenewed is gone once the quiet phase is over.
  for (const l of w.leases.values()) {
    const live = c.live()[0];
    if (live && live.sm!.leaseTimeToLive({ ID: l.id }, 0).TTL > 0 && l.lastRenewCallMs + (l.ttlS * 1000) / (1 - maxRateDelta) + 4 * electionMs < world.now) {
      violations.push(`lease ${l.id.toString(16)} (TTL ${l.ttlS}s) still lives at ${world.now.toFixed(0)} ms, last renewed for a call at ${l.lastRenewCallMs.toFixed(0)} ms`);
    }
  }
  const history = linHistory(c.applied, w);
  const initialRev = new MvccStateMachine().currentRevision();
  let lin = 'skipped';
  if (o.linearizability !== false && history.ops.length > 0) {
    const v = await checkLinearizable({ initialRev, ops: history.ops }, { timeoutS: 120 });
    lin = `${v.verdict} (${v.ops} ops, ${v.unknown} unknown, ${v.partitions} partitions)`;
    if (v.verdict === 'illegal') violations.push(`linearizability: porcupine rejects the history: ${JSON.stringify(v.failed ?? [])}`);
  }
  const fp = createHash('sha256');
  for (const line of c.trace) fp.update(line + '\n');
  fp.update(JSON.stringify(history.ops));
  fp.update(JSON.stringify(w.serialReads));
  for (const s of w.segments) fp.update(`${s.watcher} ${s.member} ${s.startRev} ${s.compactRevision ?? ''} ${JSON.stringify(s.events)}\n`);
  return {
    seed: o.seed,
    size,
    fsync: fsyncProfile,
    violations,
    fingerprint: fp.digest('hex').slice(0, 16),
    ops: w.ops.length,
    unknownOps: w.counts.unknown,
    watchEvents: wc.events,
    leasesExpired: lc.expired,
    faults: Object.fromEntries([...c.faults.entries()].sort()),
    simMs: Math.round(world.now),
    steps: world.steps,
    lin,
    counts: { ...w.counts, walReads: c.raftLogWalReads() },
  };
}

/** One fault, drawn from the seed. Each heals itself after a while; the quiet phase heals the rest. */
function injectFault(c: SimCluster, rng: SimRng, restartLater: (s: Slot, ms: number) => void): void {
  const world = c.world;
  const up = c.slots.filter((s) => s.state === 'up');
  const ids = c.slots.filter((s) => s.state !== 'removed').map((s) => s.rec.id);
  const x = rng.float();
  const anyUp = up.length > 0 ? rng.pick(up) : undefined;
  if (x < 0.18) {
    const s = rng.chance(0.5) ? (c.leader() ?? anyUp) : anyUp;
    if (!s) return;
    const tear = rng.chance(0.5);
    c.count(tear ? 'crash-torn' : 'crash');
    c.crash(s, 'nemesis', tear);
    restartLater(s, rng.range(200, 4000));
  } else if (x < 0.32) {
    const s = rng.chance(0.5) ? (c.leader() ?? anyUp) : anyUp;
    if (!s) return;
    c.count('isolate');
    c.note(`m${s.index}: isolated`);
    c.net.isolate(s.rec.id, ids);
    world.at(world.now + rng.range(500, 5000), () => {
      c.note('network healed');
      c.net.heal();
    });
  } else if (x < 0.42) {
    if (ids.length < 3) return;
    const shuffled = [...ids].sort(() => 0).map((id) => ({ id, k: rng.float() })).sort((a, b) => a.k - b.k).map((e) => e.id);
    const cut = 1 + rng.intn(ids.length - 1);
    const a = shuffled.slice(0, cut);
    const b = shuffled.slice(cut);
    c.count('split');
    c.note(`network split ${a.length}/${b.length}`);
    for (const p of a) for (const q of b) {
      c.net.cutLink(p, q);
      c.net.cutLink(q, p);
    }
    world.at(world.now + rng.range(500, 5000), () => {
      c.note('network healed');
      c.net.heal();
    });
  } else if (x < 0.5) {
    const from = rng.pick(ids);
    const to = rng.pick(ids.filter((i) => i !== from));
    c.count('one-way');
    c.note(`one-way cut ${from.toString(16).slice(0, 6)} -> ${to.toString(16).slice(0, 6)}`);
    c.net.cutLink(from, to);
    world.at(world.now + rng.range(500, 5000), () => {
      c.note('network healed');
      c.net.heal();
    });
  } else if (x < 0.62) {
    const s = rng.chance(0.5) ? (c.leader() ?? anyUp) : anyUp;
    if (!s || !s.proc || s.proc.paused) return;
    c.count('pause');
    c.note(`m${s.index}: paused`);
    const p = s.proc;
    p.pause();
    world.at(world.now + rng.range(200, 4000), () => {
      c.note(`m${s.index}: resumed`);
      p.resume();
    });
  } else if (x < 0.7) {
    if (!anyUp) return;
    const kind = rng.chance(0.5) ? 'ENOSPC' : 'EIO';
    c.count(kind);
    c.note(`m${anyUp.index}: disk fails with ${kind}`);
    anyUp.diskFault = kind;
    world.at(world.now + rng.range(300, 3000), () => {
      anyUp.diskFault = undefined;
      c.note(`m${anyUp.index}: disk works again`);
      restartLater(anyUp, rng.range(100, 1000));
    });
  } else if (x < 0.76) {
    if (!anyUp) return;
    c.count('corrupt-write');
    anyUp.corruptNextWrite = true;
    restartLater(anyUp, rng.range(1000, 3000));
  } else if (x < 0.84) {
    c.count('loss');
    const loss = rng.pick([0.05, 0.1, 0.3]);
    c.note(`message loss ${loss}`);
    c.net.faults = { ...c.net.faults, loss, spike: 0.05, spikeMs: 300 };
    world.at(world.now + rng.range(1000, 5000), () => {
      c.note('message loss over');
      c.net.faults = { ...c.net.faults, loss: 0, spike: 0, spikeMs: 0 };
    });
  } else {
    // Restart whatever is down (keeps enough members around for progress).
    for (const s of c.slots) if (s.state === 'down' && !s.diskFault) restartLater(s, rng.range(0, 500));
  }
}

/**
 * Membership churn through the member API: remove a member (sometimes the leader), or add a new,
 * empty member as a learner, boot it (it joins from the others), and promote it once it has caught
 * up. Keeps between 3 and `max` members; one change at a time.
 */
class Churn {
  private busy = false;
  private gen = 0;
  constructor(
    private readonly c: SimCluster,
    private readonly rng: SimRng,
    private readonly max: number,
  ) {}

  step(): void {
    if (this.busy) return;
    const c = this.c;
    const active = c.slots.filter((s) => s.state !== 'removed');
    const up = c.live();
    if (up.length === 0) return;
    const via = this.rng.pick(up);
    this.busy = true;
    // A call to a member that crashes never answers: give up on it after a while.
    const gen = ++this.gen;
    c.world.at(c.world.now + 20_000, () => {
      if (this.gen === gen) this.busy = false;
    });
    const done = (): void => {
      if (this.gen === gen) this.busy = false;
    };
    if (active.length > 3 && (active.length >= this.max || this.rng.chance(0.5))) {
      const leader = c.leader();
      const target = leader && this.rng.chance(0.3) ? leader : this.rng.pick(active);
      c.count('member-remove');
      c.note(`member remove m${target.index} via m${via.index}`);
      via.member!.memberRemove(target.rec.id).then(
        () => {
          c.note(`member remove m${target.index}: done`);
          c.retire(target);
          done();
        },
        (err: unknown) => {
          c.note(`member remove m${target.index}: ${(err as Error).message}`);
          done();
        },
      );
      return;
    }
    if (active.length >= this.max) return done();
    const url = c.nextPeerUrl();
    c.count('member-add');
    c.note(`member add ${url} (learner) via m${via.index}`);
    via.member!.memberAdd([url], true).then(
      (r) => {
        const slot = c.newJoiner({ ...r.member, peerUrls: [...r.member.peerUrls], name: `m${c.slots.length}`, clientUrls: [url.replace(':2380', ':2379')] });
        c.note(`member add: m${slot.index} is ${r.member.id.toString(16)}`);
        c.world.at(c.world.now + this.rng.range(100, 1500), () => void c.boot(slot));
        this.promoteLater(slot, 10);
      },
      (err: unknown) => {
        c.note(`member add: ${(err as Error).message}`);
        done();
      },
    );
  }

  private promoteLater(slot: Slot, tries: number): void {
    const c = this.c;
    c.world.at(c.world.now + 1000, () => {
      const via = c.live()[0];
      if (tries === 0 || slot.state === 'removed' || !via) {
        this.busy = false;
        return;
      }
      via.member!.memberPromote(slot.rec.id).then(
        () => {
          c.count('member-promote');
          c.note(`member promote m${slot.index}: done`);
          this.busy = false;
        },
        (err: unknown) => {
          c.note(`member promote m${slot.index}: ${(err as Error).message}`);
          if ((err as Error).message.includes('can only promote a learner member') && !(err as Error).message.includes('in sync')) this.busy = false;
          else this.promoteLater(slot, tries - 1);
        },
      );
    });
  }
}

function heal(c: SimCluster): void {
  c.note('quiet phase: heal everything');
  c.net.heal();
  c.net.faults = { loss: 0, latencyMs: 1, jitterMs: 2, spike: 0, spikeMs: 0 };
  for (const s of c.slots) {
    s.diskFault = undefined;
    s.corruptNextWrite = false;
    if (s.proc?.paused) s.proc.resume();
    if (s.state === 'down') void c.boot(s);
  }
}

function caughtUp(c: SimCluster): boolean {
  const live = c.slots.filter((s) => s.state !== 'removed');
  if (live.some((s) => s.state !== 'up')) return false;
  const leader = c.leader();
  if (!leader) return false;
  const commit = leader.member!.raftStatus().hardState.commit;
  return live.every((s) => s.member!.leaderId() === leader.rec.id && s.member!.appliedIndexNow() >= commit && s.member!.raftStatus().hardState.commit >= commit);
}

function convergence(c: SimCluster): string {
  return c.slots
    .map((s) => (s.member ? `m${s.index} ${s.state} lead ${s.member.leaderId().toString(16).slice(0, 6)} applied ${s.member.appliedIndexNow()} commit ${s.member.raftStatus().hardState.commit}` : `m${s.index} ${s.state}`))
    .join('; ');
}

/** Members with the same current and compact revision must hash alike (HashKV at that revision). */
function compareHashes(c: SimCluster, final: boolean): void {
  const live = c.live().filter((s) => !s.proc!.paused);
  const groups = new Map<string, Array<{ s: Slot; hash: number }>>();
  for (const s of live) {
    const sm = s.sm!;
    const rev = sm.currentRevision();
    const key = `${rev}/${sm.compactRevision()}`;
    const h = sm.hashKV(rev);
    const g = groups.get(key) ?? [];
    g.push({ s, hash: h.hash });
    groups.set(key, g);
  }
  for (const [key, g] of groups) {
    if (new Set(g.map((x) => x.hash)).size > 1) c.violations.push(`agreement: HashKV differs at revision/compact ${key}: ${g.map((x) => `m${x.s.index}=${x.hash}`).join(' ')}`);
  }
  if (final) {
    const revs = new Set(live.map((s) => s.sm!.currentRevision()));
    if (revs.size > 1) c.violations.push(`agreement: caught-up members end at different revisions: ${live.map((s) => `m${s.index}=${s.sm!.currentRevision()}`).join(' ')}`);
  }
}
