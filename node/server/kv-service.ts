// The KV service: Range, Put, DeleteRange, Txn, Compact.
// A large Range answer is encoded in bounded chunks with an event-loop yield between them, so a
// 100k-key read never holds the loop for long (heartbeats must leave on time). Protobuf lets us
// do this: concatenated encodings of one message type merge, repeated fields appending.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../mvcc/types.js';
import { authInfoOf, checkRead, checkReadStillValid, checkTxnRead } from './auth-check.js';
import { isReadOnlyTxn } from '../mvcc/txn-kind.js';
import { checkSize, putSize, txnSize } from './request-size.js';
import type { ServerContext } from './rpc-context.js';
import { checkCommand, checkRange, completeHeader, unary } from './rpc-context.js';
import { CounterTally } from './counter-tally.js';

/** Key-values per encoded chunk of a Range answer. */
export const RANGE_CHUNK_KVS = 2000;

export type Serialize = (value: unknown) => Buffer;

/** Encodes a RangeResponse in chunks, yielding to the event loop between them. */
export async function encodeRangeChunked(resp: RangeResponse, serialize: Serialize): Promise<Buffer> {
  const parts: Buffer[] = [];
  const kvs = resp.kvs;
  for (let i = 0; i < kvs.length; i += RANGE_CHUNK_KVS) {
    parts.push(serialize({ kvs: kvs.slice(i, i + RANGE_CHUNK_KVS) }));
    await yieldLoop();
  }
  parts.push(serialize({ header: resp.header, more: resp.more, count: resp.count }));
  return Buffer.concat(parts);
}

export function kvService(ctx: ServerContext, serializeRange: Serialize): UntypedServiceImplementation {
  const b = ctx.backend;
  const S = 'etcdserverpb.KV';
  const ranges = new CounterTally(ctx.metrics.mvccRange, {});

  return {
    Range: unary<RangeRequest, RangeResponse>(
      ctx,
      S,
      'Range',
      (r) => r.serializable === true,
      // Not an async function: its frame would wait out a linearizable read's barrier with each
      // of the thousand calls in flight, long enough to be promoted and wait for a full GC.
      (req, call) => {
        checkRange(req);
        const ai = checkRead(ctx, call, req.key, req.rangeEnd);
        return b.range(req, { linearizable: !req.serializable }).then<RangeResponse | Buffer>((resp) => {
          checkReadStillValid(ctx, ai);
          ranges.inc();
          resp.header = completeHeader(ctx, resp.header);
          if (resp.kvs.length > RANGE_CHUNK_KVS) return encodeRangeChunked(resp, serializeRange);
          return resp;
        });
      },
    ),
    Put: unary<PutRequest, unknown>(
      ctx,
      S,
      'Put',
      () => false,
      // Not an async function: one would keep `req` (the value, and the request buffer it is a view
      // of) until the put is applied, long enough to be promoted and wait for a full GC. The
      // proposal has its own copy once b.put returns.
      (req, call) => {
        checkCommand(ctx, { type: 'put', req });
        checkSize(putSize(req), ctx.limits);
        return b.put(req, authInfoOf(ctx, call)).then((resp) => {
          ctx.metrics.mvccPut.inc();
          resp.header = completeHeader(ctx, resp.header);
          return resp;
        });
      },
    ),
    DeleteRange: unary<DeleteRangeRequest, unknown>(
      ctx,
      S,
      'DeleteRange',
      () => false,
      async (req, call) => {
        checkCommand(ctx, { type: 'deleteRange', req });
        const resp = await b.deleteRange(req, authInfoOf(ctx, call));
        ctx.metrics.mvccDelete.inc();
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
    Txn: unary<TxnRequest, TxnResponse>(
      ctx,
      S,
      'Txn',
      () => false,
      async (req, call) => {
        checkCommand(ctx, { type: 'txn', req });
        let resp: TxnResponse;
        if (isReadOnlyTxn(req)) {
          // Served locally (no apply to check it at): etcd's doSerialize check, before and after.
          const ai = checkTxnRead(ctx, call, req);
          resp = await b.txn(req, { readOnly: true }, ai);
          checkReadStillValid(ctx, ai);
        } else {
          checkSize(txnSize(req), ctx.limits);
          // Every compare and op of every branch is checked at apply (node/mvcc/auth-gate.ts).
          resp = await b.txn(req, { readOnly: false }, authInfoOf(ctx, call));
        }
        ctx.metrics.mvccTxn.inc();
        // Only the outer header carries the member's identity; etcd leaves the headers of the
        // responses inside a txn with their revision alone.
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
    Compact: unary<CompactionRequest, CompactionResponse>(
      ctx,
      S,
      'Compact',
      () => false,
      async (req, call) => {
        checkCommand(ctx, { type: 'compaction', req });
        const resp = await b.compact(req, authInfoOf(ctx, call));
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
  };
}
