// Which methods have hand-written codecs (KV Range, Put and Txn: kv-codec.ts, txn-codec.ts; the
// Watch stream: watch-codec.ts; Lease KeepAlive, Grant and Revoke: lease-codec.ts), and how
// each stands in front of proto-loader's (de)serializer of the same method: whatever the
// hand-written one gives up on (odd bytes in, a value that needs proto-loader's conversions out)
// goes to proto-loader, which then answers as it always did.

import { omitProtoDefaults } from '../proto-defaults.js';
import { NotPlain, decodePutRequest, decodeRangeRequest, encodePutResponse, encodeRangeResponse } from './kv-codec.js';
import type { Decode } from './kv-codec.js';
import {
  decodeLeaseGrantRequest,
  decodeLeaseKeepAliveRequest,
  decodeLeaseRevokeRequest,
  encodeLeaseGrantResponse,
  encodeLeaseKeepAliveResponse,
  encodeLeaseRevokeResponse,
} from './lease-codec.js';
import { WireReader } from './proto-wire.js';
import { decodeTxnRequest, encodeTxnResponse } from './txn-codec.js';
import { decodeWatchRequest, encodeWatchResponse } from './watch-codec.js';

export interface MethodCodec {
  /** Request bytes to the request object (proto-loader's requestDeserialize as the fallback). */
  deserialize(b: Buffer): unknown;
  /** Response object to bytes (proto-loader's responseSerialize as the fallback). */
  serialize(v: unknown): Buffer;
}

interface LoaderMethod {
  requestDeserialize(b: Buffer): unknown;
  responseSerialize(v: unknown): Buffer;
}

/** Decodes with `fast`, or with proto-loader's `slow` when the fast path gives up. */
export function withFallback<T>(fast: Decode<T>, slow: (b: Buffer) => unknown): (b: Buffer) => unknown {
  return (b) => {
    const r = new WireReader(b);
    const v = fast(r);
    return v !== undefined && r.ok ? v : slow(b);
  };
}

/** Encodes with `fast`, or with proto-loader's `slow` for a value that needs its conversions. */
export function encoder<T>(fast: (m: T) => Buffer, slow: (v: unknown) => Buffer): (v: unknown) => Buffer {
  return (v) => {
    if (typeof v !== 'object' || v === null) return slow(v);
    try {
      return fast(v as T);
    } catch (e) {
      if (e instanceof NotPlain) return slow(v);
      throw e;
    }
  };
}

/**
 * The hand-written codecs for the methods that have them, each falling back to proto-loader's
 * own (de)serializer of the same method (responses through omitProtoDefaults, as every other
 * method's); undefined for every other method.
 */
export function hotMethodCodec(service: string, method: string, loader: LoaderMethod): MethodCodec | undefined {
  const de = loader.requestDeserialize.bind(loader);
  const ser = (v: unknown): Buffer => loader.responseSerialize(omitProtoDefaults(v));
  // Both directions hand-written, each in front of proto-loader's.
  const both = <Req, Res>(decode: Decode<Req>, encode: (m: Res) => Buffer): MethodCodec => ({
    deserialize: withFallback(decode, de),
    serialize: encoder(encode, ser),
  });
  switch (`${service}/${method}`) {
    case 'etcdserverpb.KV/Range':
      return both(decodeRangeRequest, encodeRangeResponse);
    case 'etcdserverpb.KV/Put':
      return both(decodePutRequest, encodePutResponse);
    case 'etcdserverpb.KV/Txn':
      return both(decodeTxnRequest, encodeTxnResponse);
    case 'etcdserverpb.Watch/Watch':
      return both(decodeWatchRequest, encodeWatchResponse);
    case 'etcdserverpb.Lease/LeaseKeepAlive':
      return both(decodeLeaseKeepAliveRequest, encodeLeaseKeepAliveResponse);
    case 'etcdserverpb.Lease/LeaseGrant':
      return both(decodeLeaseGrantRequest, encodeLeaseGrantResponse);
    case 'etcdserverpb.Lease/LeaseRevoke':
      return both(decodeLeaseRevokeRequest, encodeLeaseRevokeResponse);
    default:
      return undefined;
  }
}
