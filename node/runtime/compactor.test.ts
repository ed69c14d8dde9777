// Physical compaction held back by a pinned reader (a raft snapshot being written, a long range)
// must resume on its own once the pin goes, with no apply to kick it, and waitIdle (what
// `compact --physical` and Defragment wait on) must not resolve before the work is done.
import { describe, expect, it } from 'vitest';
import { MvccStore } from '../mvcc/index.js';
import { Compactor, HELD_COMPACTION_RETRY_MS } from './compactor.js';
import type { Scheduler } from './scheduler.js';

/** Timers run only when the test advances the clock. */
class ManualScheduler implements Scheduler {
  private now = 0;
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  nowMs(): number {
    return this.now;
  }
  monoMs(): number {
    return this.now;
  }
  after(ms: number, fn: () => void): () => void {
    const t = { at: this.now + ms, fn, live: true };
    this.timers.push(t);
    return () => {
      t.live = false;
    };
  }
  every(): () => void {
    throw new Error('not used');
  }
  soon(fn: () => void): void {
    this.after(0, fn);
  }
  yield(): Promise<void> {
    return Promise.resolve();
  }
  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.after(ms, r));
  }
  pendingTimers(): number {
    return this.timers.filter((t) => t.live).length;
  }
  /** Moves the clock on, running due timers, and lets the compactor's promises settle. */
  async advance(ms: number): Promise<void> {
    this.now += ms;
    for (const t of this.timers.filter((x) => x.live && x.at <= this.now)) {
      t.live = false;
      t.fn();
    }
    this.timers = this.timers.filter((t) => t.live);
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

function setup(): { store: MvccStore; sched: ManualScheduler; compactor: Compactor; stop: () => void; idle: { n: number } } {
  const store = new MvccStore();
  const sched = new ManualScheduler();
  let stopped = false;
  const idle = { n: 0 };
  const compactor = new Compactor({
    scheduler: sched,
    sm: {
      compactStep: (n) => store.compactStep(n),
      physicalCompactionPending: () => store.physicalCompactionPending(),
      compactRevision: () => store.compactRevision(),
      currentRevision: () => store.currentRevision(),
      stats: () => store.stats,
    },
    sliceMs: 10,
    electionTimeoutMs: 1000,
    stopped: () => stopped,
    isLeader: () => true,
    proposeCompaction: () => {},
    onFatal: (err) => {
      throw err;
    },
    onIdle: () => idle.n++,
  });
  return { store, sched, compactor, stop: () => (stopped = true), idle };
}

/** 20 puts over 5 keys: revisions 2..21, each key written 4 times. */
function fill(store: MvccStore): void {
  for (let i = 0; i < 20; i++) store.apply({ type: 'put', req: { key: Buffer.from(`k${i % 5}`), value: Buffer.alloc(100, i) } }, i + 1);
}

describe('compactor: compaction held back by a pinned reader', () => {
  it('resumes after the pin is released, with no apply in between, and waitIdle waits for it', async () => {
    const { store, sched, compactor, idle } = setup();
    fill(store);
    const unpin = store.pin(store.compactRevision()); // a snapshot started before the compaction
    const before = store.sizeBytes();
    store.apply({ type: 'compaction', req: { revision: store.currentRevision() } }, 21);
    compactor.kick();
    await sched.advance(0);
    expect(store.physicalCompactionPending()).toBe(true);
    expect(store.sizeBytes()).toBe(before); // nothing dropped while pinned
    let waited = false;
    void compactor.waitIdle().then(() => (waited = true));
    await sched.advance(HELD_COMPACTION_RETRY_MS);
    expect(waited).toBe(false); // still held
    expect(idle.n).toBe(0); // no auto-defragment while compaction is unfinished
    unpin();
    await sched.advance(HELD_COMPACTION_RETRY_MS);
    expect(store.physicalCompactionPending()).toBe(false);
    expect(store.sizeBytes()).toBeLessThan(before);
    expect(waited).toBe(true);
    expect(idle.n).toBe(1);
    expect(sched.pendingTimers()).toBe(0); // no retry once done
  });

  it('waitIdle resolves at once when nothing is pending; a stop releases waiters and ends the retries', async () => {
    const { store, sched, compactor, stop } = setup();
    fill(store);
    let waited = false;
    await compactor.waitIdle(); // nothing running or held
    store.pin(0); // never released
    store.apply({ type: 'compaction', req: { revision: store.currentRevision() } }, 21);
    compactor.kick();
    await sched.advance(0);
    void compactor.waitIdle().then(() => (waited = true));
    await sched.advance(HELD_COMPACTION_RETRY_MS);
    expect(waited).toBe(false);
    stop();
    await sched.advance(HELD_COMPACTION_RETRY_MS);
    expect(waited).toBe(true);
    expect(sched.pendingTimers()).toBe(0);
  });
});
