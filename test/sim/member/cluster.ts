// N real members (node/runtime's Member, the MVCC state machine, storage on MemoryFs) in one
// process on simulated time, wired by the simulated network. The harness can crash a member
// (a power cut: unsynced writes lost, or a random prefix kept with the last one torn), restart it
// from its disk, make its disk fail (ENOSPC, EIO) or corrupt a write just before a crash, pause
// it, and skew its clock. Every applied entry is recorded by index, so the harness can tell that
// every member applied the same command at the same index, and when an entry was first applied.

import { createHash } from 'node:crypto';
import { silentLogger, createLogger } from '../../../node/log.js';
import { encodeCommand } from '../../../node/mvcc/codec.js';
import type * as mvcc from '../../../node/mvcc/types.js';
import { clusterIdOf, memberIdOf } from '../../../node/runtime/ids.js';
import { Member } from '../../../node/runtime/member.js';
import type { MemberRecord } from '../../../node/runtime/membership.js';
import { MvccStateMachine } from '../../../node/runtime/mvcc-adapter.js';
import { errnoError, MemoryFs, openStorage, withFaults, type WalFs } from '../../../node/storage/index.js';
import type { SimRng } from '../rng.js';
import { SimNetwork } from './net.js';
import { SimProcess, type World } from './world.js';

export interface MemberTiming {
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly snapshotCount: number;
  readonly snapshotCatchUpEntries: number;
  readonly snapshotLogBytes?: number;
  readonly snapshotCatchUpBytes?: number;
  readonly hotLogEntries?: number;
}

/** What one applied entry did, as the first member to apply it saw it. */
export interface AppliedRecord {
  readonly index: number;
  readonly digest: string;
  readonly cmd: mvcc.Command;
  readonly firstAtMs: number;
  /** The store's revision before and after (a lease revoke that deleted keys moves it by one). */
  readonly revBefore: number;
  readonly revAfter: number;
  readonly ok: boolean;
}

/** The state machine, observed: each apply is reported to the cluster. */
class ObservedStateMachine extends MvccStateMachine {
  constructor(
    monoMs: () => number,
    private readonly onApply: (cmd: mvcc.Command, index: number, before: number, after: number, ok: boolean) => void,
  ) {
    super({ quotaBackendBytes: 1 << 30, minLeaseTtlSec: 1 }, monoMs);
  }
  override apply(cmd: mvcc.Command, index: number): mvcc.CommandResponse {
    const before = this.currentRevision();
    const r = super.apply(cmd, index);
    this.onApply(cmd, index, before, this.currentRevision(), (r as unknown as { ok?: boolean }).ok !== false);
    return r;
  }
}

export type DiskFault = 'ENOSPC' | 'EIO';

export class Slot {
  proc: SimProcess | undefined;
  member: Member | undefined;
  sm: MvccStateMachine | undefined;
  incarnation = 0;
  state: 'down' | 'booting' | 'up' | 'removed' = 'down';
  diskFault: DiskFault | undefined;
  /** The next WAL write is corrupted and the machine loses power right after it. */
  corruptNextWrite = false;
  readonly fs = new MemoryFs();
  constructor(
    readonly index: number,
    readonly rec: MemberRecord,
    public rate: number,
    public offsetMs: number,
    /** The members it was told of when it joined (empty for an original member). */
    readonly joinHints: MemberRecord[] | undefined,
  ) {}
}

export class SimCluster {
  readonly net: SimNetwork;
  readonly slots: Slot[] = [];
  readonly clusterId: bigint;
  /** index -> what was applied there (first member to apply it). */
  readonly applied = new Map<number, AppliedRecord>();
  readonly violations: string[] = [];
  /** Faults injected, by kind. */
  readonly faults = new Map<string, number>();
  /** Entries members' raft logs read back from their WALs, by members no longer running. */
  private walReadsGone = 0;

  /** Entries every member's raft log has read back from its WAL so far (memory-storage.ts, "Cold entries"). */
  raftLogWalReads(): number {
    let n = this.walReadsGone;
    for (const s of this.slots) n += s.member?.raftLogWalReads() ?? 0;
    return n;
  }
  /** Planted bug (falsification): fdatasync does nothing, so an acknowledged write can be lost. */
  lyingDisk = false;
  /**
   * How long an fdatasync takes, in simulated ms (0: it ends at once). The data becomes durable
   * at the end, so a crash meanwhile loses it; while it runs a leader's followers can ack, and
   * raft may commit on them alone. Drawn from a stream of its own (diskRng).
   */
  fsyncMs: ((slot: number) => number) | undefined = undefined;
  /** A line per notable event, hashed into the run's fingerprint. */
  readonly trace: string[] = [];
  private readonly initial: MemberRecord[];

  constructor(
    readonly world: World,
    readonly rng: SimRng,
    readonly size: number,
    readonly timing: MemberTiming,
    readonly skew: { maxRateDelta: number; maxOffsetMs: number },
    /** CPU cost of each clock reading in a member (see SimProcess). */
    private readonly readCostMs: number,
    private readonly verbose = false,
  ) {
    this.net = new SimNetwork(world, rng.fork(1));
    this.initial = Array.from({ length: size }, (_, i) => this.record(i));
    this.clusterId = clusterIdOf(this.initial.map((r) => r.id));
    for (const r of this.initial) this.addSlot(r, undefined);
  }

