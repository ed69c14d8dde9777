// The Ready loop's send order on a leader: in a Ready that commits, the answers to the clients
// leave before raft's commit-index broadcast (entry-less appends), which waits one turn; each peer
// still gets its messages in raft's order. A stub RawNode hands out scripted Readys; the apply
// loop is the real one; "later on the loop" is a queue the test runs by hand.

import { describe, expect, it } from 'vitest';
import { EMPTY_SNAPSHOT, MemoryStorage } from '../raft/index.js';
import type { Entry, HardState, Message, RawNode, Ready } from '../raft/index.js';
import type { MemberStorage } from '../storage/types.js';
import { ApplyLoop } from './apply-loop.js';
import { ReadyLoop } from './ready-loop.js';
import type { Scheduler } from './scheduler.js';

const LEADER = 1n;

function msg(type: Message['type'], to: bigint, commit: number, entries: Entry[] = []): Message {
  return { type, to, from: LEADER, term: 2, logTerm: 2, index: 10, entries, commit, reject: false, rejectHint: 0 };
}

function entry(index: number, type: Entry['type'] = 'normal'): Entry {
  return { term: 2, index, type, data: new Uint8Array([index]) };
}

function ready(p: Partial<Ready>): Ready {
  return { readStates: [], entries: [], committedEntries: [], messages: [], mustSync: false, ...p };
}

/** Most tests follow sends and answers; advance() and persisted() are the in-flight tests' business. */
const notRaftCall = (e: string): boolean => !e.startsWith('advance') && !e.startsWith('persisted');

/** Lets every promise chain that is pending settle (a real turn of the event loop). */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * recordIo: storage writes and transport flushes show in events too. manualDisk: each write
 * stays pending until the test calls disk.finish(); role: the member's role (default leader).
 */
function harness(o: { recordIo?: boolean; manualDisk?: boolean; role?: 'leader' | 'follower' } = {}) {
  const events: string[] = [];
  const later: Array<() => void> = [];
  const readys: Ready[] = [];
  const scheduler: Scheduler = {
    nowMs: () => 0,
    monoMs: () => 0,
    after: () => () => undefined,
    every: () => () => undefined,
    soon: (fn) => void later.push(fn),
    yield: async () => undefined,
    sleep: async () => undefined,
  };
  /** ready()'s holdEntries argument, per call. */
  const holds: boolean[] = [];
  const node = {
    hasReady: () => readys.length > 0,
    ready: (hold = false) => (holds.push(hold), readys.shift()!),
    advance: (opts?: { persistedLater?: boolean }) => void events.push(`advance${opts?.persistedLater ? ' (persisted later)' : ''}`),
    persisted: (index: number, term: number) => void events.push(`persisted ${index}/${term}`),
    tick: () => void events.push('tick'),
  } as unknown as RawNode;
  const pendingWrites: Array<() => void> = [];
  const disk = {
    /** Ends the oldest pending write. */
    finish: (): void => pendingWrites.shift()!(),
    pending: (): number => pendingWrites.length,
  };
  const save = async (): Promise<void> => {
    if (o.recordIo) events.push('storage write');
    if (o.manualDisk) await new Promise<void>((r) => pendingWrites.push(r));
  };
  const storage = { save, saveSnapshot: async () => undefined } as unknown as MemberStorage;
  let applied = 0;
  const applyLoop = new ApplyLoop({
    scheduler,
    sliceMs: 1000,
    durableSeq: () => Number.MAX_SAFE_INTEGER,
    stopped: () => false,
    applyEntry: (e) => {
      applied = e.index;
      // The member answers the client through a promise chain (waiter, gRPC handler, encoder).
      void Promise.resolve()
        .then(() => undefined)
        .then(() => events.push(`answer ${e.index}`));
      return undefined;
    },
    applySnapshot: async () => undefined,
    afterSlice: () => loop.onApplied(applied),
    onFatal: (err) => events.push(`fatal ${String(err)}`),
    onIdle: () => undefined,
  });
  const hs: HardState = { term: 2, vote: LEADER, commit: 0 };
  const loop = new ReadyLoop({
    scheduler,
    node,
    raftStorage: new MemoryStorage({ ...EMPTY_SNAPSHOT, metadata: { ...EMPTY_SNAPSHOT.metadata, index: 11, term: 2 } }),
    storage,
    applyLoop,
    savedTerm: 2,
    savedVote: LEADER,
    send: (msgs) => {
      for (const m of msgs) events.push(`${m.type} to ${m.to} commit ${m.commit}${m.entries.length > 0 ? ` entries ${m.entries.map((e) => e.index).join(',')}` : ''}`);
    },
    flushSends: () => void (o.recordIo && events.push('flush')),
    role: () => o.role ?? 'leader',
    appliedIndex: () => applied,
    stopped: () => false,
    fatal: () => false,
    flushProposals: () => undefined,
    onSoftState: () => undefined,
    onHardState: () => undefined,
    onReadState: () => undefined,
    redeliver: () => undefined,
    die: (reason, err) => events.push(`die ${reason} ${String(err)}`),
  });
  /** Runs the loop over `rs`, then every promise chain it set off (not the queued turns). */
  const run = async (...rs: Ready[]): Promise<void> => {
    readys.push(...rs);
    loop.schedule();
    while (later.length > 0 && readys.length > 0) later.shift()!();
    await settle();
  };
  /** Runs the turns queued with soon() (and what they set off). */
  const nextTurn = async (): Promise<void> => {
    const fns = later.splice(0);
    for (const fn of fns) fn();
    await settle();
  };
  return { events, run, nextTurn, hs, loop, readys, later, holds, disk };
}

