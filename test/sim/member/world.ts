// Simulated time for whole members: one event queue for the run, and one Scheduler per member
// process (node/runtime/scheduler.ts), so the real runtime runs on it unchanged. Determinism: the
// members' code does no real I/O (MemoryFs, the simulated network) and takes every timer and
// "later" from its Scheduler; the world runs one task at a time, in (time, sequence) order, and
// after each one lets the JavaScript job queue drain (one real setImmediate), so every promise the
// task set off settles before the next task starts. Same seed, same order, same run.
//
// A process can be paused (SIGSTOP: its timers and arriving messages wait, then all run at once),
// killed (everything it scheduled is dropped), and skewed: its clocks run at `rate` (and its wall
// clock is offset), and its timers fire by its own clock.

import type { Scheduler } from '../../../node/runtime/scheduler.js';
import { EventQueue } from '../event-queue.js';

interface Task {
  at: number;
  owner: SimProcess | undefined;
  fn: () => void;
  cancelled: boolean;
}

const realTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

export class World {
  /** Simulated milliseconds since the run began. */
  now = 0;
  private readonly queue = new EventQueue<Task>();
  /** Tasks run so far. */
  steps = 0;
  /** A throw from a task (the members catch their own; this is a harness or runtime bug). */
  readonly errors: string[] = [];

  enqueue(at: number, owner: SimProcess | undefined, fn: () => void): Task {
    const t: Task = { at: Math.max(at, this.now), owner, fn, cancelled: false };
    this.queue.push(t.at, t);
    return t;
  }

  /** A task of the harness itself (not paused or killed with any member). */
  at(ms: number, fn: () => void): void {
    this.enqueue(ms, undefined, fn);
  }

  /** Runs tasks until simulated time `until` (or `stop` says so); false when the step budget ran out. */
  async runUntil(until: number, maxSteps: number, stop?: () => boolean): Promise<boolean> {
    for (let next = this.queue.peekTime(); next !== undefined && next <= until; next = this.queue.peekTime()) {
      if (stop?.()) return true;
      if (this.steps >= maxSteps) return false;
      const t = this.queue.pop()!.ev;
      if (t.cancelled) continue;
      const p = t.owner;
      if (p && !p.alive) continue;
      if (p && p.paused) {
        p.held.push(t);
        continue;
      }
      this.now = t.at;
      this.steps++;
      try {
        t.fn();
      } catch (err) {
        this.errors.push(`task threw at ${this.now.toFixed(1)} ms: ${(err as Error)?.stack ?? String(err)}`);
      }
      await realTurn();
    }
    if (!stop?.()) this.now = Math.max(this.now, until);
    return true;
  }

  /** Lets pending promise chains settle without running any task. */
  settle(): Promise<void> {
    return realTurn();
  }
}

/** One member process's view of time. */
export class SimProcess implements Scheduler {
  alive = true;
  paused = false;
  /** Tasks that came due while paused, in order. */
  held: Task[] = [];

  constructor(
    readonly world: World,
    readonly name: string,
    /** How fast this process's clocks run against simulated time (clock skew). */
    readonly rate = 1,
    /** Wall-clock offset (ms). */
    readonly offsetMs = 0,
    /**
     * Simulated CPU time each monoMs() reading costs: the runtime's time slices (apply, compaction,
     * snapshots) then end and yield, deterministically, so apply lags the log as on a busy machine.
     */
    readonly readCostMs = 0,
  ) {}

  /** CPU time spent within the current instant of simulated time (cpuAt), and the last reading. */
  private cpuMs = 0;
  private cpuAt = -1;
  private lastMonoMs = 0;

  nowMs(): number {
    return 1_700_000_000_000 + this.offsetMs + this.world.now * this.rate;
  }
  monoMs(): number {
    // The CPU cost counts within one instant only: the world's time does not advance with it, so
    // piled up across instants it would make this clock run fast without bound (and leases, which
    // run on it, expire early against the checker's clock-rate allowance). max keeps it monotonic.
    if (this.world.now !== this.cpuAt) {
      this.cpuAt = this.world.now;
      this.cpuMs = 0;
    }
    this.cpuMs += this.readCostMs;
    this.lastMonoMs = Math.max(this.lastMonoMs, this.world.now * this.rate + this.cpuMs);
    return this.lastMonoMs;
  }
  after(ms: number, fn: () => void): () => void {
    const t = this.world.enqueue(this.world.now + Math.max(0, ms) / this.rate, this, fn);
    return () => {
      t.cancelled = true;
    };
  }
  every(ms: number, fn: () => void): () => void {
    let cancel = (): void => {};
    let stopped = false;
    const arm = (): void => {
      cancel = this.after(ms, () => {
        if (stopped) return;
        arm();
        fn();
      });
    };
    arm();
    return () => {
      stopped = true;
      cancel();
    };
  }
  soon(fn: () => void): void {
    this.world.enqueue(this.world.now, this, fn);
  }
  yield(): Promise<void> {
    return new Promise((r) => this.soon(r));
  }
  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.after(ms, r));
  }

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const t of held) if (!t.cancelled) this.world.enqueue(this.world.now, this, t.fn);
  }
  kill(): void {
    this.alive = false;
    this.held = [];
  }
}
