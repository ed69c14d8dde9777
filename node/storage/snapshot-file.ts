// Snapshot files: snap/<term:016x>-<index:016x>.snap
//   magic "TSSNAP02" | u32le metaLength | metadata (codec.ts) | data ... | trailer
//   trailer = u32le crc32(metadata + data) | u32le dataLength low | u32le dataLength high | magic "TSSNAPEN"
// The magic names the checksum (checksum.ts): "TSSNAP02" CRC-32 (zlib's, native; written since
// 2026-12-02), "TSSNAP01" CRC-32C (the files written before; still read).
// The trailer at the end lets the data stream in chunks of unknown total size. A file that does not
// check out (short, bad magic, bad CRC) is never loaded; recovery falls back to an older one.

import { decodeSnapshotMetadata, encodeSnapshotMetadata } from './codec.js';
import { checksumUpdate, WRITE_CHECKSUM, type ChecksumKind } from './checksum.js';
import type { Snapshot, SnapshotMetadata } from '../raft/types.js';
import type { ReadableFile } from './fs.js';
import type { SnapshotData } from './types.js';

const MAGICS: Record<ChecksumKind, Uint8Array> = { crc32c: new TextEncoder().encode('TSSNAP01'), crc32: new TextEncoder().encode('TSSNAP02') };
const MAGIC = MAGICS[WRITE_CHECKSUM];
const END_MAGIC = new TextEncoder().encode('TSSNAPEN');
const TRAILER_BYTES = 12 + END_MAGIC.length;

export const SNAP_SUFFIX = '.snap';
const SLICE_BYTES = 1024 * 1024;

export function snapshotFileName(index: number, term: number): string {
  return `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}${SNAP_SUFFIX}`;
}

export function parseSnapshotFileName(name: string): { index: number; term: number } | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name);
  if (!m) return undefined;
  return { term: parseInt(m[1] as string, 16), index: parseInt(m[2] as string, 16) };
}

/** Streams a snapshot file's bytes: header, data chunks, trailer. */
export async function* snapshotFileChunks(metadata: SnapshotMetadata, data: SnapshotData): AsyncGenerator<Uint8Array> {
  const meta = encodeSnapshotMetadata(metadata);
  const head = new Uint8Array(MAGIC.length + 4 + meta.length);
  head.set(MAGIC, 0);
  new DataView(head.buffer).setUint32(MAGIC.length, meta.length, true);
  head.set(meta, MAGIC.length + 4);
  yield head;
  let crc = checksumUpdate(WRITE_CHECKSUM, 0, meta);
  let dataLen = 0;
  const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = data instanceof Uint8Array ? [data] : data;
  for await (const chunk of chunks) {
    // Slices of at most 1 MiB: the CRC of each is ~1 ms, and the writer awaits a write between
    // them, so a large snapshot never holds the event loop for long (heartbeats keep flowing).
    for (let off = 0; off < chunk.length; off += SLICE_BYTES) {
      const c = chunk.subarray(off, Math.min(chunk.length, off + SLICE_BYTES));
      crc = checksumUpdate(WRITE_CHECKSUM, crc, c);
      dataLen += c.length;
      yield c;
    }
  }
  const trailer = new Uint8Array(TRAILER_BYTES);
  const dv = new DataView(trailer.buffer);
  dv.setUint32(0, crc, true);
  dv.setUint32(4, dataLen % 0x1_0000_0000, true);
  dv.setUint32(8, Math.floor(dataLen / 0x1_0000_0000), true);
  trailer.set(END_MAGIC, 12);
  yield trailer;
}

function eq(a: Uint8Array, aStart: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[aStart + i] !== b[i]) return false;
  return true;
}

/** The checksum a file's leading magic names, or undefined if it is no snapshot file's. */
function checksumOfMagic(buf: Uint8Array): ChecksumKind | undefined {
  for (const kind of ['crc32', 'crc32c'] as const) if (eq(buf, 0, MAGICS[kind])) return kind;
  return undefined;
}

/** Parses and verifies a snapshot file; returns the reason when it does not check out. */
export function decodeSnapshotFile(buf: Uint8Array): Snapshot | { invalid: string } {
  if (buf.length < MAGIC.length + 4 + TRAILER_BYTES) return { invalid: `file too short (${buf.length} bytes)` };
  const kind = checksumOfMagic(buf);
  if (kind === undefined) return { invalid: 'bad magic' };
  if (!eq(buf, buf.length - END_MAGIC.length, END_MAGIC)) return { invalid: 'bad end magic (incomplete file?)' };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const metaLen = dv.getUint32(MAGIC.length, true);
  const metaStart = MAGIC.length + 4;
  const dataStart = metaStart + metaLen;
  const dataEnd = buf.length - TRAILER_BYTES;
  if (dataStart > dataEnd) return { invalid: 'metadata overruns the file' };
  const t = dataEnd;
  const wantCrc = dv.getUint32(t, true);
  const wantLen = dv.getUint32(t + 4, true) + dv.getUint32(t + 8, true) * 0x1_0000_0000;
  if (wantLen !== dataEnd - dataStart) return { invalid: `data length ${dataEnd - dataStart} != recorded ${wantLen}` };
  const crc = checksumUpdate(kind, 0, buf, metaStart, dataEnd);
  if (crc !== wantCrc) return { invalid: 'checksum mismatch' };
  let metadata: SnapshotMetadata;
  try {
    metadata = decodeSnapshotMetadata(buf.subarray(metaStart, dataStart));
  } catch (err) {
    return { invalid: `metadata does not decode: ${err instanceof Error ? err.message : String(err)}` };
  }
  // A plain Uint8Array view (not a Buffer) over the file's bytes.
  return { metadata, data: new Uint8Array(buf.buffer, buf.byteOffset + dataStart, dataEnd - dataStart) };
}

