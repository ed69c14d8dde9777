// The bytes etcd keeps for a key revision (server/storage/mvcc): the 17-byte revision key (main
// u64 BE, '_', sub u64 BE; a delete adds 't') and the mvccpb.KeyValue value (a tombstone holds
// only the key), written as gogoproto marshals them: fields in order, zero values left out.
// HashKV hashes these bytes exactly as etcd does, and the snapshot export writes them.

export const REV_KEY_BYTES = 17;

function writeU53BE(b: Buffer, n: number, at: number): void {
  b.writeUInt32BE(Math.floor(n / 0x100000000), at);
  b.writeUInt32BE(n % 0x100000000, at + 4);
}

export function revKey(main: number, sub: number, tombstone: boolean): Buffer {
  const b = Buffer.allocUnsafe(tombstone ? REV_KEY_BYTES + 1 : REV_KEY_BYTES);
  writeU53BE(b, main, 0);
  b[8] = 0x5f; // '_'
  writeU53BE(b, sub, 9);
  if (tombstone) b[17] = 0x74; // 't'
  return b;
}

// ---------------------------------------------------------------- protobuf (varint and bytes fields)

export class PbWriter {
  private parts: number[] = [];
  private blobs: Array<{ at: number; data: Uint8Array }> = [];
  private len = 0;

  private varint(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      // The common case (revisions, lengths, 53-bit ids) without BigInt.
      let x = v;
      while (x >= 0x80) {
        this.parts.push((x % 0x80) | 0x80);
        x = Math.floor(x / 0x80);
      }
      this.parts.push(x);
      return;
    }
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }

  int(field: number, v: number | bigint): this {
    if (v === 0 || v === 0n) return this;
    this.varint(field << 3);
    this.varint(v);
    return this;
  }

  bytes(field: number, v: Uint8Array): this {
    if (v.byteLength === 0) return this;
    this.varint((field << 3) | 2);
    this.varint(v.byteLength);
    this.blobs.push({ at: this.parts.length, data: v });
    this.len += v.byteLength;
    return this;
  }

  /** A nested message, written even when empty (gogoproto writes a non-nil empty message). */
  message(field: number, v: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(v.byteLength);
    if (v.byteLength > 0) {
      this.blobs.push({ at: this.parts.length, data: v });
      this.len += v.byteLength;
    }
    return this;
  }

  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.parts.length + this.len);
    let o = 0;
    let p = 0;
    for (const b of this.blobs) {
      while (p < b.at) out[o++] = this.parts[p++]!;
      out.set(b.data, o);
      o += b.data.byteLength;
    }
    while (p < this.parts.length) out[o++] = this.parts[p++]!;
    return out;
  }
}

export interface EtcdKeyValue {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  /** A bigint when read: etcd's lease ids use all 63 bits. */
  readonly lease: bigint | number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function uvarintBytes(n: number): number {
  let k = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    k++;
  }
  return k;
}

