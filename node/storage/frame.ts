// WAL record framing and the segment scanner that tells a clean end, a torn tail and corruption apart.
//
// A frame is 8-byte aligned:
//   u32le payloadLength | u8 type | u8 checksum | 2 zero bytes | u32le crc | payload | zero padding
//   to 8 | trailer: u32le payloadLength | u32le TRAILER_MAGIC
// The CRC covers the first 8 header bytes and the payload, so a flipped length, type or checksum
// byte is caught too; padding must be zero. The checksum byte names the CRC (checksum.ts): 0 is
// CRC-32C (every frame written before 2026-12-02, when this byte was a zero), 1 is CRC-32 (zlib's,
// native; what encodeRecord writes now). Both read back. The trailer is the last thing written of a record: it tells a record that
// was written whole and damaged later (bit rot: corruption) from one whose write never finished
// (torn). It is not covered by the CRC: a record whose CRC checks out is good whatever its trailer.
// Types: 1 segment header (varint seq, varint firstIndex), 2 entries batch, 3 hard state,
// 4 snapshot marker (varint index, varint term). Type 0 never occurs, so a zeroed header
// (preallocated space) can never look like a record.
//
// THE RULE (what scanSegment decides at the first frame that does not check out, at offset p):
//  1. Everything from p to the end of the file is zero: the normal end of written data in a
//     preallocated segment. Nothing is cut.
//  2. Otherwise, if some later 8-aligned offset in the same file holds a complete frame whose CRC
//     checks out, the bad frame sits BEFORE data we wrote afterwards, so it is not a torn tail:
//     it is corruption. Refuse to start, naming the file and offset p. (A record after it may have
//     been acknowledged; dropping it silently would lose an acknowledged write.)
//  3. Otherwise, if a trailer further on points back exactly at p (its length gives a frame that
//     starts at p), the record at p was written completely and damaged afterwards: corruption.
//     (It may have been acknowledged. This catches a bit flip in the very last record.)
//  4. Otherwise (only garbage and zeros follow), in the LAST segment this is a torn tail: a write
//     interrupted by a crash. That record's write never completed (its trailer is missing and
//     nothing valid follows), while a save is acknowledged only after its write completed and was
//     synced; so no acknowledged record is among the cut bytes. Truncate at p and log file, offset
//     and the bytes cut.
//  5. The same in an earlier segment is corruption: a segment is synced completely before the next
//     one is created, so an older segment can never legitimately end in a torn record.
// A frame whose CRC matches but whose payload does not decode is corruption (we wrote it that way).
// Caveat, written down on purpose: after a power loss (not a process crash) the kernel may have
// persisted a later unsynced page but not an earlier one. Rules 2 and 3 then refuse to start
// although nothing acknowledged was lost; we prefer a refusal an operator can inspect to a silent
// guess. A process crash (kill -9) cannot cause this: the page cache keeps every completed write.

import { ByteReader, ByteWriter, CodecError, readEntries, readHardState, writeEntries, writeEntryHead, writeHardState } from './codec.js';
import { checksumUpdate, WRITE_CHECKSUM, type ChecksumKind } from './checksum.js';
import type { Entry, HardState } from '../raft/types.js';

export const FRAME_HEADER_BYTES = 12;
export const FRAME_TRAILER_BYTES = 8;
const TRAILER_MAGIC = 0x7a5e1f0d;

/** Total bytes of a frame with this payload length. */
export function frameBytes(payloadLen: number): number {
  return align8(FRAME_HEADER_BYTES + payloadLen) + FRAME_TRAILER_BYTES;
}

export const RecordType = {
  segmentHeader: 1,
  entries: 2,
  hardState: 3,
  snapshot: 4,
} as const;

export type WalRecord =
  | { readonly kind: 'segmentHeader'; readonly seq: number; readonly firstIndex: number }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly index: number; readonly term: number };

/** Header byte 5: which CRC the frame carries. */
const CHECKSUM_CODE: Record<ChecksumKind, number> = { crc32c: 0, crc32: 1 };
const CHECKSUM_OF_CODE: readonly ChecksumKind[] = ['crc32c', 'crc32'];

/** The frame's CRC: header bytes [p, p + 8), then the payload [p + 12, payloadEnd). */
function frameCrc(kind: ChecksumKind, buf: Uint8Array, p: number, payloadEnd: number): number {
  return checksumUpdate(kind, checksumUpdate(kind, 0, buf, p, p + 8), buf, p + FRAME_HEADER_BYTES, payloadEnd);
}

