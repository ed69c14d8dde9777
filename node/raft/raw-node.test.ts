import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.js';
import { RawNode } from './raw-node.js';
import { SeededRng } from './rand.js';
import { encodeConfChange } from './conf-change.js';
import { newMessage } from './message.js';
import { ProposalDroppedError, StepLocalMessageError, type Entry, type NodeId, type Ready } from './types.js';

const enc = new TextEncoder();

function boot(id: NodeId, voters: NodeId[], storage?: MemoryStorage, applied = 0): { rn: RawNode; st: MemoryStorage } {
  const st = storage ?? new MemoryStorage({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters, learners: [] } } });
  return { rn: new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage: st, rng: new SeededRng(Number(id)), applied }), st };
}

/** Persist, then "apply", then advance; returns the Ready. */
function handle(rn: RawNode, st: MemoryStorage): Ready {
  const rd = rn.ready();
  if (rd.snapshot !== undefined) st.applySnapshot(rd.snapshot);
  st.append(rd.entries);
  if (rd.hardState !== undefined) st.setHardState(rd.hardState);
  rn.advance();
  return rd;
}

describe('RawNode', () => {
  it('a single-voter cluster elects itself and commits a proposal', () => {
    const { rn, st } = boot(1n, [1n]);
    rn.campaign();
    const rd1 = handle(rn, st);
    expect(rd1.softState).toEqual({ lead: 1n, raftState: 'leader' });
    expect(rd1.mustSync).toBe(true);
    expect(rd1.committedEntries).toEqual([]); // the leader's own entry counts once persisted
    const rd1b = handle(rn, st);
    expect(rd1b.committedEntries.map((e) => e.index)).toEqual([1]);
    rn.propose(enc.encode('x'));
    const rd2 = handle(rn, st);
    expect(rd2.entries.map((e) => e.index)).toEqual([2]);
    expect(rd2.committedEntries).toEqual([]);
    const rd3 = handle(rn, st);
    expect(rd3.committedEntries.map((e) => e.index)).toEqual([2]);
    expect(rn.hasReady()).toBe(false);
    expect(rn.status().applied).toBe(2);
  });

  it('refuses local message types in step()', () => {
    const { rn } = boot(1n, [1n, 2n, 3n]);
    for (const t of ['hup', 'beat', 'unreachable', 'snapStatus', 'checkQuorum'] as const) {
      expect(() => rn.step(newMessage(t, 1n, 2n))).toThrow(StepLocalMessageError);
    }
  });

  it('drops a proposal with a typed error when there is no leader', () => {
    const { rn } = boot(1n, [1n, 2n, 3n]);
    expect(() => rn.propose(enc.encode('x'))).toThrow(ProposalDroppedError);
  });

  it('forwardProposals: a follower hands back the prop message for its leader at once, and raft sends nothing itself', () => {
    const { rn, st } = boot(2n, [1n, 2n, 3n]);
    expect(rn.forwardProposals([enc.encode('x')])).toBeUndefined(); // no leader yet
    rn.step({ ...newMessage('heartbeat', 2n, 1n), term: 1 });
    handle(rn, st);
    const m = rn.forwardProposals([enc.encode('x'), enc.encode('y')]);
    expect(m && { type: m.type, to: m.to, from: m.from, term: m.term, data: m.entries.map((e) => new TextDecoder().decode(e.data)) }).toEqual({
      type: 'prop',
      to: 1n,
      from: 2n,
      term: 0,
      data: ['x', 'y'],
    });
    expect(rn.hasReady()).toBe(false);
    // The same proposal made through raft leaves in a Ready as the same message.
    rn.proposeBatch([enc.encode('x'), enc.encode('y')]);
    const viaRaft = rn.ready().messages;
    expect(viaRaft.map((x) => ({ type: x.type, to: x.to, entries: x.entries.length }))).toEqual([{ type: 'prop', to: 1n, entries: 2 }]);
  });

  it('forwardProposals: a leader or a candidate forwards nothing', () => {
    const { rn, st } = boot(1n, [1n]);
    rn.campaign();
    handle(rn, st);
    expect(rn.forwardProposals([enc.encode('x')])).toBeUndefined();
    const c = boot(1n, [1n, 2n, 3n]);
    c.rn.campaign();
    handle(c.rn, c.st);
    expect(c.rn.forwardProposals([enc.encode('x')])).toBeUndefined();
  });

  it('requires advance() between ready() calls', () => {
    const { rn } = boot(1n, [1n]);
    rn.campaign();
    rn.ready();
    expect(() => rn.ready()).toThrow(/before advance/);
  });

  it('mustSync: a pre-vote does not need fsync, a term/vote change or new entries do, a commit-only change does not', () => {
    const pv = boot(1n, [1n, 2n]);
    pv.rn.campaign(); // pre-vote on by default: no term change yet
    expect(handle(pv.rn, pv.st).mustSync).toBe(false);

    const st = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters: [1n, 2n], learners: [] } } });
    const rn = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage: st, rng: new SeededRng(1), preVote: false });
    rn.campaign();
    expect(handle(rn, st).mustSync).toBe(true); // term and vote
    const vr = newMessage('voteResp', 1n, 2n);
    vr.term = 1;
    rn.step(vr);
    const lead = handle(rn, st);
    expect(lead.entries.length).toBe(1);
    expect(lead.mustSync).toBe(true); // the leader's empty entry
    const ack = newMessage('appResp', 1n, 2n);
    ack.term = 1;
    ack.index = 1;
    rn.step(ack);
    const commit = handle(rn, st);
    expect(commit.hardState?.commit).toBe(1);
    expect(commit.mustSync).toBe(false);
  });

  it('every message raft sends carries an entries array of its own that V8 can iterate fast (not a shared frozen one)', () => {
    // Why: raft/message.ts.
    const st = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters: [1n, 2n, 3n], learners: [] } } });
    const rn = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage: st, rng: new SeededRng(1), preVote: false });
    rn.campaign();
    const sent = [...handle(rn, st).messages];
    for (const from of [2n, 3n]) {
      const vr = newMessage('voteResp', 1n, from);
      vr.term = 1;
      rn.step(vr);
    }
    sent.push(...handle(rn, st).messages); // the leader's appends
    rn.tick(); // heartbeats
    sent.push(...handle(rn, st).messages);
    const empty = sent.filter((m) => m.entries.length === 0);
    expect(new Set(sent.map((m) => m.type))).toEqual(new Set(['vote', 'app', 'heartbeat']));
    expect(empty.length).toBeGreaterThan(0);
    for (const m of sent) expect(Object.isExtensible(m.entries)).toBe(true);
    expect(new Set(empty.map((m) => m.entries)).size).toBe(empty.length);
  });

  it('a member with an empty conf state (joining) never campaigns', () => {
    const { rn, st } = boot(4n, [], new MemoryStorage());
    for (let i = 0; i < 100; i++) rn.tick();
    rn.campaign();
    expect(rn.status().softState.raftState).toBe('follower');
    expect(rn.hasReady()).toBe(false);
    void st;
  });

  it('restarting with applied replays conf changes after the snapshot', () => {
    const st = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters: [1n], learners: [] } } });
    const ents: Entry[] = [
      { term: 1, index: 1, type: 'normal', data: new Uint8Array() },
      { term: 1, index: 2, type: 'confChange', data: encodeConfChange({ type: 'addLearnerNode', nodeId: 2n, context: new Uint8Array() }) },
      { term: 1, index: 3, type: 'confChange', data: encodeConfChange({ type: 'addNode', nodeId: 2n, context: new Uint8Array() }) },
    ];
    st.append(ents);
    st.setHardState({ term: 1, vote: 1n, commit: 3 });
    const { rn } = boot(1n, [1n], st, 3);
    expect(rn.status().confState).toEqual({ voters: [1n, 2n], learners: [] });
    expect(rn.hasReady()).toBe(false); // nothing re-delivered at or below applied
    // without applied, the entries come back and the app re-applies them itself
    const again = boot(1n, [1n], st, 0);
    expect(again.rn.status().confState).toEqual({ voters: [1n], learners: [] });
    expect(again.rn.ready().committedEntries.length).toBe(3);
  });

  it('refuses proposals above maxUncommittedEntriesSize (but always accepts into an empty budget)', () => {
    const st = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters: [1n, 2n], learners: [] } } });
    const rn = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage: st, rng: new SeededRng(1), maxUncommittedEntriesSize: 100, preVote: false });
    rn.campaign();
    // become leader: fake node 2's vote
    const vr = newMessage('voteResp', 1n, 2n);
    vr.term = 1;
    rn.step(vr);
    expect(rn.status().softState.raftState).toBe('leader');
    rn.propose(new Uint8Array(80));
    expect(() => rn.propose(new Uint8Array(80))).toThrow(/too many uncommitted entries/);
    rn.propose(new Uint8Array(0)); // empty entries are free
  });

  it('status() reports progress only on the leader', () => {
    const { rn, st } = boot(1n, [1n]);
    expect(rn.status().progress).toBeUndefined();
    rn.campaign();
    handle(rn, st);
    expect(rn.status().progress?.get(1n)?.state).toBe('replicate');
  });
});

