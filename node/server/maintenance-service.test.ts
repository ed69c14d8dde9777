// The Snapshot stream's hand-written SnapshotResponse: what a protobuf decoder (proto-loader's,
// as etcdctl's gogoproto) reads from it, fields out of numeric order, written in a chunk's
// headroom (no copy) or copied.
import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@grpc/proto-loader';
import { loadEtcdProtos } from './proto-load.js';
import { encodeSnapshotResponse, snapshotResponseAt } from './maintenance-service.js';

const snapshot = (loadEtcdProtos()['etcdserverpb.Maintenance'] as unknown as Record<string, MethodDefinition<unknown, { remainingBytes?: unknown; blob: Buffer; version: string; header?: unknown }>>)['Snapshot']!;

/** The decoded fields, the blob as whether it equals `want` (a deep compare of 1 MiB is slow). */
function decode(b: Buffer, want: Buffer): { remaining: number; blob: boolean; version: string; header: unknown } {
  const m = snapshot.responseDeserialize(b);
  return { remaining: Number(m.remainingBytes ?? 0), blob: Buffer.from(m.blob).equals(want), version: m.version, header: m.header ?? null };
}

describe('SnapshotResponse encoding', () => {
  for (const [remaining, len] of [
    [0, 1],
    [1, 32],
    [127, 128],
    [2 ** 31 + 5, 1 << 20],
    [2 ** 40, 300],
  ] as const) {
    it(`remaining ${remaining}, blob ${len} bytes: copied, and in the headroom`, () => {
      const blob = Buffer.alloc(len, 7);
      blob[0] = 1;
      const want = { remaining, blob: true, version: '3.6.0', header: null };
      expect(decode(encodeSnapshotResponse(remaining, blob), blob)).toEqual(want);
      const mem = Buffer.alloc(32 + len, 0xee);
      const piece = mem.subarray(32);
      blob.copy(piece);
      const msg = snapshotResponseAt(remaining, piece, 32);
      expect(msg.buffer).toBe(mem.buffer); // no copy
      expect(decode(msg, blob)).toEqual(want);
      expect(decode(snapshotResponseAt(remaining, piece, 3), blob)).toEqual(want); // too little room: a copy
    });
  }
});