  private record(i: number): MemberRecord {
    const peerUrls = [`http://m${i}.sim:2380`];
    return { id: memberIdOf(peerUrls, 'sim'), name: `m${i}`, peerUrls, clientUrls: [`http://m${i}.sim:2379`], isLearner: false };
  }

  private addSlot(rec: MemberRecord, joinHints: MemberRecord[] | undefined): Slot {
    const d = this.skew.maxRateDelta;
    const rate = 1 + (this.rng.float() * 2 - 1) * d;
    const offset = Math.round((this.rng.float() * 2 - 1) * this.skew.maxOffsetMs);
    const s = new Slot(this.slots.length, rec, rate, offset, joinHints);
    this.slots.push(s);
    return s;
  }

  /** A new, empty member that will join as a learner (its id is what MemberAdd answered). */
  newJoiner(rec: MemberRecord): Slot {
    const hints = this.slots.filter((s) => s.state !== 'removed').map((s) => s.rec);
    return this.addSlot(rec, hints);
  }

  nextPeerUrl(): string {
    return `http://m${this.slots.length}.sim:2380`;
  }

  note(line: string): void {
    this.trace.push(`${this.world.now.toFixed(3)} ${line}`);
    if (this.verbose) console.log(`[${(this.world.now / 1000).toFixed(3)}s] ${line}`);
  }