describe('RawNode ReadIndex on a single voter', () => {
  it('waits for the first commit of its term, then answers without a heartbeat round', () => {
    const { rn, st } = boot(1n, [1n]);
    rn.campaign();
    rn.readIndex(enc.encode('r1'));
    const rd1 = handle(rn, st); // leader; its empty entry is not committed yet
    expect(rd1.readStates).toEqual([]);
    const rd2 = handle(rn, st); // persisted -> committed -> the held read is released
    expect(rd2.readStates.map((r) => [r.index, new TextDecoder().decode(r.requestCtx)])).toEqual([[1, 'r1']]);
    rn.readIndex(enc.encode('r2'));
    expect(handle(rn, st).readStates.map((r) => r.index)).toEqual([1]);
    expect(() => rn.readIndex(new Uint8Array(0))).toThrow(RangeError);
  });
});

describe('RawNode: a leader that advances before its write is durable (persistedLater)', () => {
  /** Node 1 leads a 3-voter cluster in term 1 with its first entry committed; returns it. */
  function leaderOf3(): { rn: RawNode; st: MemoryStorage } {
    const { rn, st } = boot(1n, [1n, 2n, 3n]);
    rn.campaign();
    handle(rn, st); // pre-vote
    for (const from of [2n, 3n]) rn.step({ ...newMessage('preVoteResp', 1n, from), term: 1 });
    handle(rn, st); // candidate in term 1
    for (const from of [2n, 3n]) rn.step({ ...newMessage('voteResp', 1n, from), term: 1 });
    handle(rn, st); // leader: its empty entry (index 1), appends to 2 and 3
    for (const from of [2n, 3n]) rn.step({ ...newMessage('appResp', 1n, from), term: 1, index: 1 });
    while (rn.hasReady()) handle(rn, st);
    expect(rn.status().hardState.commit).toBe(1);
    return { rn, st };
  }
  const ack = (rn: RawNode, from: NodeId, index: number): void => rn.step({ ...newMessage('appResp', 1n, from), term: 1, index });
  /** The leader proposes entry 2 and advances while its write is in flight. */
  function writeInFlight(): { rn: RawNode; st: MemoryStorage } {
    const { rn, st } = leaderOf3();
    rn.propose(enc.encode('a'));
    st.append(rn.ready().entries);
    rn.advance({ persistedLater: true });
    return { rn, st };
  }

  it('commits on the two followers alone while its own write is in flight, and never hands the same entries out twice', () => {
    const { rn, st } = leaderOf3();
    rn.propose(enc.encode('a'));
    const rd = rn.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    st.append(rd.entries);
    rn.advance({ persistedLater: true });
    // A new proposal while the write is in flight: held out of the next Ready, but sent to the followers.
    rn.propose(enc.encode('b'));
    ack(rn, 2n, 2);
    ack(rn, 3n, 2);
    expect(rn.hasReady(true)).toBe(true);
    const rd2 = rn.ready(true);
    expect(rd2.entries).toEqual([]);
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([2]);
    expect(rd2.messages.filter((m) => m.type === 'app' && m.entries.length > 0).map((m) => m.entries.map((e) => e.index))).toEqual([[3], [3]]);
    rn.advance({ persistedLater: true });
    expect(rn.hasReady(true)).toBe(false);
    // Without holding, only the new entry is handed out: entry 2 is being written already.
    expect(rn.hasReady(false)).toBe(true);
    rn.persisted(2, 1);
    const rd3 = rn.ready();
    expect(rd3.entries.map((e) => e.index)).toEqual([3]);
  });

  it('does not count its own copy before persisted(): one follower ack is not a quorum', () => {
    const { rn } = writeInFlight();
    ack(rn, 2n, 2);
    expect(rn.status().hardState.commit).toBe(1);
    rn.persisted(2, 1);
    expect(rn.status().hardState.commit).toBe(2);
  });

  it('neither applies nor persists as committed an entry it holds back, even once the followers committed it (it is not in storage yet)', () => {
    const { rn } = writeInFlight();
    rn.propose(enc.encode('b'));
    ack(rn, 2n, 3);
    ack(rn, 3n, 3);
    expect(rn.status().hardState.commit).toBe(3);
    const rd = rn.ready(true);
    expect(rd.entries).toEqual([]);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([2]);
    // Nor does the hard state it persists name entry 3: a crash would leave a commit index above the log.
    expect(rd.hardState?.commit).toBe(2);
    rn.advance({ persistedLater: true });
    expect(rn.hasReady(true)).toBe(false);
    rn.persisted(2, 1);
    // The Ready that carries entry 3 to storage may apply it, and persist the commit.
    const rd2 = rn.ready(false);
    expect(rd2.entries.map((e) => e.index)).toEqual([3]);
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([3]);
    expect(rd2.hardState?.commit).toBe(3);
  });

  it('hands out, in a Ready taken while a write is in flight, only the entries not handed out yet', () => {
    const { rn, st } = writeInFlight();
    rn.propose(enc.encode('b'));
    const rd = rn.ready(false);
    expect(rd.entries.map((e) => e.index)).toEqual([3]);
    st.append(rd.entries);
    rn.advance({ persistedLater: true });
    expect(rn.hasReady(false)).toBe(false);
    rn.persisted(2, 1);
    rn.persisted(3, 1);
    ack(rn, 2n, 3);
    expect(rn.status().hardState.commit).toBe(3);
  });

  it('ignores holdEntries on a follower: its new entries are always in the Ready', () => {
    const { rn, st } = boot(2n, [1n, 2n, 3n]);
    rn.step({ ...newMessage('app', 2n, 1n), term: 1, index: 0, logTerm: 0, entries: [{ term: 1, index: 1, type: 'normal', data: new Uint8Array() }] });
    expect(rn.hasReady(true)).toBe(true);
    const rd = rn.ready(true);
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    expect(rd.messages.map((m) => m.type)).toEqual(['appResp']);
    st.append(rd.entries);
    rn.advance();
  });
});
