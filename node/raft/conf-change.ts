// Binary encoding of a single-step membership change, carried in a 'confChange' entry.
// Layout (big endian): version u8 (=1), type u8, nodeId u64 (written as hi u32 + lo u32 when ids were
// numbers: the same bytes), context length u32, context bytes.
import type { ConfChange, ConfChangeType } from './types.js';

const VERSION = 1;
const HEADER_BYTES = 1 + 1 + 8 + 4;
const TYPES: readonly ConfChangeType[] = ['addNode', 'addLearnerNode', 'removeNode', 'updateNode'];

export class ConfChangeDecodeError extends Error {
  readonly code = 'ErrConfChangeDecode';
  constructor(why: string) {
    super(`raft: cannot decode conf change: ${why}`);
  }
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const typeCode = TYPES.indexOf(cc.type);
  if (typeCode < 0) throw new RangeError(`unknown conf change type ${String(cc.type)}`);
  if (typeof cc.nodeId !== 'bigint' || cc.nodeId < 0n || cc.nodeId >= 2n ** 64n) throw new RangeError(`bad node id ${String(cc.nodeId)}`);
  const out = new Uint8Array(HEADER_BYTES + cc.context.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, VERSION);
  dv.setUint8(1, typeCode);
  dv.setBigUint64(2, cc.nodeId);
  dv.setUint32(10, cc.context.byteLength);
  out.set(cc.context, HEADER_BYTES);
  return out;
}

export function decodeConfChange(b: Uint8Array): ConfChange {
  if (b.byteLength < HEADER_BYTES) throw new ConfChangeDecodeError(`too short (${b.byteLength} bytes)`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const version = dv.getUint8(0);
  if (version !== VERSION) throw new ConfChangeDecodeError(`unknown version ${version}`);
  const type = TYPES[dv.getUint8(1)];
  if (type === undefined) throw new ConfChangeDecodeError(`unknown type code ${dv.getUint8(1)}`);
  const nodeId = dv.getBigUint64(2);
  const len = dv.getUint32(10);
  if (HEADER_BYTES + len !== b.byteLength) throw new ConfChangeDecodeError('context length does not match');
  return { type, nodeId, context: b.slice(HEADER_BYTES) };
}
