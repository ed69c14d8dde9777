// The pure part of the kubelet node's cluster DNS: parse a DNS query, answer it from a hosts
// file's names (RFC 1035 wire format, A records only). Real containers resolve Pod and Service
// names through it, as the node agent's Pods do through their /etc/hosts.

/** name (lower case, no trailing dot) -> IPv4 addresses, in file order. */
export type HostsTable = Map<string, string[]>;

export function parseHosts(text: string): HostsTable {
  const table: HostsTable = new Map();
  for (const raw of text.split('\n')) {
    const [ip, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (ip === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) continue; // IPv4 only: no AAAA answers
    for (const n of names) {
      const key = n.toLowerCase().replace(/\.$/, '');
      const ips = table.get(key) ?? [];
      if (!ips.includes(ip)) ips.push(ip);
      table.set(key, ips);
    }
  }
  return table;
}

export interface Question {
  name: string;
  type: number;
  klass: number;
  /** Offset just past the question, where answers begin in the reply. */
  end: number;
}

const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
const TTL_S = 5; // Pods come and go: short-lived answers

/** The first question of a query, or undefined when the packet is not a well-formed query. */
export function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || (msg.readUInt8(2) & 0x80) !== 0 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg.readUInt8(off);
    if (len === 0) { off += 1; break; }
    if (len > 63 || off + 1 + len > msg.length) return undefined; // no compression in a question
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), klass: msg.readUInt16BE(off + 2), end: off + 4 };
}

/**
 * The reply to one query: A records for a known name; no records (NOERROR) for another type of a
 * known name; NXDOMAIN for an unknown name, so resolvers move on through their search list.
 */
export function answer(query: Buffer, table: HostsTable): Buffer {
  const q = parseQuestion(query);
  if (q === undefined) return header(query.length >= 2 ? query.readUInt16BE(0) : 0, 0, RCODE_FORMERR, 0, 0);
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  const question = query.subarray(12, q.end);
  if (((flags >> 11) & 0xf) !== 0 || q.klass !== CLASS_IN) return Buffer.concat([header(id, flags, RCODE_NOTIMP, 1, 0), question]);
  const ips = table.get(q.name);
  if (ips === undefined) return Buffer.concat([header(id, flags, RCODE_NXDOMAIN, 1, 0), question]);
  const records = q.type === TYPE_A ? ips.map(aRecord) : [];
  return Buffer.concat([header(id, flags, 0, 1, records.length), question, ...records]);
}

/** Header of a reply: QR and AA set, RD copied from the query, RA set. */
function header(id: number, queryFlags: number, rcode: number, qdcount: number, ancount: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8000 | 0x0400 | (queryFlags & 0x0100) | 0x0080 | rcode, 2);
  h.writeUInt16BE(qdcount, 4);
  h.writeUInt16BE(ancount, 6);
  return h;
}

function aRecord(ip: string): Buffer {
  const r = Buffer.alloc(16);
  r.writeUInt16BE(0xc00c, 0); // pointer to the question's name at offset 12
  r.writeUInt16BE(TYPE_A, 2);
  r.writeUInt16BE(CLASS_IN, 4);
  r.writeUInt32BE(TTL_S, 6);
  r.writeUInt16BE(4, 10);
  ip.split('.').forEach((octet, i) => r.writeUInt8(Number(octet), 12 + i));
  return r;
}