function putUvarint(b: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    b[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  b[at++] = n;
  return at;
}

/**
 * The encoded size of an mvccpb.KeyValue (etcd's kv.Size(), which
 * etcd_debugging_mvcc_total_put_size_in_bytes adds up): fields 1-6, each a one-byte tag.
 */
export function keyValueSize(keyBytes: number, createRevision: number, modRevision: number, version: number, valueBytes: number, lease: bigint | number): number {
  let size = 0;
  if (keyBytes > 0) size += 1 + uvarintBytes(keyBytes) + keyBytes;
  if (createRevision !== 0) size += 1 + uvarintBytes(createRevision);
  if (modRevision !== 0) size += 1 + uvarintBytes(modRevision);
  if (version !== 0) size += 1 + uvarintBytes(version);
  if (valueBytes > 0) size += 1 + uvarintBytes(valueBytes) + valueBytes;
  if (lease !== 0 && lease !== 0n) size += 1 + int64VarintBytes(lease);
  return size;
}

/** A varint's length for an int64 (a negative one takes 10 bytes). */
function int64VarintBytes(v: bigint | number): number {
  if (typeof v === 'number') return v < 0 ? 10 : uvarintBytes(v);
  if (v < 0n) return 10;
  let k = 1;
  for (let x = v; x >= 0x80n; x >>= 7n) k++;
  return k;
}

/** A lease id as a number for the one-allocation paths; -1 when only the general writer can take it. */
function leaseNumber(lease: bigint | number): number {
  // A lease id in [0, 2^53] as a number; a wider or negative one (int64 < 0: a 10-byte varint) -1.
  return typeof lease === 'bigint' ? (lease < 0n || lease > MAX_SAFE ? -1 : Number(lease)) : lease;
}

/** Fields 1-4 and field 5's tag and length, into b at o; returns where the value's bytes go. */
function putKeyValueHead(b: Buffer, o: number, key: Uint8Array, createRevision: number, modRevision: number, version: number, valueBytes: number): number {
  if (key.byteLength > 0) {
    b[o++] = 0x0a;
    o = putUvarint(b, o, key.byteLength);
    b.set(key, o);
    o += key.byteLength;
  }
  if (createRevision !== 0) {
    b[o++] = 0x10;
    o = putUvarint(b, o, createRevision);
  }
  if (modRevision !== 0) {
    b[o++] = 0x18;
    o = putUvarint(b, o, modRevision);
  }
  if (version !== 0) {
    b[o++] = 0x20;
    o = putUvarint(b, o, version);
  }
  if (valueBytes > 0) {
    b[o++] = 0x2a;
    o = putUvarint(b, o, valueBytes);
  }
  return o;
}

function putLease(b: Buffer, o: number, lease: number): number {
  if (lease === 0) return o;
  b[o++] = 0x30;
  return putUvarint(b, o, lease);
}

/** mvccpb.KeyValue in one allocation (the export's hot path); fields 1-6 each a one-byte tag. */
export function encodeKeyValue(kv: EtcdKeyValue): Buffer {
  const lease = leaseNumber(kv.lease);
  if (lease < 0) return encodeKeyValueSlow(kv);
  const size = keyValueSize(kv.key.byteLength, kv.createRevision, kv.modRevision, kv.version, kv.value.byteLength, lease);
  const b = Buffer.allocUnsafe(size);
  const o = putKeyValueHead(b, 0, kv.key, kv.createRevision, kv.modRevision, kv.version, kv.value.byteLength);
  b.set(kv.value, o);
  putLease(b, o + kv.value.byteLength, lease);
  return b;
}

function encodeKeyValueSlow(kv: EtcdKeyValue): Buffer {
  return new PbWriter().bytes(1, kv.key).int(2, kv.createRevision).int(3, kv.modRevision).int(4, kv.version).bytes(5, kv.value).int(6, kv.lease).finish();
}

/** One revision of a key as etcd stores it (a version of 0 is a delete). */
export interface RevisionRow {
  readonly main: number;
  readonly sub: number;
  readonly create: number;
  readonly version: number;
  readonly value: Uint8Array;
  /** etcd's int64 lease id; 0n for none. */
  readonly lease: bigint;
}

const NO_BYTES = new Uint8Array(0);

/** The key bucket row etcd holds for one revision: [revision key, mvccpb.KeyValue]. */
export function etcdKeyRow(key: Uint8Array, r: RevisionRow): [Buffer, Buffer] {
  const tombstone = r.version === 0;
  const kv = tombstone
    ? encodeKeyValue({ key, createRevision: 0, modRevision: 0, version: 0, value: NO_BYTES, lease: 0 })
    : encodeKeyValue({ key, createRevision: r.create, modRevision: r.main, version: r.version, value: r.value, lease: r.lease });
  return [revKey(r.main, r.sub, tombstone), kv];
}

/** A revision whose value can be written straight into a caller's buffer (mvcc/store.ts's Rev). */
export interface PlaceableRevisionRow extends RevisionRow {
  readonly vlen: number;
  valueInto(out: Uint8Array, at: number): void;
}

/** The byte length of etcdKeyRow(key, r)[1], without reading the value. */
export function etcdKeyRowValueBytes(keyBytes: number, r: PlaceableRevisionRow): number {
  return r.version === 0 ? keyValueSize(keyBytes, 0, 0, 0, 0, 0) : keyValueSize(keyBytes, r.create, r.main, r.version, r.vlen, r.lease);
}

/**
 * etcdKeyRow(key, r)[1] written into out at `at`, the value read straight there
 * (r.valueInto) rather than copied from a Buffer of its own.
 */
export function writeEtcdKeyRowValue(out: Buffer, at: number, key: Uint8Array, r: PlaceableRevisionRow): void {
  const lease = r.version === 0 ? 0 : leaseNumber(r.lease);
  if (lease < 0) {
    out.set(etcdKeyRow(key, r)[1], at);
    return;
  }
  if (r.version === 0) {
    putKeyValueHead(out, at, key, 0, 0, 0, 0);
    return;
  }
  const o = putKeyValueHead(out, at, key, r.create, r.main, r.version, r.vlen);
  r.valueInto(out, o);
  putLease(out, o + r.vlen, lease);
}