export function align8(n: number): number {
  // Arithmetic, not bit operations: a damaged length can be up to 2^32 - 1.
  return n + ((8 - (n % 8)) % 8);
}

/** A record the save path does not encode on its own (everything but an entries batch). */
type OtherRecord = Exclude<WalRecord, { readonly kind: 'entries' }>;

/** Writes the payload of `rec`; returns its type code. */
function writeOther(w: ByteWriter, rec: OtherRecord): number {
  switch (rec.kind) {
    case 'segmentHeader':
      w.varint(rec.seq);
      w.varint(rec.firstIndex);
      return RecordType.segmentHeader;
    case 'hardState':
      writeHardState(w, rec.hardState);
      return RecordType.hardState;
    case 'snapshot':
      w.varint(rec.index);
      w.varint(rec.term);
      return RecordType.snapshot;
    default: {
      const never: never = rec;
      throw new Error(`unknown record ${JSON.stringify(never)}`);
    }
  }
}

/** A writer for one frame: the header's bytes are reserved (finishFrame fills them in). */
function frameWriter(payloadHint: number): ByteWriter {
  const w = new ByteWriter(payloadHint + 40, Buffer.allocUnsafe);
  for (let i = 0; i < FRAME_HEADER_BYTES; i++) w.u8(0);
  return w;
}

/** Pads and trails the payload `w` holds and fills in the header: the frame's bytes. */
function finishFrame(w: ByteWriter, type: number): Uint8Array {
  const payloadLen = w.length - FRAME_HEADER_BYTES;
  const total = frameBytes(payloadLen);
  while (w.length < total) w.u8(0);
  const buf = w.view();
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  dv.setUint32(0, payloadLen, true);
  dv.setUint32(total - 8, payloadLen, true);
  dv.setUint32(total - 4, TRAILER_MAGIC, true);
  buf[4] = type;
  buf[5] = CHECKSUM_CODE[WRITE_CHECKSUM];
  dv.setUint32(8, frameCrc(WRITE_CHECKSUM, buf, 0, FRAME_HEADER_BYTES + payloadLen), true);
  // The writer was sized for this record and is dropped now: hand out its bytes without a copy.
  return buf;
}

/** Encodes one framed record (length a multiple of 8). */
export function encodeRecord(rec: WalRecord): Uint8Array {
  if (rec.kind === 'entries') return encodeEntriesRecord(rec.entries);
  const w = frameWriter(0);
  const type = writeOther(w, rec);
  return finishFrame(w, type);
}

// The save path (every put) calls the two encoders below directly, not through a WalRecord: the
// records' object shapes differ by kind (and a field's representation can change a shape later),
// so a function that reads `rec.kind` on every put meets new hidden classes now and then (a
// hard state, a segment header at each cut, a snapshot marker) and V8 throws its optimized code
// away each time (docs/benchmarks/member.md, twenty-fourth stop).

/** An entries record (encodeRecord's bytes for `{ kind: 'entries', entries }`). */
function encodeEntriesRecord(entries: readonly Entry[]): Uint8Array {
  let hint = 0;
  for (const e of entries) hint += e.data.length + 24;
  const w = frameWriter(hint);
  writeEntries(w, entries);
  return finishFrame(w, RecordType.entries);
}

/** A hard-state record, as the chunks a writev takes (encodeRecordChunks of `{ kind: 'hardState', hardState }`). */
export function encodeHardStateChunks(hardState: HardState): EncodedRecord {
  const w = frameWriter(0);
  writeHardState(w, hardState);
  const b = finishFrame(w, RecordType.hardState);
  return { chunks: [b], bytes: b.length };
}

/** Entry data at least this long is written by reference (its own writev chunk), not copied into the frame. */
export const BY_REFERENCE_BYTES = 4096;

/** A framed record as the chunks a writev takes, in order; `bytes` is their total (a multiple of 8). */
export interface EncodedRecord {
  readonly chunks: Uint8Array[];
  readonly bytes: number;
}

/**
 * encodeRecord's bytes, as chunks: the data of each entry of BY_REFERENCE_BYTES or more is a
 * chunk of its own (the entry's buffer itself, not a copy), and the CRC is computed over the
 * pieces in order. So a 64 KiB value is not copied again on its way to the WAL, and is read
 * once for the CRC. The entries' buffers must not change until the write is done (they never
 * do: entry data is immutable).
 */
