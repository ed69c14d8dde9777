// The gRPC definitions' decoders: ids exact as bigints, every other int64 a number, from the one
// protobufjs Root (proto-load.ts's grpcLoaderOptions).

import { describe, expect, it } from 'vitest';
import { loadEtcdProtos, loadEtcdProtosForJson } from './proto-load.js';

interface Codec {
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): unknown;
}

function codec(service: string, method: string): Codec {
  return (loadEtcdProtos()[`etcdserverpb.${service}`] as unknown as Record<string, Codec>)[method]!;
}

const BIG_ID = 2n ** 63n - 7n;

describe('loadEtcdProtos', () => {
  it('decodes the ids of REQUEST_ID_FIELDS exactly and the other int64s as numbers', () => {
    const grant = codec('Lease', 'LeaseGrant');
    expect(grant.requestDeserialize(grant.requestSerialize({ TTL: 60, ID: BIG_ID }))).toEqual({ TTL: 60, ID: BIG_ID });

    const txn = codec('KV', 'Txn');
    const req = {
      compare: [{ result: 0, target: 1, key: Buffer.from('k'), createRevision: 12, rangeEnd: Buffer.alloc(0) }],
      success: [{ requestPut: { key: Buffer.from('k'), value: Buffer.from('v'), lease: BIG_ID } }],
      failure: [{ requestRange: { key: Buffer.from('k'), revision: 7 } }],
    };
    const got = txn.requestDeserialize(txn.requestSerialize(req)) as {
      compare: Array<{ createRevision: unknown }>;
      success: Array<{ requestPut: { lease: unknown } }>;
      failure: Array<{ requestRange: { revision: unknown; limit: unknown } }>;
    };
    expect(got.compare[0]!.createRevision).toBe(12);
    expect(got.failure[0]!.requestRange).toMatchObject({ revision: 7, limit: 0 });
    expect(got.success[0]!.requestPut.lease).toBe(BIG_ID);
  });

  it('decodes int64s as numbers in requests without ids, before and after a wide decode', () => {
    const range = codec('KV', 'Range');
    const revoke = codec('Lease', 'LeaseRevoke');
    const bytes = range.requestSerialize({ key: Buffer.from('a'), revision: 41, limit: 3 });
    expect(range.requestDeserialize(bytes)).toMatchObject({ revision: 41, limit: 3 });
    expect(revoke.requestDeserialize(revoke.requestSerialize({ ID: BIG_ID }))).toEqual({ ID: BIG_ID });
    expect(range.requestDeserialize(bytes)).toMatchObject({ revision: 41, limit: 3 });
    // A request that fails to decode leaves the numbers mode on.
    expect(() => revoke.requestDeserialize(Buffer.from([0x08]))).toThrow();
    expect(range.requestDeserialize(bytes)).toMatchObject({ revision: 41, limit: 3 });
  });

  it('keeps the JSON definitions apart: int64 as strings, names as in the .proto', () => {
    const j = (loadEtcdProtosForJson()['etcdserverpb.Lease'] as unknown as Record<string, Codec>)['LeaseGrant']!;
    const grant = codec('Lease', 'LeaseGrant');
    expect(j.requestDeserialize(grant.requestSerialize({ TTL: 5, ID: BIG_ID }))).toEqual({ TTL: '5', ID: BIG_ID.toString() });
  });
});