describe('ReadyLoop on a leader: answers before the commit-index broadcast', () => {
  it('applies and answers a committed entry before sending the entry-less appends that carry the commit', async () => {
    const h = harness();
    await h.run(ready({ hardState: { ...h.hs, commit: 11 }, committedEntries: [entry(11)], messages: [msg('app', 2n, 11), msg('app', 3n, 11)] }));
    expect(h.events.filter(notRaftCall)).toEqual(['answer 11']);
    await h.nextTurn();
    expect(h.events.filter(notRaftCall)).toEqual(['answer 11', 'app to 2 commit 11', 'app to 3 commit 11']);
  });

  it('sends appends with entries and heartbeats at once, and a held append ahead of any later message to its peer', async () => {
    const h = harness();
    // Peer 2 gets a new entry (not held); peer 3 only the commit (held).
    await h.run(ready({ hardState: { ...h.hs, commit: 11 }, committedEntries: [entry(11)], entries: [entry(12)], mustSync: true, messages: [msg('app', 2n, 11, [entry(12)]), msg('app', 3n, 11)] }));
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 11 entries 12', 'answer 11']);
    // The next Ready (before the held turn ran) sends a heartbeat to peer 3: the held append goes first.
    await h.run(ready({ messages: [msg('heartbeat', 3n, 11)] }));
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 11 entries 12', 'answer 11', 'app to 3 commit 11', 'heartbeat to 3 commit 11']);
    await h.nextTurn();
    expect(h.events.filter(notRaftCall)).toHaveLength(4);
  });

  it('holds an entry-less append only when it is the last message of the Ready to its peer', async () => {
    const h = harness();
    await h.run(ready({ hardState: { ...h.hs, commit: 11 }, committedEntries: [entry(11)], messages: [msg('app', 2n, 11), msg('heartbeat', 2n, 11), msg('app', 3n, 11)] }));
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 11', 'heartbeat to 2 commit 11', 'answer 11']);
    await h.nextTurn();
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 11', 'heartbeat to 2 commit 11', 'answer 11', 'app to 3 commit 11']);
  });

  it('sends the commit at once in a Ready that commits a conf change (a member it removes must still hear of it)', async () => {
    const h = harness();
    await h.run(ready({ hardState: { ...h.hs, commit: 11 }, committedEntries: [entry(11, 'confChange')], messages: [msg('app', 2n, 11), msg('app', 3n, 11)] }));
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 11', 'app to 3 commit 11', 'answer 11']);
  });

  it('sends entry-less appends at once when nothing is committed (a probe or a full pipeline)', async () => {
    const h = harness();
    await h.run(ready({ messages: [msg('app', 2n, 10)] }));
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 10']);
  });
});

