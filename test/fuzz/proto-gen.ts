// Random request messages for every etcd RPC, driven by the .proto definitions themselves
// (protobufjs reflection, the library @grpc/proto-loader is built on), so every field of every
// request is covered without a hand-written generator per message. Values lean towards what
// breaks servers: enums out of range, empty and doubly-set oneofs, nested txns, empty keys,
// int64 extremes. mutate() then damages the encoded bytes. Seeded: the same seed, the same bytes.

import protobuf from 'protobufjs';
import { join } from 'node:path';
import { protoDir } from '../../node/server/proto-load.js';
import type { TestRng } from '../../node/mvcc/testing/rng.js';

const MAX_DEPTH = 4;
const INT_EXTREMES: ReadonlyArray<number | string> = [-1, 2 ** 31, 2 ** 53, '9223372036854775807', '-9223372036854775808'];
const BAD_ENUMS: readonly number[] = [-1, 9, 100, 2 ** 31 - 1];
// Never a valid peer URL with a port: a fuzzed MemberAdd must not really grow the cluster.
const STRINGS: readonly string[] = ['', 'x', 'root', 'http://127.0.0.1', 'ftp://127.0.0.1:2380', 'http://', '\u0000', 'ünïcode'];
const KEYS: readonly string[] = ['a', 'k/1', 'k/2', 'fuzz', '\u0000', 'zz'];

let root: protobuf.Root | undefined;

function protoRoot(): protobuf.Root {
  if (!root) {
    const dir = protoDir();
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => join(dir, target);
    r.loadSync('rpc.proto', { keepCase: false });
    r.resolveAll();
    root = r;
  }
  return root;
}

export function requestType(service: string, method: string): protobuf.Type {
  const svc = protoRoot().lookupService(`etcdserverpb.${service}`);
  const m = svc.methods[method];
  if (!m) throw new Error(`no such rpc ${service}/${method}`);
  return m.resolvedRequestType as protobuf.Type;
}

function int(rng: TestRng, unsigned: boolean): number | string {
  const x = rng.next();
  if (x < 0.6) return rng.int(20);
  if (x < 0.8) return rng.int(1_000_000);
  const v = rng.pick(INT_EXTREMES);
  return unsigned && (v === -1 || (typeof v === 'string' && v.startsWith('-'))) ? '18446744073709551615' : v;
}

function bytes(rng: TestRng): Buffer {
  const x = rng.next();
  if (x < 0.45) return Buffer.from(rng.pick(KEYS));
  if (x < 0.6) return Buffer.alloc(0);
  if (x < 0.7) return Buffer.from([0]);
  const n = x < 0.95 ? rng.int(16) : rng.int(4096);
  return Buffer.from(Array.from({ length: n }, () => rng.int(256)));
}

/**
 * A few fields get values that pass etcd's first checks more often, so more requests get as far
 * as Raft and apply: a key is nearly always there, leases and revisions are mostly 0, flags
 * that forbid a value or a lease are mostly off. The other draws still cover the bad values.
 */
function usual(rng: TestRng, f: protobuf.Field): unknown {
  if (f.type === 'bytes' && f.name === 'key') return Buffer.from(rng.pick(KEYS));
  if (f.name === 'lease' || f.name === 'revision' || f.name === 'ID') return 0;
  if (f.type === 'bool') return false;
  return undefined;
}

function scalar(rng: TestRng, f: protobuf.Field, depth: number): unknown {
  if (rng.chance(0.6)) {
    const u = usual(rng, f);
    if (u !== undefined) return u;
  }
  if (f.resolvedType instanceof protobuf.Enum) {
    const valid = Object.values(f.resolvedType.values);
    return rng.chance(0.7) ? rng.pick(valid) : rng.pick(BAD_ENUMS);
  }
  if (f.resolvedType instanceof protobuf.Type) return depth < MAX_DEPTH ? message(rng, f.resolvedType, depth + 1) : {};
  switch (f.type) {
    case 'bool':
      return rng.chance(0.5);
    case 'bytes':
      return bytes(rng);
    case 'string':
      return rng.pick(STRINGS);
    case 'uint64':
    case 'uint32':
    case 'fixed64':
    case 'fixed32':
      return int(rng, true);
    default:
      return int(rng, false);
  }
}

function value(rng: TestRng, f: protobuf.Field, depth: number): unknown {
  if (!f.repeated) return scalar(rng, f, depth);
  // Mostly short lists; now and then one past etcd's 128-op limit.
  const n = rng.chance(0.03) ? 129 + rng.int(3) : rng.int(depth < 2 ? 5 : 2);
  return Array.from({ length: n }, () => scalar(rng, f, depth));
}

/** A random object for `type` (camelCase fields, as requestSerialize takes them). */
export function message(rng: TestRng, type: protobuf.Type, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    if (f.partOf) continue;
    if (rng.chance(f.name === 'key' ? 0.95 : 0.7)) out[f.name] = value(rng, f, depth);
  }
  for (const o of type.oneofsArray) {
    // None (an empty RequestOp), one (the common case), or now and then two set at once.
    const x = rng.next();
    const n = x < 0.15 ? 0 : x < 0.93 ? 1 : 2;
    for (let i = 0; i < n; i++) {
      const f = rng.pick(o.fieldsArray);
      out[f.name] = value(rng, f, depth);
    }
  }
  return out;
}

/** Encodes with every member of a oneof that is set (protobufjs would keep only one). */
export function encodeMessage(type: protobuf.Type, obj: Record<string, unknown>): Buffer {
  const parts: Buffer[] = [];
  const oneofSet = type.oneofsArray.flatMap((o) => o.fieldsArray.filter((f) => obj[f.name] !== undefined));
  const plain: Record<string, unknown> = { ...obj };
  for (const f of oneofSet.slice(1)) delete plain[f.name];
  parts.push(Buffer.from(type.encode(type.fromObject(plain)).finish()));
  // Extra oneof members as their own fields: on the wire a message is the concatenation of its fields.
  for (const f of oneofSet.slice(1)) parts.push(Buffer.from(type.encode(type.fromObject({ [f.name]: obj[f.name] })).finish()));
  return Buffer.concat(parts);
}

/** Damages encoded bytes: flips, inserts, deletes, truncates, or repeats a slice. */
export function mutate(rng: TestRng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(5)) {
      case 0:
        if (b.length > 0) b[at] = rng.int(256);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.int(256)]), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        break;
      case 3:
        b = b.subarray(0, at);
        break;
      default:
        b = Buffer.concat([b, b.subarray(at, at + 1 + rng.int(16))]);
    }
  }
  return b;
}

export function randomBytes(rng: TestRng, maxLen: number): Buffer {
  return Buffer.from(Array.from({ length: rng.int(maxLen + 1) }, () => rng.int(256)));
}
