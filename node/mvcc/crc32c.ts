// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8 (eight tables, eight
// bytes per step). Used for HashKV, Hash and the snapshot trailer. Deterministic.

const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  const ts = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = ts[k - 1]!;
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!;
    ts.push(t);
  }
  return ts;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];

/** Feed bytes into a running CRC (start with 0). Returns the new CRC, unsigned. */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  let c = ~crc;
  let i = 0;
  const n = bytes.length;
  const end8 = n - (n & 7);
  for (; i < end8; i += 8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

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
