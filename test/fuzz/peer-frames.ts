// Hostile bytes for a member's peer port (node/transport's framing and Raft message codec).
// Each connection is one of: random bytes; a bad hello; a good hello and then random frames;
// batches of Raft messages raft could never have sent (NaN, fractions, local types, a term where
// none belongs, shapes raft asserts on), some byte-mutated; forwarded proposals, impersonating a real member, that carry
// entries no member can decode (they must be committed and then skipped alike by everyone); and
// peer requests with junk JSON. Well-formed lies from a real member (an append at the current
// term, say) are out of scope: that is what peer TLS is for.

import net from 'node:net';
import type { Message, MessageType } from '../../node/raft/types.js';
import { batchSize, writeBatch } from '../../node/transport/codec.js';
import { FrameReader, FrameType, frame } from '../../node/transport/frames.js';
import type { TestRng } from '../../node/mvcc/testing/rng.js';
import { mutate, randomBytes } from './proto-gen.js';

export interface PeerInfo {
  readonly clusterId: bigint;
  readonly memberIds: readonly bigint[];
  /** Each member's peer URLs, by id (to address a frame to the member behind a port). */
  readonly peerUrls: ReadonlyMap<bigint, readonly string[]>;
}

/** A member id no cluster member has. */
export const STRANGER_ID = 0x5eedn;

/** Asks a member's peer port for its cluster id and members (the 'info' hello joiners use). */
export function peerInfo(port: number): Promise<PeerInfo> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const reader = new FrameReader();
    s.on('error', reject);
    s.on('data', (chunk: Buffer) =>
      reader.push(chunk, (type, payload) => {
        if (type !== FrameType.info) return;
        const j = JSON.parse(payload.toString('utf8')) as { clusterId: string; members: Array<{ id: string; peerUrls: string[] }> };
        resolve({ clusterId: BigInt(j.clusterId), memberIds: j.members.map((m) => BigInt(m.id)), peerUrls: new Map(j.members.map((m) => [BigInt(m.id), m.peerUrls])) });
        s.destroy();
      }),
    );
    s.write(frame(FrameType.hello, Buffer.from(JSON.stringify({ clusterId: '', from: '0', to: '0', kind: 'info', wire: WIRE_VERSION }))));
  });
}

/** The peer wire format (tcp-transport.ts): node ids as u64. */
const WIRE_VERSION = 2;

function hello(info: PeerInfo, from: bigint, to: bigint): Buffer {
  return frame(FrameType.hello, Buffer.from(JSON.stringify({ clusterId: String(info.clusterId), from: String(from), to: String(to), kind: 'stream', wire: WIRE_VERSION })));
}

