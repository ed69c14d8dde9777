// The size of an unsigned LEB128 varint (7 bits a byte), as both the gRPC wire codec
// (server/codec/proto-wire.ts) and the MVCC store's own records (mvcc/codec.ts) write it.

/** Bytes of the varint of a non-negative integer n (n < 2^64). */
export function uvarintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  let size = 2;
  for (n = Math.floor(n / 0x4000); n > 0; n = Math.floor(n / 0x80)) size++;
  return size;
}
