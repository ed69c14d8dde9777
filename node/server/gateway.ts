// etcd's JSON gateway under /v3/ (what grpc-gateway serves in etcd): every route is a POST
// whose body is the request message in JSON; bytes are base64 and 64-bit integers are strings.
// A unary call is converted JSON -> protobuf (the JSON definition) -> our request objects (the
// gRPC definition) and handed to the same handler the gRPC server uses; the answer goes back the
// other way. /v3/watch streams newline-separated {"result": ...} objects until the client goes
// away; /v3/maintenance/snapshot streams the Snapshot stream's messages the same way;
// /v3/lease/keepalive answers one {"result": ...}. Errors: {"error","code","message"}.

import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import type { handleUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import type { Request, Response, Router } from 'express';
import express from 'express';
import type { WatchCreateRequest, WatchResponse } from '../mvcc/types.js';
import { httpStatusOf, toServiceError } from './errors.js';
import { loadEtcdProtos, loadEtcdProtosForJson } from './proto-load.js';
import type { ServerContext } from './rpc-context.js';
import { completeHeader } from './rpc-context.js';

type AnyMethod = MethodDefinition<unknown, unknown>;

/** Path under /v3 -> [service, method]. */
export const GATEWAY_ROUTES: Readonly<Record<string, readonly [string, string]>> = {
  '/kv/range': ['KV', 'Range'],
  '/kv/put': ['KV', 'Put'],
  '/kv/deleterange': ['KV', 'DeleteRange'],
  '/kv/txn': ['KV', 'Txn'],
  '/kv/compaction': ['KV', 'Compact'],
  '/lease/grant': ['Lease', 'LeaseGrant'],
  '/lease/revoke': ['Lease', 'LeaseRevoke'],
  '/kv/lease/revoke': ['Lease', 'LeaseRevoke'],
  '/lease/timetolive': ['Lease', 'LeaseTimeToLive'],
  '/kv/lease/timetolive': ['Lease', 'LeaseTimeToLive'],
  '/lease/leases': ['Lease', 'LeaseLeases'],
  '/kv/lease/leases': ['Lease', 'LeaseLeases'],
  '/cluster/member/add': ['Cluster', 'MemberAdd'],
  '/cluster/member/remove': ['Cluster', 'MemberRemove'],
  '/cluster/member/update': ['Cluster', 'MemberUpdate'],
  '/cluster/member/list': ['Cluster', 'MemberList'],
  '/cluster/member/promote': ['Cluster', 'MemberPromote'],
  '/maintenance/alarm': ['Maintenance', 'Alarm'],
  '/maintenance/status': ['Maintenance', 'Status'],
  '/maintenance/defragment': ['Maintenance', 'Defragment'],
  '/maintenance/hash': ['Maintenance', 'Hash'],
  '/maintenance/hashkv': ['Maintenance', 'HashKV'],
  '/maintenance/transfer-leadership': ['Maintenance', 'MoveLeader'],
  '/auth/status': ['Auth', 'AuthStatus'],
};

/** Max JSON body; base64 makes a max-size request about 4/3 larger. */
function bodyLimitBytes(ctx: ServerContext): number {
  return Math.ceil((ctx.limits.maxRequestBytes * 4) / 3) + 64 * 1024;
}

function method(def: PackageDefinition, svc: string, name: string): AnyMethod {
  const s = def[`etcdserverpb.${svc}`] as unknown as Record<string, AnyMethod> | undefined;
  const m = s?.[name];
  if (!m) throw new Error(`gateway: no method ${svc}/${name}`);
  return m;
}

function parseBody(req: Request): Record<string, unknown> {
  const raw: unknown = req.body;
  const text = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('utf8') : '';
  if (text.trim() === '') return {};
  const v: unknown = JSON.parse(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('request body must be a JSON object');
  return v as Record<string, unknown>;
}

function sendError(res: Response, err: unknown): void {
  const se = toServiceError(err);
  res.status(httpStatusOf(se.code)).json({ error: se.details, code: se.code, message: se.details });
}

function badRequest(res: Response, err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  res.status(400).json({ error: msg, code: 3, message: msg });
}

export function gatewayRouter(ctx: ServerContext, impls: Map<string, UntypedServiceImplementation>): Router {
  const grpcDef = loadEtcdProtos();
  const jsonDef = loadEtcdProtosForJson();
  const router = express.Router();
  router.use(express.raw({ type: () => true, limit: bodyLimitBytes(ctx) }));

  for (const [path, [svc, name]] of Object.entries(GATEWAY_ROUTES)) {
    const g = method(grpcDef, svc, name);
    const j = method(jsonDef, svc, name);
    const handler = impls.get(`etcdserverpb.${svc}`)?.[name] as handleUnaryCall<unknown, unknown> | undefined;
    if (!handler) throw new Error(`gateway: no handler for ${svc}/${name}`);
    router.post(path, (req, res) => {
      let request: unknown;
      try {
        request = g.requestDeserialize(j.requestSerialize(parseBody(req)));
      } catch (err) {
        badRequest(res, err);
        return;
      }
      const call = { request, metadata: new Metadata(), getPeer: () => req.ip ?? 'gateway' };
      handler(call as never, (err, value) => {
        if (err) {
          sendError(res, err);
          return;
        }
        try {
          res.json(j.responseDeserialize(g.responseSerialize(value)));
        } catch (e) {
          sendError(res, e);
        }
      });
    });
  }

  router.post('/lease/keepalive', (req, res) => {
    const g = method(grpcDef, 'Lease', 'LeaseKeepAlive');
    const j = method(jsonDef, 'Lease', 'LeaseKeepAlive');
    let request: { ID: number };
    try {
      request = g.requestDeserialize(j.requestSerialize(parseBody(req))) as { ID: number };
    } catch (err) {
      badRequest(res, err);
      return;
    }
    ctx.backend.leaseKeepAlive(request).then(
      (resp) => {
        resp.header = completeHeader(ctx, resp.header);
        res.json({ result: j.responseDeserialize(g.responseSerialize(resp)) });
      },
      (err: unknown) => sendError(res, err),
    );
  });

  router.post('/maintenance/snapshot', (_req, res) => {
    const impl = impls.get('etcdserverpb.Maintenance')?.['Snapshot'] as ((call: never) => void) | undefined;
    const g = method(grpcDef, 'Maintenance', 'Snapshot');
    const j = method(jsonDef, 'Maintenance', 'Snapshot');
    if (!impl) {
      sendError(res, new Error('no snapshot handler'));
      return;
    }
    // A minimal server-stream call for the gRPC handler: it writes messages, ends, or fails.
    let started = false;
    const call = new EventEmitter() as EventEmitter & Record<string, unknown>;
    call['metadata'] = new Metadata();
    call['write'] = (msg: unknown): boolean => {
      if (!started) {
        started = true;
        res.status(200).type('application/json');
      }
      return res.write(JSON.stringify({ result: j.responseDeserialize(g.responseSerialize(msg)) }) + '\n');
    };
    call['end'] = (): void => {
      if (!started) res.status(200);
      res.end();
    };
    call.on('error', (err: unknown) => {
      if (!started) sendError(res, err);
      else res.end(JSON.stringify({ error: { grpc_code: toServiceError(err).code, message: toServiceError(err).details } }) + '\n');
    });
    res.on('drain', () => call.emit('drain'));
    res.on('close', () => call.emit('cancelled'));
    impl(call as never);
  });

  router.post('/watch', (req, res) => {
    const g = method(grpcDef, 'Watch', 'Watch');
    const j = method(jsonDef, 'Watch', 'Watch');
    let request: { createRequest?: WatchCreateRequest };
    try {
      request = g.requestDeserialize(j.requestSerialize(parseBody(req))) as { createRequest?: WatchCreateRequest };
    } catch (err) {
      badRequest(res, err);
      return;
    }
    if (!request.createRequest) {
      badRequest(res, new Error('the gateway watch needs a create_request'));
      return;
    }
    res.status(200).type('application/json');
    const ws = ctx.backend.openWatchStream((resp: WatchResponse) => {
      resp.header = completeHeader(ctx, resp.header);
      return res.write(JSON.stringify({ result: j.responseDeserialize(g.responseSerialize(resp)) }) + '\n');
    });
    res.on('drain', () => ws.resume());
    res.on('close', () => ws.close());
    try {
      ws.create(request.createRequest);
    } catch (err) {
      ws.close();
      const se = toServiceError(err);
      res.end(JSON.stringify({ error: { grpc_code: se.code, message: se.details } }) + '\n');
    }
  });
  return router;
}
