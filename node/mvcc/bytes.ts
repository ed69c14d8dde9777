// Byte helpers. Keys are indexed as latin1 strings ("skeys"): one char per byte, so
// JS string order (UTF-16 code units) is exactly etcd's bytes.Compare order, and a
// Map lookup is a native string hash. The global Buffer is allowed in the pure room.

export const EMPTY = new Uint8Array(0);

/** The index key of a byte key: latin1, one char per byte, no copy of the bytes. */
export function skeyOf(key: Uint8Array): string {
  if (Buffer.isBuffer(key)) return key.toString('latin1');
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export function bytesOfSkey(skey: string): Uint8Array {
  return Buffer.from(skey, 'latin1');
}

/** An owned copy of caller bytes (pooled by Buffer for small sizes). */
export function copyBytes(b: Uint8Array | undefined): Uint8Array {
  if (b === undefined || b.length === 0) return EMPTY;
  return Buffer.from(b);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.compare(a, b) === 0;
}

/**
 * A key range in index form. `end === undefined`: the single key `start`.
 * `end === ''`: unbounded (every key >= start). Otherwise [start, end).
 */
export interface SkeyRange {
  readonly start: string;
  readonly end: string | undefined;
}

/** etcd's key/range_end convention: empty end = one key, [0x00] = from key, else [key, end). */
export function skeyRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): SkeyRange {
  const start = skeyOf(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: '' };
  return { start, end: skeyOf(rangeEnd) };
}

export function inSkeyRange(r: SkeyRange, skey: string): boolean {
  if (r.end === undefined) return skey === r.start;
  if (skey < r.start) return false;
  return r.end === '' || skey < r.end;
}

/** True when the range can hold no key ([a, b) with b <= a). */
export function isEmptyRange(r: SkeyRange): boolean {
  return r.end !== undefined && r.end !== '' && r.end <= r.start;
}

/** The range_end that selects every key with this prefix (etcd's clientv3.GetPrefixRangeEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Uint8Array.of(0); // all 0xff: every key >= prefix
}
