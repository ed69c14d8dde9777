// etcd's backend schema (server/storage/schema, server/storage/mvcc in etcd 3.6): bucket names,
// meta keys and the encodings of the rows tsetcd writes to and reads from an etcd snapshot.
//   key bucket:   17-byte revision key: main u64 BE, '_', sub u64 BE; a delete adds 't' (18 bytes).
//                 value: mvccpb.KeyValue (a tombstone holds only the key).
//   meta:         consistent_index, term (u64 BE); finishedCompactRev, scheduledCompactRev
//                 (17-byte revision keys with sub 0); confState (JSON); storageVersion ("3.6.0").
//   lease:        key int64 BE id; value leasepb.Lease {ID=1, TTL=2, RemainingTTL=3}.
//   alarm:        key etcdserverpb.AlarmMember {MemberID=1, Alarm=2}; empty value.
//   cluster:      clusterVersion ("3.6.0").
//   auth:         authEnabled (one byte, 0 = off), authRevision (u64 BE).
//   authUsers:    key user name; value authpb.User {name=1, password=2 (the bcrypt hash),
//                 roles=3 (repeated), options=4 {no_password=1}} (options always present).
//   authRoles:    key role name; value authpb.Role {name=1, keyPermission=2 (repeated
//                 Permission {permType=1, key=2, range_end=3})}.
//   members, members_removed: written empty (etcdutl restore writes the new members).
// Protobuf here is the few varint and bytes fields these messages have, written in field order
// with zero values left out, as gogoproto marshals them.

import { PbWriter, REV_KEY_BYTES, encodeKeyValue, revKey, type EtcdKeyValue } from '../mvcc/etcd-kv-encoding.js';

export { REV_KEY_BYTES, encodeKeyValue, revKey, type EtcdKeyValue };

export const ETCD_STORAGE_VERSION = '3.6.0';
export const ETCD_CLUSTER_VERSION = '3.6.0';

export const BUCKET = {
  key: 'key',
  meta: 'meta',
  lease: 'lease',
  alarm: 'alarm',
  cluster: 'cluster',
  members: 'members',
  membersRemoved: 'members_removed',
  auth: 'auth',
  authUsers: 'authUsers',
  authRoles: 'authRoles',
} as const;

export const META_KEY = {
  consistentIndex: 'consistent_index',
  term: 'term',
  finishedCompactRev: 'finishedCompactRev',
  scheduledCompactRev: 'scheduledCompactRev',
  confState: 'confState',
  storageVersion: 'storageVersion',
} as const;

export class EtcdSchemaError extends Error {
  readonly code = 'ErrEtcdSchema';
}

export function parseRevKey(b: Uint8Array): { main: number; sub: number; tombstone: boolean } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if ((buf.byteLength !== REV_KEY_BYTES && buf.byteLength !== REV_KEY_BYTES + 1) || buf[8] !== 0x5f) {
    throw new EtcdSchemaError(`not a revision key: ${buf.toString('hex')}`);
  }
  return { main: Number(buf.readBigUInt64BE(0)), sub: Number(buf.readBigUInt64BE(9)), tombstone: buf.byteLength === REV_KEY_BYTES + 1 && buf[17] === 0x74 };
}

export function u64be(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n), 0);
  return b;
}

type PbField = { kind: 'int'; value: bigint } | { kind: 'bytes'; value: Buffer };

/** Every field in order (repeated fields appear once per value). */
function* pbFields(b: Uint8Array): Generator<readonly [number, PbField]> {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let o = 0;
  const varint = (): bigint => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (o >= buf.byteLength) throw new EtcdSchemaError('protobuf: truncated varint');
      const c = buf[o++]!;
      x |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) return x;
      shift += 7n;
      if (shift > 63n) throw new EtcdSchemaError('protobuf: varint too long');
    }
  };
  while (o < buf.byteLength) {
    const tag = Number(varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) yield [field, { kind: 'int', value: varint() }];
    else if (wire === 2) {
      const n = Number(varint());
      if (o + n > buf.byteLength) throw new EtcdSchemaError('protobuf: truncated bytes');
      yield [field, { kind: 'bytes', value: buf.subarray(o, o + n) }];
      o += n;
    } else if (wire === 1) o += 8;
    else if (wire === 5) o += 4;
    else throw new EtcdSchemaError(`protobuf: unsupported wire type ${wire}`);
  }
}

/** The last value of each field. */
function readPb(b: Uint8Array): Map<number, PbField> {
  const out = new Map<number, PbField>();
  for (const [f, v] of pbFields(b)) out.set(f, v);
  return out;
}