describe('ReadyLoop.scheduleAtOnce: a lone proposal reaches raft in this turn', () => {
  /** Lets pending microtasks (and the promise chains they start) run, but no later turn. */
  const microtasks = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  it('runs the loop when the microtasks are done, without waiting for a later turn', async () => {
    const h = harness();
    h.readys.push(ready({ entries: [entry(12)], mustSync: true, messages: [msg('app', 2n, 11, [entry(12)])] }));
    h.loop.scheduleAtOnce();
    await microtasks();
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 11 entries 12']);
    expect(h.later).toHaveLength(0);
  });

  it('schedule() waits for a later turn, and scheduleAtOnce after it adds no second run', async () => {
    const h = harness();
    h.readys.push(ready({ entries: [entry(12)], mustSync: true, messages: [msg('app', 2n, 11, [entry(12)])] }));
    h.loop.schedule();
    h.loop.scheduleAtOnce();
    await microtasks();
    expect(h.events.filter(notRaftCall)).toEqual([]);
    await h.nextTurn();
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 11 entries 12']);
  });
});

describe('ReadyLoop on a leader: the appends are written before its own WAL write', () => {
  it('flushes the transport after sending new entries and before storage.save', async () => {
    const h = harness({ recordIo: true });
    await h.run(ready({ entries: [entry(12)], mustSync: true, messages: [msg('app', 2n, 11, [entry(12)]), msg('app', 3n, 11, [entry(12)])] }));
    expect(h.events.filter(notRaftCall)).toEqual(['app to 2 commit 11 entries 12', 'app to 3 commit 11 entries 12', 'flush', 'storage write']);
  });

  it('does not flush for a Ready without new entries (commit-only: nothing to hurry)', async () => {
    const h = harness({ recordIo: true });
    await h.run(ready({ hardState: { ...h.hs, commit: 11 }, messages: [msg('heartbeat', 2n, 11)] }));
    expect(h.events.filter(notRaftCall)).toEqual(['heartbeat to 2 commit 11', 'storage write']);
  });
});

describe("ReadyLoop on a leader: its own write in flight does not hold up a commit the followers made", () => {
  it('advances before the write is durable, takes the next Ready holding new entries, and reports the entries persisted after the write', async () => {
    const h = harness({ manualDisk: true });
    await h.run(ready({ entries: [entry(12)], mustSync: true, messages: [msg('app', 2n, 11, [entry(12)]), msg('app', 3n, 11, [entry(12)])] }));
    expect(h.events).toEqual(['app to 2 commit 11 entries 12', 'app to 3 commit 11 entries 12', 'advance (persisted later)']);
    expect(h.disk.pending()).toBe(1);
    // Both followers acked: raft commits 12 without the leader's copy; the loop applies and answers it now.
    await h.run(ready({ hardState: { ...h.hs, commit: 12 }, committedEntries: [entry(12)] }));
    expect(h.holds).toEqual([false, true]);
    expect(h.events.slice(3)).toEqual(['advance (persisted later)', 'answer 12']);
    expect(h.events).not.toContain('persisted 12/2');
    h.disk.finish();
    await settle();
    expect(h.events.at(-1)).toBe('persisted 12/2');
    // Nothing in flight any more: the next Ready may carry new entries.
    h.disk.finish();
    await h.run(ready({ entries: [entry(13)], mustSync: true }));
    expect(h.holds.at(-1)).toBe(false);
  });

  it('owes a tick that comes while its write is in flight, and gives it to raft once the write is durable', async () => {
    const h = harness({ manualDisk: true });
    await h.run(ready({ entries: [entry(12)], mustSync: true }));
    h.loop.tick();
    expect(h.events).not.toContain('tick');
    h.disk.finish();
    await settle();
    expect(h.events.slice(-2)).toEqual(['persisted 12/2', 'tick']);
  });

  it("a follower's Ready still waits for its write before advance()", async () => {
    const h = harness({ manualDisk: true, role: 'follower' });
    await h.run(ready({ entries: [entry(12)], mustSync: true, messages: [{ ...msg('appResp', LEADER, 11), from: 2n }] }));
    expect(h.events).toEqual([]);
    h.disk.finish();
    await settle();
    expect(h.events).toEqual(['appResp to 1 commit 11', 'advance']);
  });
});