const TYPES: readonly MessageType[] = ['app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'snap', 'heartbeat', 'heartbeatResp', 'transferLeader', 'timeoutNow', 'readIndex', 'readIndexResp', 'prop'];
const LOCAL: readonly MessageType[] = ['hup', 'beat', 'unreachable', 'snapStatus', 'checkQuorum'];
const BAD_NUMBERS: readonly number[] = [Number.NaN, Number.POSITIVE_INFINITY, -1, 0.5, 2 ** 60 + 0.5, -0];

/** A message with at least one thing raft would never send. */
function malformedMessage(rng: TestRng, from: bigint, to: bigint): Message {
  const m: Message = {
    type: rng.pick(TYPES),
    to,
    from,
    term: 1 + rng.int(3),
    logTerm: rng.int(3),
    index: rng.int(50),
    commit: rng.int(50),
    entries: [],
    reject: rng.chance(0.5),
    rejectHint: 0,
  };
  for (let n = rng.int(3); n > 0; n--) m.entries.push({ term: 1, index: 1 + rng.int(50), type: 'normal', data: randomBytes(rng, 64) });
  const fields = ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const;
  switch (rng.int(5)) {
    case 0:
      // Ids are u64 on the wire (always integers): the bad one is 0, "nobody".
      if (rng.chance(0.3)) m[rng.pick(['to', 'from'] as const)] = 0n;
      else m[rng.pick(fields)] = rng.pick(BAD_NUMBERS.filter((x) => !Object.is(x, -0)));
      break;
    case 1:
      m.type = rng.pick(LOCAL);
      break;
    case 2:
      // A term where none belongs, or none where one does.
      m.term = m.type === 'prop' || m.type === 'readIndex' ? 1 + rng.int(5) : 0;
      break;
    case 3:
      m.entries.push({ term: rng.pick(BAD_NUMBERS), index: 1, type: 'normal', data: new Uint8Array(0) });
      break;
    default: {
      // Shapes raft asserts on: a proposal with nothing in it, a read answer with entries, a snap without one.
      const shape = rng.pick(['prop', 'readIndexResp', 'snap'] as const);
      m.type = shape;
      m.term = shape === 'prop' ? 0 : m.term;
      if (shape === 'prop') m.entries = [];
      else if (shape === 'readIndexResp') m.entries.push({ term: 1, index: 1, type: 'normal', data: new Uint8Array(1) });
    }
  }
  return m;
}

function batch(msgs: readonly Message[]): Buffer {
  const buf = Buffer.alloc(batchSize(msgs));
  writeBatch(buf, 0, msgs);
  return buf;
}

/** The bytes of one hostile connection to member `to`. */
export function hostileConnection(rng: TestRng, info: PeerInfo, to: bigint): Buffer[] {
  const peer = info.memberIds.find((id) => id !== to) ?? STRANGER_ID;
  const out: Buffer[] = [];
  switch (rng.int(7)) {
    case 0:
      out.push(randomBytes(rng, 256));
      break;
    case 1: {
      // A hello that is not one: junk JSON, a foreign cluster, another member's id, a huge length.
      const bad = [Buffer.from('{"clusterId":'), Buffer.from(JSON.stringify({ clusterId: 'other', from: String(STRANGER_ID), to: String(to), kind: 'stream', wire: WIRE_VERSION }))];
      out.push(rng.chance(0.7) ? frame(FrameType.hello, rng.pick(bad)) : Buffer.from([0xff, 0xff, 0xff, 0x7f, 1]));
      break;
    }
    case 2:
      out.push(hello(info, STRANGER_ID, to));
      for (let n = 1 + rng.int(5); n > 0; n--) out.push(frame(rng.int(16), randomBytes(rng, 64)));
      break;
    case 3: {
      out.push(hello(info, STRANGER_ID, to));
      const msgs = Array.from({ length: 1 + rng.int(4) }, () => malformedMessage(rng, STRANGER_ID, to));
      const b = batch(msgs);
      out.push(frame(FrameType.messages, rng.chance(0.5) ? mutate(rng, b) : b));
      break;
    }
    case 4: {
      // A malformed message in the name of a real member, in a batch with nothing else.
      out.push(hello(info, peer, to));
      out.push(frame(FrameType.messages, batch([malformedMessage(rng, peer, to)])));
      break;
    }
    case 5: {
      // Well-formed forwarded proposals whose entries no member can decode.
      out.push(hello(info, peer, to));
      const entries = Array.from({ length: 1 + rng.int(3) }, () => ({ term: 0, index: 0, type: 'normal' as const, data: randomBytes(rng, 48) }));
      const prop: Message = { type: 'prop', to, from: peer, term: 0, logTerm: 0, index: 0, commit: 0, entries, reject: false, rejectHint: 0 };
      out.push(frame(FrameType.messages, batch([prop])));
      break;
    }
    default: {
      out.push(hello(info, STRANGER_ID, to));
      const body = rng.pick([Buffer.from('{"method":"leaseRenew","body":null}'), Buffer.from('{"method":"memberPromote","body":{"ID":"x"}}'), Buffer.from('not json'), randomBytes(rng, 32)]);
      const id = Buffer.alloc(4);
      id.writeUInt32LE(rng.int(1000));
      out.push(frame(FrameType.rpcRequest, rng.chance(0.8) ? Buffer.concat([id, body]) : randomBytes(rng, 3)));
      if (rng.chance(0.3)) out.push(frame(FrameType.snapHeader, randomBytes(rng, 40)), frame(FrameType.snapChunk, randomBytes(rng, 40)), frame(FrameType.snapEnd, Buffer.alloc(0)));
    }
  }
  return out;
}

/** Opens a connection, writes the frames, reads whatever comes back for a moment, closes. */
export function sendConnection(port: number, frames: readonly Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (): void => {
      s.destroy();
      resolve();
    };
    s.on('error', done);
    s.on('close', done);
    s.on('data', () => {});
    s.on('connect', () => {
      for (const f of frames) s.write(f);
      setTimeout(done, 100);
    });
  });
}