/** Where a checked snapshot file keeps its parts. */
export interface SnapshotFileInfo {
  readonly metadata: SnapshotMetadata;
  readonly dataOffset: number;
  readonly dataBytes: number;
  readonly crc: number;
  readonly checksum: ChecksumKind;
}

/**
 * The same checks as decodeSnapshotFile, in bounded reads: header and trailer, then (checkCrc) the
 * CRC over metadata and data, chunk by chunk; without it, snapshotFileData checks the CRC as it reads. Returns where the data lies, or why the file is refused.
 */
export async function checkSnapshotFile(file: ReadableFile, chunkBytes: number, checkCrc = true): Promise<SnapshotFileInfo | { invalid: string }> {
  const size = file.sizeBytes;
  if (size < MAGIC.length + 4 + TRAILER_BYTES) return { invalid: `file too short (${size} bytes)` };
  const head = await file.read(0, MAGIC.length + 4);
  const kind = checksumOfMagic(head);
  if (kind === undefined) return { invalid: 'bad magic' };
  const trailer = await file.read(size - TRAILER_BYTES, TRAILER_BYTES);
  if (trailer.length !== TRAILER_BYTES || !eq(trailer, 12, END_MAGIC)) return { invalid: 'bad end magic (incomplete file?)' };
  const metaLen = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(MAGIC.length, true);
  const metaStart = MAGIC.length + 4;
  const dataStart = metaStart + metaLen;
  const dataEnd = size - TRAILER_BYTES;
  if (dataStart > dataEnd) return { invalid: 'metadata overruns the file' };
  const tv = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  const wantCrc = tv.getUint32(0, true);
  const wantLen = tv.getUint32(4, true) + tv.getUint32(8, true) * 0x1_0000_0000;
  if (wantLen !== dataEnd - dataStart) return { invalid: `data length ${dataEnd - dataStart} != recorded ${wantLen}` };
  const meta = await file.read(metaStart, metaLen);
  if (checkCrc) {
    let crc = checksumUpdate(kind, 0, meta);
    for (let off = dataStart; off < dataEnd; off += chunkBytes) {
      const c = await file.read(off, Math.min(chunkBytes, dataEnd - off));
      if (c.length === 0) return { invalid: 'file shrank while read' };
      crc = checksumUpdate(kind, crc, c);
    }
    if (crc !== wantCrc) return { invalid: 'checksum mismatch' };
  }
  let metadata: SnapshotMetadata;
  try {
    metadata = decodeSnapshotMetadata(meta);
  } catch (err) {
    return { invalid: `metadata does not decode: ${err instanceof Error ? err.message : String(err)}` };
  }
  return { metadata, dataOffset: dataStart, dataBytes: wantLen, crc: wantCrc, checksum: kind };
}

/**
 * The data of a checked snapshot file, in chunks of at most chunkBytes, read on demand (the file is
 * opened when iteration starts and closed when it ends). With `verify`, the CRC is checked on the
 * way: the iterator throws before its last chunk if the file does not match its trailer (it was
 * only checked in part, or long ago). Without, the caller checked the whole file just before.
 */
export async function* snapshotFileData(open: () => Promise<ReadableFile>, info: SnapshotFileInfo, chunkBytes: number, verify = true): AsyncGenerator<Uint8Array> {
  const file = await open();
  try {
    let crc = verify ? checksumUpdate(info.checksum, 0, await file.read(MAGIC.length + 4, info.dataOffset - MAGIC.length - 4)) : 0;
    const end = info.dataOffset + info.dataBytes;
    let pending: Uint8Array | undefined;
    for (let off = info.dataOffset; off < end; ) {
      const c = await file.read(off, Math.min(chunkBytes, end - off));
      if (c.length === 0) throw new Error(`snapshot file shrank while read (at byte ${off})`);
      if (verify) crc = checksumUpdate(info.checksum, crc, c);
      off += c.length;
      // Hold each chunk back one step, so the last one is only handed out after the CRC checked.
      if (pending) yield pending;
      pending = c;
    }
    if (verify && crc !== info.crc) throw new Error('snapshot file changed since it was checked (checksum mismatch)');
    if (pending) yield pending;
  } finally {
    await file.close().catch(() => undefined);
  }
}
