// Binary codec for Raft messages on the peer wire. Node ids are uint64 and travel as
// little-endian u64; terms and indexes are below 2^53 and travel as little-endian float64: exact,
// and one fast native write each.
//
// message := u8 type | u64 to from | f64 term logTerm index commit rejectHint | u8 flags
//            | [u32 len, context]           if flags & HAS_CONTEXT
//            | [u64 transferee]             if flags & HAS_TRANSFEREE
//            | u32 n, n x entry
//            | [snapshot]                    if flags & HAS_SNAPSHOT
// entry    := f64 term | f64 index | u8 type | u32 len | data
// snapshot := f64 index | f64 term | u32 nv, nv x u64 | u32 nl, nl x u64 | u32 len | data
// batch    := u32 count | count x message
// Decoding returns snapshot data as a view into the received buffer (no copy). Entry data is
// copied into the entry arena (node/lib/entry-arena.ts, slabs holding entries only): the Raft log keeps entries
// long after the batch that carried them, so one copy here frees the whole received batch;
// except large data in a frame assembled for the batch alone (BY_REFERENCE_BYTES), which stays
// a view. Large data is also sent by reference (writeBatch's refs): no copy per follower.

import { allocEntry } from '../lib/entry-arena.js';
import type { Entry, EntryType, Message, MessageType, Snapshot } from '../raft/types.js';
import { newEntry } from '../raft/entry.js';
import { newMessage } from '../raft/message.js';

const MESSAGE_TYPES: readonly MessageType[] = [
  'hup', 'beat', 'prop', 'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'snap',
  'heartbeat', 'heartbeatResp', 'unreachable', 'snapStatus', 'checkQuorum', 'transferLeader',
  'timeoutNow', 'readIndex', 'readIndexResp',
];
const MESSAGE_CODE = new Map<MessageType, number>(MESSAGE_TYPES.map((t, i) => [t, i]));

// Node ids: Buffer#writeBigUInt64LE and readBigUInt64LE make new BigInts for every id (a mask
// and a shift to write, a shift and a sum to read), two ids per message each way. A member sees
// a handful of ids (its peers and itself): their halves and their bigint are kept here (at most
// ID_CACHE_SIZE, the oldest replaced first), so a known id goes out as two u32 writes and comes
// back as the same bigint.
const ID_CACHE_SIZE = 16;
const idBig: bigint[] = [];
const idLo = new Uint32Array(ID_CACHE_SIZE);
const idHi = new Uint32Array(ID_CACHE_SIZE);
let idOldest = 0;

function rememberId(id: bigint, lo: number, hi: number): void {
  let i = idBig.length;
  if (i === ID_CACHE_SIZE) {
    i = idOldest;
    idOldest = (idOldest + 1) % ID_CACHE_SIZE;
  }
  idBig[i] = id;
  idLo[i] = lo;
  idHi[i] = hi;
}

function writeId(buf: Buffer, off: number, id: bigint): number {
  for (let i = 0; i < idBig.length; i++) {
    if (idBig[i] === id) {
      buf.writeUInt32LE(idLo[i]!, off);
      return buf.writeUInt32LE(idHi[i]!, off + 4);
    }
  }
  const end = buf.writeBigUInt64LE(id, off); // checks the range, as before
  rememberId(id, buf.readUInt32LE(off), buf.readUInt32LE(off + 4));
  return end;
}

function readId(buf: Buffer, off: number): bigint {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  for (let i = 0; i < idBig.length; i++) if (idLo[i] === lo && idHi[i] === hi) return idBig[i]!;
  const id = buf.readBigUInt64LE(off);
  rememberId(id, lo, hi);
  return id;
}

const HAS_CONTEXT = 1;
const HAS_SNAPSHOT = 2;
const REJECT = 4;
const HAS_TRANSFEREE = 8;
/** An entry-less append that asks for no answer (Message.noAck); older members ignore the bit and answer. */
const NO_ACK = 16;

export class CodecError extends Error {
  readonly code = 'ErrPeerCodec';
}

const EMPTY = new Uint8Array(0);

/**
 * Entry data at least this long is sent by reference: writeMessage leaves it out of the buffer and
 * names where it goes (ByReference), and the sender writes the entry's own buffer there (one
 * writev), so a 64 KiB value is not copied into a frame once per follower. A receiver keeps such
 * data as views into the frame it assembled (decodeBatch's `owned`).
 */
export const BY_REFERENCE_BYTES = 4096;

/** Entry data left out of a buffer: data[i] goes at offset cuts[i] of the written bytes. */
export interface ByReference {
  readonly cuts: number[];
  readonly data: Uint8Array[];
}

/** With byReference, the size without the data of entries sent by reference. */
export function messageSize(m: Message, withSnapshotData = true, byReference = false): number {
  let n = 1 + 7 * 8 + 1 + 4;
  if (m.context !== undefined) n += 4 + m.context.byteLength;
  if (m.transferee !== undefined) n += 8;
  for (const e of m.entries) n += 8 + 8 + 1 + 4 + (byReference && e.data.byteLength >= BY_REFERENCE_BYTES ? 0 : e.data.byteLength);
  if (m.snapshot) {
    const cs = m.snapshot.metadata.confState;
    n += 8 + 8 + 4 + cs.voters.length * 8 + 4 + cs.learners.length * 8 + 4 + (withSnapshotData ? m.snapshot.data.byteLength : 0);
  }
  return n;
}