export function encodeRecordChunks(rec: WalRecord): EncodedRecord {
  if (rec.kind === 'entries') return encodeEntriesChunks(rec.entries);
  const b = encodeRecord(rec);
  return { chunks: [b], bytes: b.length };
}

/** encodeRecordChunks of `{ kind: 'entries', entries }`. */
export function encodeEntriesChunks(entries: readonly Entry[]): EncodedRecord {
  if (!hasByReference(entries)) {
    const b = encodeEntriesRecord(entries);
    return { chunks: [b], bytes: b.length };
  }
  let hint = 0;
  for (const e of entries) hint += (e.data.length >= BY_REFERENCE_BYTES ? 0 : e.data.length) + 24;
  const w = frameWriter(hint);
  w.varint(entries.length);
  // cuts[i]: where refs[i] goes between the writer's bytes.
  const cuts: number[] = [];
  const refs: Uint8Array[] = [];
  let refBytes = 0;
  for (const e of entries) {
    writeEntryHead(w, e);
    if (e.data.length >= BY_REFERENCE_BYTES) {
      cuts.push(w.length);
      refs.push(e.data);
      refBytes += e.data.length;
    } else {
      w.raw(e.data);
    }
  }
  const inlinePayloadEnd = w.length;
  const payloadLen = inlinePayloadEnd - FRAME_HEADER_BYTES + refBytes;
  const total = frameBytes(payloadLen);
  const inlineTotal = total - refBytes;
  while (w.length < inlineTotal) w.u8(0);
  const buf = w.view();
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  dv.setUint32(0, payloadLen, true);
  dv.setUint32(inlineTotal - 8, payloadLen, true);
  dv.setUint32(inlineTotal - 4, TRAILER_MAGIC, true);
  buf[4] = RecordType.entries;
  buf[5] = CHECKSUM_CODE[WRITE_CHECKSUM];
  const chunks: Uint8Array[] = [];
  let crc = checksumUpdate(WRITE_CHECKSUM, 0, buf, 0, 8);
  let at = FRAME_HEADER_BYTES;
  for (let i = 0; i < refs.length; i++) {
    const cut = cuts[i]!;
    crc = checksumUpdate(WRITE_CHECKSUM, checksumUpdate(WRITE_CHECKSUM, crc, buf, at, cut), refs[i]!);
    chunks.push(buf.subarray(chunks.length === 0 ? 0 : at, cut), refs[i]!);
    at = cut;
  }
  crc = checksumUpdate(WRITE_CHECKSUM, crc, buf, at, inlinePayloadEnd);
  dv.setUint32(8, crc, true);
  chunks.push(buf.subarray(at, inlineTotal));
  return { chunks, bytes: total };
}

function hasByReference(entries: readonly Entry[]): boolean {
  for (const e of entries) if (e.data.length >= BY_REFERENCE_BYTES) return true;
  return false;
}

function decodePayload(type: number, buf: Uint8Array, start: number, end: number): WalRecord {
  const r = new ByteReader(buf, start, end);
  let rec: WalRecord;
  switch (type) {
    case RecordType.segmentHeader:
      rec = { kind: 'segmentHeader', seq: r.varint(), firstIndex: r.varint() };
      break;
    case RecordType.entries:
      rec = { kind: 'entries', entries: readEntries(r) };
      break;
    case RecordType.hardState:
      rec = { kind: 'hardState', hardState: readHardState(r) };
      break;
    case RecordType.snapshot:
      rec = { kind: 'snapshot', index: r.varint(), term: r.varint() };
      break;
    default:
      throw new CodecError(`unknown record type ${type}`);
  }
  if (r.remaining !== 0) throw new CodecError(`${r.remaining} trailing payload bytes`);
  return rec;
}

