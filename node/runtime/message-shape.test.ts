// One hidden class for every raft message and every Ready. V8 gives objects built with the same
// properties in the same order one hidden class, and optimized code checks that class. Messages
// and Readies that gained their optional fields (context, noAck, snapshot, transferee; softState,
// hardState, snapshot) only when set came in several classes, and raft's step functions, the ready
// loop and the transport were thrown away at the first one of a kind they had not met
// (raft/message.ts). So every message, whoever builds it, has all of Message's fields in one order,
// and so does every Ready.
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../raft/memory-storage.js';
import { newMessage } from '../raft/message.js';
import { SeededRng } from '../raft/rand.js';
import { RawNode } from '../raft/raw-node.js';
import type { Message, Ready } from '../raft/types.js';
import { decodeMessage, encodeMessage } from '../transport/codec.js';

const ORDER = Object.keys(newMessage('app', 2n, 1n));

/** A 3-voter leader (id 1), and every message and Ready it made on the way there and after. */
function leaderTraffic(): { msgs: Message[]; readies: Ready[] } {
  const st = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters: [1n, 2n, 3n], learners: [] } } });
  const rn = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage: st, rng: new SeededRng(7), preVote: false });
  const msgs: Message[] = [];
  const readies: Ready[] = [];
  const drain = (): void => {
    while (rn.hasReady()) {
      const rd = rn.ready();
      readies.push(rd);
      if (rd.hardState) st.setHardState(rd.hardState);
      st.append(rd.entries);
      msgs.push(...rd.messages);
      rn.advance();
    }
  };
  rn.campaign();
  drain();
  const answer = (type: Message['type'], from: bigint, fill: (m: Message) => void): void => {
    const m = newMessage(type, 1n, from);
    m.term = 1;
    fill(m);
    rn.step(m);
    drain();
  };
  answer('voteResp', 2n, () => undefined);
  answer('appResp', 2n, (m) => (m.index = 1));
  rn.propose(new TextEncoder().encode('v'));
  drain();
  answer('appResp', 2n, (m) => (m.index = 2));
  answer('appResp', 3n, (m) => (m.index = 2));
  rn.readIndex(new TextEncoder().encode('read-1'));
  drain();
  // A peer's answer to the heartbeat that carried the read's context confirms the read.
  const hb = msgs.find((m) => m.type === 'heartbeat' && m.context !== undefined);
  if (hb) answer('heartbeatResp', hb.to, (m) => (m.context = hb.context));
  rn.tick();
  drain();
  return { msgs, readies };
}

describe('the shape of raft messages and Readies', () => {
  it('every message raft sends has newMessage\'s fields in its order: votes, appends with and without entries, the commit broadcast, heartbeats with a ReadIndex context', () => {
    const { msgs } = leaderTraffic();
    const types = new Set(msgs.map((m) => m.type));
    for (const t of ['vote', 'app', 'heartbeat'] as const) expect(types, `a ${t} was sent`).toContain(t);
    expect(msgs.some((m) => m.type === 'heartbeat' && m.context !== undefined), 'a heartbeat carried a ReadIndex context').toBe(true);
    expect(msgs.some((m) => m.type === 'app' && m.entries.length === 0), 'an append without entries (the commit broadcast)').toBe(true);
    for (const m of msgs) expect(Object.keys(m), m.type).toEqual(ORDER);
  });

  it('a message decoded from the wire has the same fields in the same order, whatever optional fields it carries', () => {
    const base = (): Message => {
      const m = newMessage('app', 2n, 1n);
      m.term = 3;
      return m;
    };
    const withContext = base();
    withContext.type = 'heartbeat';
    withContext.context = new Uint8Array([1, 2]);
    const withTransferee = base();
    withTransferee.type = 'transferLeader';
    withTransferee.transferee = 3n;
    const withNoAck = base();
    withNoAck.noAck = true;
    const withSnapshot = base();
    withSnapshot.type = 'snap';
    withSnapshot.snapshot = { data: new Uint8Array([9]), metadata: { index: 5, term: 3, confState: { voters: [1n, 2n], learners: [] } } };
    for (const m of [base(), withContext, withTransferee, withNoAck, withSnapshot]) {
      const back = decodeMessage(encodeMessage(m));
      expect(Object.keys(back), m.type).toEqual(ORDER);
      expect(back.context && [...back.context]).toEqual(m.context && [...m.context]);
      expect(back.transferee).toBe(m.transferee);
      expect(back.noAck).toBe(m.noAck);
      expect(back.snapshot?.metadata.index).toBe(m.snapshot?.metadata.index);
    }
  });

  it('every Ready has the same fields in the same order, with and without a soft state, a hard state or read states', () => {
    const { readies } = leaderTraffic();
    expect(readies.some((rd) => rd.softState !== undefined)).toBe(true);
    expect(readies.some((rd) => rd.hardState === undefined)).toBe(true);
    expect(readies.some((rd) => rd.readStates.length > 0)).toBe(true);
    const order = Object.keys(readies[0]!);
    for (const rd of readies) expect(Object.keys(rd)).toEqual(order);
  });
});