  count(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  live(): Slot[] {
    return this.slots.filter((s) => s.state === 'up' && s.member !== undefined);
  }

  leader(): Slot | undefined {
    return this.live().find((s) => s.member!.roleNow() === 'leader' && !s.proc!.paused);
  }

  /** The faults a disk can have, over the process's view of the MemoryFs. */
  private disk(slot: Slot): WalFs {
    const faulty = withFaults(slot.fs.process(), (op) => {
      if (slot.diskFault && (op === 'writev' || op === 'datasync' || op === 'open')) return errnoError(slot.diskFault, `simulated ${slot.diskFault}`);
      return undefined;
    });
    return {
      ...faulty,
      open: async (path, mode) => {
        const f = await faulty.open(path, mode);
        return {
          ...f,
          datasync: () => {
            if (this.lyingDisk) return Promise.resolve();
            const ms = this.fsyncMs?.(slot.index) ?? 0;
            if (ms === 0) return f.datasync();
            const proc = slot.proc!;
            return new Promise<void>((resolve, reject) => void proc.after(ms, () => f.datasync().then(resolve, reject)));
          },
          writev: async (chunks, position) => {
            if (!slot.corruptNextWrite || !path.includes('wal')) return f.writev(chunks, position);
            slot.corruptNextWrite = false;
            // A torn write with garbage at its end: the power fails part-way through it and the
            // last bytes that reach the disk are damaged. Only the unsynced tail is hit (the
            // flipped byte is within the last 7 bytes kept, so no complete record follows it and
            // no record with an intact trailer contains it): storage must cut it and start.
            const bytes = Buffer.concat(chunks.map((c) => Buffer.from(c)));
            if (bytes.length > 1) {
              const cut = 1 + this.rng.intn(bytes.length - 1);
              const at = Math.max(0, cut - 1 - this.rng.intn(7));
              const bad = Uint8Array.from(bytes.subarray(0, cut));
              bad[at] = bad[at]! ^ (1 + this.rng.intn(255));
              await f.writev([bad], position);
              this.note(`m${slot.index}: a WAL write torn at ${cut} of ${bytes.length} bytes, byte ${at} damaged; power lost`);
            }
            this.crash(slot, 'corrupt-write', true);
          },
        };
      },
    };
  }

  async boot(slot: Slot): Promise<void> {
    // One process per member: never a second start while one runs.
    if (slot.state !== 'down') return;
    slot.incarnation++;
    const inc = slot.incarnation;
    slot.state = 'booting';
    const proc = new SimProcess(this.world, `m${slot.index}`, slot.rate, slot.offsetMs, this.readCostMs);
    slot.proc = proc;
    let opened;
    try {
      opened = await openStorage('/data', { fs: this.disk(slot), segmentSizeBytes: 64 * 1024 });
    } catch (err) {
      // Crashed while opening its disk: the crash already took the slot down.
      if (slot.incarnation !== inc) return;
      if (slot.diskFault) {
        // The disk still fails: stay down; the nemesis restarts it after the fault clears.
        slot.state = 'down';
        proc.kill();
        return;
      }
      this.violations.push(`m${slot.index} could not restart from its disk: ${(err as Error).message}`);
      slot.state = 'down';
      proc.kill();
      return;
    }
    const sm = new ObservedStateMachine(
      () => proc.monoMs(),
      (cmd, index, before, after, ok) => this.onApply(slot, cmd, index, before, after, ok),
    );
    const logger = process.env['SIM_LOG'] ? createLogger({ component: `m${slot.index}`, level: 'debug' }) : silentLogger;
    const member = new Member({
      id: slot.rec.id,
      clusterId: this.clusterId,
      name: slot.rec.name,
      clientUrls: slot.rec.clientUrls,
      peerUrls: slot.rec.peerUrls,
      clusterToken: 'sim',
      heartbeatIntervalMs: this.timing.heartbeatMs,
      electionTimeoutMs: this.timing.electionMs,
      snapshotCount: this.timing.snapshotCount,
      snapshotCatchUpEntries: this.timing.snapshotCatchUpEntries,
      ...(this.timing.snapshotLogBytes !== undefined ? { snapshotLogBytes: this.timing.snapshotLogBytes } : {}),
      ...(this.timing.snapshotCatchUpBytes !== undefined ? { snapshotCatchUpBytes: this.timing.snapshotCatchUpBytes } : {}),
      ...(this.timing.hotLogEntries !== undefined ? { hotLogEntries: this.timing.hotLogEntries } : {}),
      maxLearners: 1,
      quotaBackendBytes: 1 << 30,
      logger,
      storage: opened.storage,
      recovered: opened.recovered,
      initialMembers: slot.joinHints ? [] : this.initial,
      peerHints: slot.joinHints ?? [],
      stateMachine: sm,
      makeTransport: (h) => this.net.transport(slot.rec.id, proc, h),
      seed: this.rng.intn(2 ** 31),
      scheduler: proc,
      onFatal: (reason) => this.onFatal(slot, inc, reason),
    });
    if (slot.incarnation !== inc) return;
    slot.member = member;
    slot.sm = sm;
    try {
      await member.start();
    } catch (err) {
      // What it wrote does not load (a hard state ahead of its log was one): a bug, not a crash.
      if (slot.incarnation !== inc) return;
      if (!slot.diskFault) this.violations.push(`m${slot.index} could not start from its disk: ${(err as Error).message}`);
      slot.state = 'down';
      proc.kill();
      return;
    }
    if (slot.incarnation === inc && slot.state === 'booting') slot.state = 'up';
    this.note(`m${slot.index}: started (incarnation ${inc}, recovered commit ${opened.recovered.hardState.commit}, ${opened.recovered.entries.length} entries)`);
  }

  private onApply(slot: Slot, cmd: mvcc.Command, index: number, before: number, after: number, ok: boolean): void {
    const digest = createHash('sha256').update(encodeCommand(cmd)).digest('hex').slice(0, 16);
    const seen = this.applied.get(index);
    if (!seen) {
      if (cmd.type === 'leaseRevoke') this.note(`m${slot.index} applies the revoke of lease ${cmd.req.ID.toString(16)} at index ${index} first`);
      this.applied.set(index, { index, digest, cmd, firstAtMs: this.world.now, revBefore: before, revAfter: after, ok });
      return;
    }
    if (seen.digest !== digest || seen.revAfter !== after || seen.revBefore !== before || seen.ok !== ok) {
      this.violations.push(`agreement: m${slot.index} applied ${cmd.type} at index ${index} (rev ${before}->${after}, ok ${ok}) but another member applied ${seen.cmd.type} (rev ${seen.revBefore}->${seen.revAfter}, ok ${seen.ok})`);
    }
  }

  private onFatal(slot: Slot, inc: number, reason: string): void {
    if (slot.incarnation !== inc) return;
    this.note(`m${slot.index}: fatal: ${reason}`);
    if (reason.includes('removed from the cluster')) {
      slot.state = 'removed';
      slot.proc?.kill();
      this.net.detach(slot.rec.id);
      return;
    }
    // A member stops itself only when its disk fails; any other reason is a bug (a snapshot at an
    // index its raft log did not hold yet was one).
    if (!slot.diskFault) this.violations.push(`m${slot.index} stopped itself without a disk fault: ${reason}`);
    // The process exits; what it had not synced is gone with it (stricter than a real exit).
    this.crash(slot, 'exit', false);
  }

  /** The member left the cluster (its removal was answered): it is gone for good. */
  retire(slot: Slot): void {
    if (slot.state === 'removed') return;
    slot.proc?.kill();
    this.net.detach(slot.rec.id);
    slot.state = 'removed';
    this.walReadsGone += slot.member?.raftLogWalReads() ?? 0;
    slot.member = undefined;
    this.note(`m${slot.index}: retired (removed from the cluster)`);
  }

  /** A power cut: the process dies; unsynced writes are lost, or (tear) partly kept, the last torn. */
  crash(slot: Slot, why: string, tear: boolean): void {
    if (slot.state === 'removed' || slot.state === 'down') return;
    slot.proc?.kill();
    this.net.detach(slot.rec.id);
    slot.fs.crash(tear ? { tear: true, rng: this.rng } : {});
    slot.state = 'down';
    this.walReadsGone += slot.member?.raftLogWalReads() ?? 0;
    slot.member = undefined;
    slot.incarnation++;
    this.note(`m${slot.index}: crashed (${why}${tear ? ', torn' : ''})`);
  }
}