export function writeMessage(buf: Buffer, off: number, m: Message, withSnapshotData = true, refs?: ByReference): number {
  const code = MESSAGE_CODE.get(m.type);
  if (code === undefined) throw new CodecError(`unknown message type ${String(m.type)}`);
  buf[off++] = code;
  off = writeId(buf, off, m.to);
  off = writeId(buf, off, m.from);
  off = buf.writeDoubleLE(m.term, off);
  off = buf.writeDoubleLE(m.logTerm, off);
  off = buf.writeDoubleLE(m.index, off);
  off = buf.writeDoubleLE(m.commit, off);
  off = buf.writeDoubleLE(m.rejectHint, off);
  buf[off++] = (m.context !== undefined ? HAS_CONTEXT : 0) | (m.snapshot ? HAS_SNAPSHOT : 0) | (m.reject ? REJECT : 0) | (m.transferee !== undefined ? HAS_TRANSFEREE : 0) | (m.noAck ? NO_ACK : 0);
  if (m.context !== undefined) {
    off = buf.writeUInt32LE(m.context.byteLength, off);
    buf.set(m.context, off);
    off += m.context.byteLength;
  }
  if (m.transferee !== undefined) off = buf.writeBigUInt64LE(m.transferee, off);
  off = buf.writeUInt32LE(m.entries.length, off);
  for (const e of m.entries) {
    off = buf.writeDoubleLE(e.term, off);
    off = buf.writeDoubleLE(e.index, off);
    buf[off++] = e.type === 'normal' ? 0 : 1;
    off = buf.writeUInt32LE(e.data.byteLength, off);
    if (refs && e.data.byteLength >= BY_REFERENCE_BYTES) {
      refs.cuts.push(off);
      refs.data.push(e.data);
      continue;
    }
    buf.set(e.data, off);
    off += e.data.byteLength;
  }
  if (m.snapshot) {
    const md = m.snapshot.metadata;
    off = buf.writeDoubleLE(md.index, off);
    off = buf.writeDoubleLE(md.term, off);
    off = buf.writeUInt32LE(md.confState.voters.length, off);
    for (const v of md.confState.voters) off = buf.writeBigUInt64LE(v, off);
    off = buf.writeUInt32LE(md.confState.learners.length, off);
    for (const v of md.confState.learners) off = buf.writeBigUInt64LE(v, off);
    const data = withSnapshotData ? m.snapshot.data : EMPTY;
    off = buf.writeUInt32LE(data.byteLength, off);
    buf.set(data, off);
    off += data.byteLength;
  }
  return off;
}

