// HPACK (RFC 7541) for the client API's own HTTP/2 server: a full decoder for request header
// blocks (static table, dynamic table with eviction and size updates, Huffman strings, every
// literal form) and the few encoder forms the answers need. The encoder never indexes: answers
// are literals without indexing (or static-table references), so our side keeps no dynamic
// table, and the one size update to 0 that opens our first block on a connection makes any
// SETTINGS_HEADER_TABLE_SIZE the peer chooses safe. Strings are latin1, byte for byte.

import { huffmanDecode } from './huffman.js';

/** A header block the peer encoded wrongly: a COMPRESSION_ERROR on the connection. */
export class HpackError extends Error {}

/** RFC 7541 Appendix A. Index 1 is STATIC[0]. */
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

const ENTRY_OVERHEAD = 32;
/** The header table size both sides start with (and the one we advertise). */
export const DEFAULT_TABLE_SIZE = 4096;

/** A decoded block: names and values alternating, and the list's size as RFC 9113 counts it. */
export interface DecodedBlock {
  readonly fields: string[];
  /** Sum of name + value + 32 over every field, kept or not. */
  readonly listSize: number;
  /** True when the list passed maxListSize: fields past the limit were decoded but not kept. */
  readonly tooLarge: boolean;
}

export class HpackDecoder {
  /** Oldest first: HPACK index 62 is the last element. */
  private readonly table: Array<readonly [string, string]> = [];
  private size = 0;
  private maxSize = DEFAULT_TABLE_SIZE;
  private pos = 0;
  private buf: Buffer = Buffer.alloc(0);

  /** @param limit our SETTINGS_HEADER_TABLE_SIZE: the most a size update may ask for. */
  constructor(private readonly limit = DEFAULT_TABLE_SIZE) {}

  /** Decodes one whole header block; throws HpackError on any encoding error. */
  decode(block: Buffer, maxListSize: number): DecodedBlock {
    this.buf = block;
    this.pos = 0;
    const fields: string[] = [];
    let listSize = 0;
    let tooLarge = false;
    let fieldSeen = false;
    while (this.pos < block.length) {
      const b = block[this.pos]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        const [n, v] = this.entry(this.int(7));
        name = n;
        value = v;
      } else if (b & 0x40) {
        [name, value] = this.literal(6);
        this.add(name, value);
      } else if (b & 0x20) {
        // Dynamic table size update: only before the block's first field (RFC 7541 4.2).
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const n = this.int(5);
        if (n > this.limit) throw new HpackError(`dynamic table size update ${n} above the limit ${this.limit}`);
        this.maxSize = n;
        this.evict(0);
        continue;
      } else {
        // Without indexing (0000) and never indexed (0001): 4-bit prefix.
        [name, value] = this.literal(4);
      }
      fieldSeen = true;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize > maxListSize) tooLarge = true;
      else fields.push(name, value);
    }
    this.buf = EMPTY;
    return { fields, listSize, tooLarge };
  }

  /** An integer with an n-bit prefix (RFC 7541 5.1), bounded to 2^31 - 1. */
  private int(prefixBits: number): number {
    const buf = this.buf;
    const mask = (1 << prefixBits) - 1;
    let v = buf[this.pos++]! & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= buf.length) throw new HpackError('truncated integer');
      const b = buf[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (v > 0x7fffffff) throw new HpackError('integer overflow');
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  }

  private str(): string {
    if (this.pos >= this.buf.length) throw new HpackError('truncated string');
    const huffman = (this.buf[this.pos]! & 0x80) !== 0;
    const len = this.int(7);
    const end = this.pos + len;
    if (end > this.buf.length) throw new HpackError('string past the end of the block');
    const raw = this.buf.subarray(this.pos, end);
    this.pos = end;
    if (!huffman) return raw.toString('latin1');
    const s = huffmanDecode(raw);
    if (s === undefined) throw new HpackError('invalid Huffman string');
    return s;
  }

  private literal(prefixBits: number): [string, string] {
    const index = this.int(prefixBits);
    const name = index === 0 ? this.str() : this.entry(index)[0];
    return [name, this.str()];
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const i = this.table.length - 1 - (index - STATIC_TABLE.length - 1);
    if (i < 0) throw new HpackError(`index ${index} past the dynamic table`);
    return this.table[i]!;
  }

  private add(name: string, value: string): void {
    const s = name.length + value.length + ENTRY_OVERHEAD;
    if (s > this.maxSize) {
      // Not an error: an entry larger than the table empties it (RFC 7541 4.4).
      this.table.length = 0;
      this.size = 0;
      return;
    }
    this.evict(s);
    this.table.push([name, value]);
    this.size += s;
  }

  /** Evicts oldest entries until `room` more octets fit under maxSize. */
  private evict(room: number): void {
    let drop = 0;
    while (this.size + room > this.maxSize && drop < this.table.length) {
      const [n, v] = this.table[drop]!;
      this.size -= n.length + v.length + ENTRY_OVERHEAD;
      drop++;
    }
    if (drop > 0) this.table.splice(0, drop);
  }
}

const EMPTY = Buffer.alloc(0);

/** An integer with an n-bit prefix whose high bits are `flags`. */
export function encodeInt(flags: number, prefixBits: number, v: number, out: number[]): void {
  const mask = (1 << prefixBits) - 1;
  if (v < mask) {
    out.push(flags | v);
    return;
  }
  out.push(flags | mask);
  v -= mask;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function encodeStr(s: string, out: number[]): void {
  const b = Buffer.from(s, 'latin1');
  encodeInt(0, 7, b.length, out);
  for (const x of b) out.push(x);
}

const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([n], i) => {
  if (!STATIC_NAME.has(n)) STATIC_NAME.set(n, i + 1);
});
const STATIC_PAIR = new Map<string, number>(STATIC_TABLE.map(([n, v], i) => [`${n}\0${v}`, i + 1]));

/**
 * A header block for fields in order: a static-table reference when the pair is there, else a
 * literal without indexing (the static name's index when it has one). No Huffman, no dynamic table.
 */
export function encodeBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const pair = STATIC_PAIR.get(`${name}\0${value}`);
    if (pair !== undefined) {
      encodeInt(0x80, 7, pair, out);
      continue;
    }
    const ni = STATIC_NAME.get(name);
    if (ni !== undefined) encodeInt(0, 4, ni, out);
    else {
      out.push(0);
      encodeStr(name, out);
    }
    encodeStr(value, out);
  }
  return Buffer.from(out);
}

/** A dynamic table size update to 0: opens our first header block on a connection. */
export const TABLE_SIZE_ZERO = Buffer.from([0x20]);