function pbInt(m: Map<number, PbField>, f: number): bigint {
  const v = m.get(f);
  return v?.kind === 'int' ? BigInt.asIntN(64, v.value) : 0n;
}

function pbBytes(m: Map<number, PbField>, f: number): Buffer {
  const v = m.get(f);
  return v?.kind === 'bytes' ? v.value : Buffer.alloc(0);
}

function safeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < 0n) throw new EtcdSchemaError(`${what} ${v} is out of tsetcd's range (0..2^53-1)`);
  return Number(v);
}

export function decodeKeyValue(b: Uint8Array): EtcdKeyValue & { readonly lease: bigint } {
  const m = readPb(b);
  return {
    key: pbBytes(m, 1),
    createRevision: safeNumber(pbInt(m, 2), 'create_revision'),
    modRevision: safeNumber(pbInt(m, 3), 'mod_revision'),
    version: safeNumber(pbInt(m, 4), 'version'),
    value: pbBytes(m, 5),
    lease: pbInt(m, 6),
  };
}

export interface EtcdLease {
  readonly id: bigint;
  readonly ttl: number;
  readonly remainingTtl: number;
}

export function encodeLease(l: EtcdLease): Buffer {
  return new PbWriter().int(1, l.id).int(2, l.ttl).int(3, l.remainingTtl).finish();
}

export function decodeLease(b: Uint8Array): EtcdLease {
  const m = readPb(b);
  return { id: pbInt(m, 1), ttl: safeNumber(pbInt(m, 2), 'lease TTL'), remainingTtl: safeNumber(pbInt(m, 3), 'lease remaining TTL') };
}

export function leaseKey(id: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(id, 0);
  return b;
}

export interface EtcdAlarm {
  readonly memberId: bigint;
  readonly alarm: number;
}

export function encodeAlarm(a: EtcdAlarm): Buffer {
  return new PbWriter().int(1, a.memberId).int(2, a.alarm).finish();
}

export function decodeAlarm(b: Uint8Array): EtcdAlarm {
  const m = readPb(b);
  return { memberId: BigInt.asUintN(64, pbInt(m, 1)), alarm: Number(pbInt(m, 2)) };
}

export interface EtcdAuthUser {
  readonly name: string;
  /** The bcrypt hash as etcd keeps it (empty for a noPassword user). */
  readonly password: Uint8Array;
  readonly roles: readonly string[];
  readonly noPassword: boolean;
}

export function encodeAuthUser(u: EtcdAuthUser): Buffer {
  const w = new PbWriter().bytes(1, Buffer.from(u.name)).bytes(2, u.password);
  for (const r of u.roles) w.bytes(3, Buffer.from(r));
  return w.message(4, new PbWriter().int(1, u.noPassword ? 1 : 0).finish()).finish();
}

export function decodeAuthUser(b: Uint8Array): EtcdAuthUser {
  const m = readPb(b);
  const roles: string[] = [];
  for (const [f, v] of pbFields(b)) if (f === 3 && v.kind === 'bytes') roles.push(v.value.toString());
  const options = m.get(4);
  const noPassword = options?.kind === 'bytes' && pbInt(readPb(options.value), 1) !== 0n;
  return { name: pbBytes(m, 1).toString(), password: pbBytes(m, 2), roles, noPassword };
}

export interface EtcdAuthRole {
  readonly name: string;
  readonly perms: ReadonlyArray<{ readonly permType: number; readonly key: Uint8Array; readonly rangeEnd: Uint8Array }>;
}

export function encodeAuthRole(r: EtcdAuthRole): Buffer {
  const w = new PbWriter().bytes(1, Buffer.from(r.name));
  for (const p of r.perms) w.message(2, new PbWriter().int(1, p.permType).bytes(2, p.key).bytes(3, p.rangeEnd).finish());
  return w.finish();
}

export function decodeAuthRole(b: Uint8Array): EtcdAuthRole {
  const perms: Array<{ permType: number; key: Uint8Array; rangeEnd: Uint8Array }> = [];
  for (const [f, v] of pbFields(b)) {
    if (f !== 2 || v.kind !== 'bytes') continue;
    const p = readPb(v.value);
    perms.push({ permType: Number(pbInt(p, 1)), key: pbBytes(p, 2), rangeEnd: pbBytes(p, 3) });
  }
  return { name: pbBytes(readPb(b), 1).toString(), perms };
}

/** A revision key with sub 0 (finishedCompactRev, scheduledCompactRev) → its main revision. */
export function compactRevOf(v: Uint8Array | undefined): number {
  if (v === undefined || v.byteLength < 8) return 0;
  return Number(Buffer.from(v.buffer, v.byteOffset, 8).readBigUInt64BE(0));
}
