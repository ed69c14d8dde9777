// An incremental CRC-32C hasher over integers and bytes, for HashKV, Hash and the snapshot
// trailer. The CRC itself is the shared slice-by-8 one in node/lib.
import { crc32cUpdate } from '../lib/crc32c.js';

/** Incremental hasher over integers and bytes; small writes are batched in a scratch buffer. */
export class Crc32cHasher {
  private crc = 0;
  private readonly buf = Buffer.allocUnsafe(8192);
  private pos = 0;

  private flush(): void {
    if (this.pos === 0) return;
    this.crc = crc32cUpdate(this.crc, this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** An integer (exact up to 2^53) as 8 little-endian bytes (low 32 bits, then high). */
  int(n: number): this {
    if (this.pos + 8 > this.buf.length) this.flush();
    const lo = n % 0x100000000;
    this.buf.writeUInt32LE(lo >>> 0, this.pos);
    this.buf.writeInt32LE(Math.floor(n / 0x100000000) | 0, this.pos + 4);
    this.pos += 8;
    return this;
  }

  /** A 64-bit id as 8 little-endian bytes of its two's complement: what int() writes for a safe integer. */
  big(n: bigint): this {
    if (this.pos + 8 > this.buf.length) this.flush();
    this.buf.writeBigInt64LE(BigInt.asIntN(64, n), this.pos);
    this.pos += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.int(b.length);
    if (b.length <= 512) {
      if (this.pos + b.length > this.buf.length) this.flush();
      this.buf.set(b, this.pos);
      this.pos += b.length;
    } else {
      this.flush();
      this.crc = crc32cUpdate(this.crc, b);
    }
    return this;
  }

  /** A latin1 string, hashed exactly like bytes() of its one-byte-per-char encoding. */
  latin1(str: string): this {
    this.int(str.length);
    if (str.length <= 512) {
      if (this.pos + str.length > this.buf.length) this.flush();
      this.pos += this.buf.write(str, this.pos, str.length, 'latin1');
    } else {
      this.flush();
      this.crc = crc32cUpdate(this.crc, Buffer.from(str, 'latin1'));
    }
    return this;
  }

  digest(): number {
    this.flush();
    return this.crc >>> 0;
  }
}