export function encodeMessage(m: Message, withSnapshotData = true): Buffer {
  const buf = Buffer.allocUnsafe(messageSize(m, withSnapshotData));
  const end = writeMessage(buf, 0, m, withSnapshotData);
  if (end !== buf.byteLength) throw new CodecError('message size mismatch');
  return buf;
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public off: number,
    readonly end: number,
  ) {}
  need(n: number): void {
    if (this.off + n > this.end) throw new CodecError(`truncated message at byte ${this.off}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.off);
    this.off += 8;
    return v;
  }
  /** A node id (u64 LE), through the id table. */
  id(): bigint {
    this.need(8);
    const v = readId(this.buf, this.off);
    this.off += 8;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  /**
   * n bytes of an entry's data copied into the entry arena through a view made and dropped
   * here. In readMessage the view could become the entry's data (the owned case), and then V8
   * allocated it in old space with the entry once it saw that entries live long: each such view,
   * dead at once, kept its whole frame or socket read until a full GC (the eleventh stop in
   * docs/benchmarks/member.md).
   */
  entryCopy(n: number): Buffer {
    this.need(n);
    const out = allocEntry(n);
    out.set(this.buf.subarray(this.off, this.off + n));
    this.off += n;
    return out;
  }
}

/** owned: the buffer is the frame's own (assembled for it), so large entry data may stay views into it. */
function readMessage(r: Reader, owned = false): Message {
  const code = r.u8();
  const type = MESSAGE_TYPES[code];
  if (type === undefined) throw new CodecError(`unknown message type code ${code}`);
  const to = r.id();
  const from = r.id();
  const term = r.f64();
  const logTerm = r.f64();
  const index = r.f64();
  const commit = r.f64();
  const rejectHint = r.f64();
  const flags = r.u8();
  let context: Uint8Array | undefined;
  if (flags & HAS_CONTEXT) context = r.bytes(r.u32());
  const transferee = flags & HAS_TRANSFEREE ? r.id() : undefined;
  const n = r.u32();
  const entries: Entry[] = new Array<Entry>(n);
  for (let i = 0; i < n; i++) {
    const eterm = r.f64();
    const eindex = r.f64();
    const t = r.u8();
    if (t > 1) throw new CodecError(`unknown entry type code ${t}`);
    const etype: EntryType = t === 0 ? 'normal' : 'confChange';
    const len = r.u32();
    // Large data in an owned frame stays a view (the entry's own bytes, most of the frame).
    const data = owned && len >= BY_REFERENCE_BYTES ? r.bytes(len) : r.entryCopy(len);
    entries[i] = newEntry(eterm, eindex, etype, data);
  }
  let snapshot: Snapshot | undefined;
  if (flags & HAS_SNAPSHOT) {
    const sindex = r.f64();
    const sterm = r.f64();
    const nv = r.u32();
    const voters: bigint[] = [];
    for (let i = 0; i < nv; i++) voters.push(r.id());
    const nl = r.u32();
    const learners: bigint[] = [];
    for (let i = 0; i < nl; i++) learners.push(r.id());
    const data = r.bytes(r.u32());
    snapshot = { data, metadata: { index: sindex, term: sterm, confState: { voters, learners } } };
  }
  // newMessage, so a decoded message has the hidden class of every other (raft/message.ts).
  const m = newMessage(type, to, from);
  m.term = term;
  m.logTerm = logTerm;
  m.index = index;
  m.entries = entries;
  m.commit = commit;
  m.snapshot = snapshot;
  m.reject = (flags & REJECT) !== 0;
  m.rejectHint = rejectHint;
  m.context = context;
  m.transferee = transferee;
  if (flags & NO_ACK) m.noAck = true;
  checkWireMessage(m);
  return m;
}

/** Types raft makes for itself; a peer never sends them. */
const LOCAL_TYPES: ReadonlySet<MessageType> = new Set(['hup', 'beat', 'unreachable', 'snapStatus', 'checkQuorum']);
/** The only types that travel without a term (forwarded to the leader); every other one has one. */
const TERMLESS_TYPES: ReadonlySet<MessageType> = new Set(['prop', 'readIndex']);

const isIndex = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/**
 * A message raft could never have sent is refused here, so raft only ever steps well-formed
 * input: every id, term and index a non-negative integer (a float64 on the wire can be NaN or
 * 0.5), no local types, a term exactly when raft sets one (raft.ts send()), and no shape raft
 * asserts on.
 */
function checkWireMessage(m: Message): void {
  // Ids are u64 on the wire: always non-negative integers. Terms and indexes are float64.
  const numbers = [m.term, m.logTerm, m.index, m.commit, m.rejectHint];
  for (const e of m.entries) numbers.push(e.term, e.index);
  if (m.snapshot) numbers.push(m.snapshot.metadata.index, m.snapshot.metadata.term);
  if (!numbers.every(isIndex)) throw new CodecError(`${m.type} message with a term or index that is not a non-negative integer`);
  if (m.to === 0n || m.from === 0n) throw new CodecError(`${m.type} message without sender or receiver`);
  if (LOCAL_TYPES.has(m.type)) throw new CodecError(`local message type ${m.type} from a peer`);
  if (TERMLESS_TYPES.has(m.type) !== (m.term === 0)) throw new CodecError(`${m.type} message with term ${m.term}`);
  // Shapes raft asserts on when it steps them (an assertion would stop the member).
  if (m.type === 'prop' && m.entries.length === 0) throw new CodecError('prop message without entries');
  if (m.type === 'readIndexResp' && m.entries.length > 0) throw new CodecError('readIndexResp message with entries');
  if (m.type === 'snap' && !m.snapshot) throw new CodecError('snap message without a snapshot');
  if (m.noAck && (m.type !== 'app' || m.entries.length > 0)) throw new CodecError(`${m.type} message asks for no answer (only an entry-less append may)`);
}

export function decodeMessage(buf: Buffer): Message {
  const r = new Reader(buf, 0, buf.byteLength);
  const m = readMessage(r);
  if (r.off !== buf.byteLength) throw new CodecError('trailing bytes after message');
  return m;
}

export function batchSize(msgs: readonly Message[], byReference = false): number {
  let n = 4;
  for (const m of msgs) n += messageSize(m, true, byReference);
  return n;
}

/** With refs, large entry data is left out and named in refs (see BY_REFERENCE_BYTES). */
export function writeBatch(buf: Buffer, off: number, msgs: readonly Message[], refs?: ByReference): number {
  off = buf.writeUInt32LE(msgs.length, off);
  for (const m of msgs) off = writeMessage(buf, off, m, true, refs);
  return off;
}

/**
 * owned: `buf` is a frame assembled for this batch alone (not a view into a larger socket read),
 * so entry data of BY_REFERENCE_BYTES or more stays a view into it (the batch is mostly that
 * data: holding it costs no more than copies would); smaller data is copied out, so a few small
 * entries kept in the Raft log do not hold a whole received buffer.
 */
export function decodeBatch(buf: Buffer, owned = false): Message[] {
  const r = new Reader(buf, 0, buf.byteLength);
  const n = r.u32();
  const out: Message[] = [];
  for (let i = 0; i < n; i++) out.push(readMessage(r, owned));
  if (r.off !== buf.byteLength) throw new CodecError('trailing bytes after batch');
  return out;
}
