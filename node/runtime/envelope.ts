// The payload of a normal Raft entry, as the runtime writes it:
//   u8 kind | u64 proposer member id | f64 request id | body
// The kind code has WIDE_PROPOSER set: the proposer is a little-endian u64. Entries written when
// member ids were numbers have kind codes without it and an f64 proposer; they still decode.
// kind 'mvcc': body = node/mvcc encodeCommand(cmd); kind 'attrs': body = JSON member attributes
// (name, client URLs) that a member publishes after it starts; kind 'auth': body = credentials
// then a JSON auth command (node/mvcc/auth-store.ts); kind 'mvccAs': body = credentials then
// encodeCommand(cmd), a write made as a user (auth-body.ts holds the credentials framing); kind
// 'downgrade': body = JSON DowngradeInfo (etcd's DowngradeInfoSetRequest). The proposer id and request id
// let exactly the proposing member resolve its waiter when it applies the entry (ids restart
// after a restart, so the request id starts from the clock, like etcd's idutil).
// An empty payload is the leader's no-op entry.

import { allocEntry } from '../lib/entry-arena.js';

export type EnvelopeKind = 'mvcc' | 'attrs' | 'auth' | 'mvccAs' | 'downgrade';

const KIND_CODE: Record<EnvelopeKind, number> = { mvcc: 1, attrs: 2, auth: 3, mvccAs: 4, downgrade: 5 };
const KIND_OF: readonly (EnvelopeKind | undefined)[] = [undefined, 'mvcc', 'attrs', 'auth', 'mvccAs', 'downgrade'];
const WIDE_PROPOSER = 0x80;
const HEADER_BYTES = 17;

export interface Envelope {
  readonly kind: EnvelopeKind;
  readonly proposer: bigint;
  readonly requestId: number;
  readonly body: Uint8Array;
}

export class EnvelopeError extends Error {
  readonly code = 'ErrEnvelope';
}

export function encodeEnvelope(kind: EnvelopeKind, proposer: bigint, requestId: number, body: Uint8Array): Buffer {
  const b = allocEntry(HEADER_BYTES + body.byteLength);
  b.set(body, HEADER_BYTES);
  return sealEnvelope(kind, proposer, requestId, b);
}

/** The header's bytes: room a body encoder leaves before the body (encodeCommand's headroom). */
export const ENVELOPE_HEADER_BYTES = HEADER_BYTES;

/**
 * An envelope around a body already in place after ENVELOPE_HEADER_BYTES of room at the start
 * of `b`: the header is written there, and the body is not copied.
 */
export function sealEnvelope(kind: EnvelopeKind, proposer: bigint, requestId: number, room: Uint8Array): Buffer {
  if (room.byteLength < HEADER_BYTES) throw new EnvelopeError(`no room for an envelope header (${room.byteLength} bytes)`);
  const b = Buffer.isBuffer(room) ? room : Buffer.from(room.buffer, room.byteOffset, room.byteLength);
  b[0] = KIND_CODE[kind] | WIDE_PROPOSER;
  b.writeBigUInt64LE(proposer, 1);
  b.writeDoubleLE(requestId, 9);
  return b;
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  if (data.byteLength < HEADER_BYTES) throw new EnvelopeError(`entry payload too short (${data.byteLength} bytes)`);
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const code = b[0] ?? 0;
  const kind = KIND_OF[code & ~WIDE_PROPOSER];
  if (!kind) throw new EnvelopeError(`unknown entry kind ${String(code)}`);
  const proposer = code & WIDE_PROPOSER ? b.readBigUInt64LE(1) : oldProposer(b.readDoubleLE(1));
  return { kind, proposer, requestId: b.readDoubleLE(9), body: b.subarray(HEADER_BYTES) };
}

/** An f64 proposer of an old entry: a member id below 2^53 (anything else names no member). */
function oldProposer(x: number): bigint {
  return Number.isSafeInteger(x) && x >= 0 ? BigInt(x) : 0n;
}

/** Request ids: unique per member across restarts (clock-seeded), increasing. */
export class RequestIds {
  private next: number;
  constructor(nowMs: number) {
    this.next = Math.floor(nowMs) * 1024;
  }
  take(): number {
    return this.next++;
  }
}