/** Length of a frame at p whose header and CRC check out, or -1. */
export function validFrameAt(buf: Uint8Array, dv: DataView, p: number): number {
  if (p + FRAME_HEADER_BYTES > buf.length) return -1;
  const type = buf[p + 4]!;
  if (type < RecordType.segmentHeader || type > RecordType.snapshot) return -1;
  const kind = CHECKSUM_OF_CODE[buf[p + 5]!];
  if (kind === undefined || buf[p + 6] !== 0 || buf[p + 7] !== 0) return -1;
  const len = dv.getUint32(p, true);
  if (len > buf.length) return -1;
  const size = frameBytes(len);
  if (p + size > buf.length) return -1;
  if (frameCrc(kind, buf, p, p + FRAME_HEADER_BYTES + len) !== dv.getUint32(p + 8, true)) return -1;
  for (let i = p + FRAME_HEADER_BYTES + len; i < p + size - FRAME_TRAILER_BYTES; i++) if (buf[i] !== 0) return -1;
  return size;
}

export function allZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Offset one past the last non-zero byte at or after `from` (== from if all zero). */
function nonZeroEnd(buf: Uint8Array, from: number): number {
  let i = buf.length;
  while (i > from && buf[i - 1] === 0) i--;
  return i;
}

export interface ScannedRecord {
  readonly record: WalRecord;
  readonly offset: number;
}

export interface SegmentScan {
  readonly records: ScannedRecord[];
  /** Offset just past the last valid record: where the next write goes. */
  readonly end: number;
  /** Set when rule 4 applied: the torn bytes [end, tornEnd) must be cut. */
  readonly torn?: { readonly offset: number; readonly bytes: number };
}

export class ScanError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * Decodes the frame at p, or returns undefined when no valid frame starts there (validFrameAt).
 * Throws ScanError (at base + p) when the frame checks out but its payload does not decode.
 */
export function recordAt(buf: Uint8Array, dv: DataView, p: number, base = 0): { record: WalRecord; size: number } | undefined {
  const size = validFrameAt(buf, dv, p);
  if (size <= 0) return undefined;
  const type = buf[p + 4]!;
  const len = dv.getUint32(p, true);
  try {
    return { record: decodePayload(type, buf, p + FRAME_HEADER_BYTES, p + FRAME_HEADER_BYTES + len), size };
  } catch (err) {
    throw new ScanError(base + p, `record with a valid checksum does not decode (${err instanceof Error ? err.message : String(err)})`);
  }
}

/**
 * THE RULE's verdict on a frame at p that does not check out, given every byte from p to the end of
 * the written data (`buf` may be a window that starts anywhere before p and ends anywhere after the
 * last non-zero byte; `base` is the file offset of buf[0], for the offsets reported).
 * Returns undefined for a clean end (rule 1), the torn bytes for rule 4; throws ScanError otherwise.
 */
export function judgeBadFrame(buf: Uint8Array, dv: DataView, p: number, isLast: boolean, base = 0): { offset: number; bytes: number } | undefined {
  // Rule 1: clean end of written data.
  if (allZero(buf, p)) return undefined;
  // Rule 2: a valid frame further on means mid-log corruption.
  for (let q = p + 8; q + FRAME_HEADER_BYTES <= buf.length; q += 8) {
    if (validFrameAt(buf, dv, q) > 0) {
      throw new ScanError(base + p, `bad record (checksum mismatch or broken frame) followed by a valid record at offset ${base + q}`);
    }
  }
  // Rule 3: a complete record (its trailer is there) that does not check out.
  const dataEnd = nonZeroEnd(buf, p);
  for (let q = p; q + FRAME_TRAILER_BYTES <= Math.min(buf.length, dataEnd + FRAME_TRAILER_BYTES); q += 8) {
    if (dv.getUint32(q + 4, true) === TRAILER_MAGIC && q + FRAME_TRAILER_BYTES - frameBytes(dv.getUint32(q, true)) === p) {
      throw new ScanError(base + p, 'record written completely but damaged since (checksum mismatch with an intact trailer)');
    }
  }
  // Rules 4 and 5.
  if (!isLast) throw new ScanError(base + p, 'bad record at the end of a segment that is not the last one');
  return { offset: base + p, bytes: dataEnd - p };
}

/** Scans one segment's bytes by THE RULE above. Throws ScanError (offset + reason) on corruption. */
export function scanSegment(buf: Uint8Array, isLast: boolean): SegmentScan {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: ScannedRecord[] = [];
  let p = 0;
  while (p < buf.length) {
    const r = recordAt(buf, dv, p);
    if (r) {
      records.push({ record: r.record, offset: p });
      p += r.size;
      continue;
    }
    const torn = judgeBadFrame(buf, dv, p, isLast);
    return torn ? { records, end: p, torn } : { records, end: p };
  }
  return { records, end: p };
}
