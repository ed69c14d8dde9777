// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table driven. Used for HashKV,
// Hash and the snapshot trailer. Deterministic and byte-order independent.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Feed bytes into a running CRC (start with 0). Returns the new CRC, unsigned. */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Incremental hasher over numbers and bytes, via a small scratch buffer. */
export class Crc32cHasher {
  private crc = 0;
  private readonly scratch = new DataView(new ArrayBuffer(8));
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);

  /** An integer (exact up to 2^53) as 8 little-endian bytes of a float64-free encoding. */
  int(n: number): this {
    const lo = n % 0x100000000;
    const hi = Math.floor(n / 0x100000000);
    this.scratch.setUint32(0, lo >>> 0, true);
    this.scratch.setInt32(4, hi | 0, true);
    this.crc = crc32cUpdate(this.crc, this.scratchBytes);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.int(b.length);
    this.crc = crc32cUpdate(this.crc, b);
    return this;
  }

  digest(): number {
    return this.crc >>> 0;
  }
}
