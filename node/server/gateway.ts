// etcd's JSON gateway under /v3/ (and /v3beta/, which etcd 3.6 still rewrites to /v3/): every
// route is a POST whose body is the request message in JSON; bytes are base64 and 64-bit integers
// are strings. A unary call is converted JSON -> protobuf (the JSON definition) -> our request
// objects (the gRPC definition) and handed to the same handler the gRPC server uses; the answer
// goes back the other way. /v3/watch reads every JSON request in the body (as etcd's gateway
// does) and streams newline-separated {"result": ...} objects until the client goes away;
// /v3/maintenance/snapshot streams the Snapshot stream's messages the same way;
// /v3/lease/keepalive answers one {"result": ...} line per request in the body.
// The JSON is etcd 3.6's (grpc-gateway v2 with the legacy jsonpb marshaler): proto field names,
// zero values left out ("lease":"0", "more":false, "type":"PUT" are not sent), Content-Type
// `application/json` without a charset. Errors are google.rpc.Status: {"code","message"} (the
// v1 "error" field is gone in 3.6); an error in the middle of a stream is {"error":{...}}; an
// unknown /v3 path is a JSON NotFound.

import { EventEmitter } from 'node:events';
import type { handleUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GrpcStatus } from './grpc-status.js';
import { HeaderMetadata } from './lean-grpc/wire.js';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import type { Request, Response, Router } from 'express';
import express from 'express';
import type { WatchResponse } from '../mvcc/types.js';
import { httpStatusOf, toServiceError } from './errors.js';
import { loadEtcdProtos, loadEtcdProtosForJson } from './proto-load.js';
import { omitProtoDefaults } from './proto-defaults.js';
import type { ServerContext } from './rpc-context.js';
import { completeHeader } from './rpc-context.js';
import type { WatchRequestWire } from './watch-service.js';
import { handleWatchRequest } from './watch-service.js';
import { keepAliveOnce } from './lease-service.js';

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
  '/maintenance/downgrade': ['Maintenance', 'Downgrade'],
  '/auth/status': ['Auth', 'AuthStatus'],
  '/auth/enable': ['Auth', 'AuthEnable'],
  '/auth/disable': ['Auth', 'AuthDisable'],
  '/auth/authenticate': ['Auth', 'Authenticate'],
  '/auth/user/add': ['Auth', 'UserAdd'],
  '/auth/user/get': ['Auth', 'UserGet'],
  '/auth/user/list': ['Auth', 'UserList'],
  '/auth/user/delete': ['Auth', 'UserDelete'],
  '/auth/user/changepw': ['Auth', 'UserChangePassword'],
  '/auth/user/grant': ['Auth', 'UserGrantRole'],
  '/auth/user/revoke': ['Auth', 'UserRevokeRole'],
  '/auth/role/add': ['Auth', 'RoleAdd'],
  '/auth/role/get': ['Auth', 'RoleGet'],
  '/auth/role/list': ['Auth', 'RoleList'],
  '/auth/role/delete': ['Auth', 'RoleDelete'],
  '/auth/role/grant': ['Auth', 'RoleGrantPermission'],
  '/auth/role/revoke': ['Auth', 'RoleRevokePermission'],
};

/** grpc-gateway passes the Authorization header on as `authorization` metadata (the token). */
function metadataOf(req: { get(name: string): string | undefined }): HeaderMetadata {
  const token = req.get('authorization');
  return new HeaderMetadata(token ? { authorization: token } : {});
}

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

/** One response message (or a pre-encoded one, see kv-service's chunked Range) as etcd's JSON. */
function responseJson(g: AnyMethod, j: AnyMethod, value: unknown): unknown {
  // Pre-encoded bytes go straight to the JSON form: int64s (lease ids) stay exact decimal strings.
  if (Buffer.isBuffer(value)) return j.responseDeserialize(value);
  return j.responseDeserialize(g.responseSerialize(omitProtoDefaults(value)));
}

function decodeRequest(g: AnyMethod, j: AnyMethod, json: unknown): unknown {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('request body must be a JSON object');
  return g.requestDeserialize(j.requestSerialize(json));
}

function bodyText(req: Request): string {
  const raw: unknown = req.body;
  return typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('utf8') : '';
}

function parseBody(req: Request): unknown {
  const text = bodyText(req);
  return text.trim() === '' ? {} : JSON.parse(text);
}

/**
 * The JSON values one after another in `text` (etcd's gateway reads a stream of requests from a
 * watch body with a json.Decoder). Throws on text that is not a sequence of JSON values.
 */
export function splitJsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
    if (start < 0) start = i;
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (depth === 0) throw new Error(`unexpected ${JSON.stringify(c)} in the request body`);
    if (depth === 0 && !inString) {
      out.push(JSON.parse(text.slice(start, i + 1)));
      start = -1;
    }
  }
  if (start >= 0) throw new Error('unexpected end of JSON input');
  return out;
}

/** JSON with etcd's Content-Type (express' res.json would add "; charset=utf-8"). */
function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

/** grpc-gateway v2's error body: google.rpc.Status without its empty details. */
function statusBody(err: unknown): { code: GrpcStatus; message: string } {
  const se = toServiceError(err);
  return { code: se.code, message: se.details };
}

function sendError(res: Response, err: unknown): void {
  const body = statusBody(err);
  sendJson(res, httpStatusOf(body.code), body);
}

function badRequest(res: Response, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  sendJson(res, 400, { code: GrpcStatus.INVALID_ARGUMENT, message });
}

/** Starts a streamed answer: newline-separated JSON objects. */
function startStream(res: Response): void {
  res.status(200).setHeader('Content-Type', 'application/json');
}

/** An error after a stream started, as grpc-gateway writes it: one {"error": Status} line. */
function streamError(err: unknown): string {
  return JSON.stringify({ error: statusBody(err) }) + '\n';
}

export function gatewayRouter(ctx: ServerContext, impls: Map<string, UntypedServiceImplementation>): Router {
  const grpcDef = loadEtcdProtos();
  // The JSON definitions are loaded by the first gateway request, not at start (about 30 ms,
  // once): they cost about 0.6 MiB of heap and 3 MiB of RSS (proto-load.ts), which a member no
  // client asks through the gateway never pays. The operator does ask, so its members pay it.
  const json = (svc: string, name: string): AnyMethod => method(loadEtcdProtosForJson(), svc, name);
  const router = express.Router();
  router.use(express.raw({ type: () => true, limit: bodyLimitBytes(ctx) }));

  for (const [path, [svc, name]] of Object.entries(GATEWAY_ROUTES)) {
    const g = method(grpcDef, svc, name);
    const handler = impls.get(`etcdserverpb.${svc}`)?.[name] as handleUnaryCall<unknown, unknown> | undefined;
    if (!handler) throw new Error(`gateway: no handler for ${svc}/${name}`);
    let jsonMethod: AnyMethod | undefined; // resolved by the route's first request, then kept
    router.post(path, (req, res) => {
      const j = (jsonMethod ??= json(svc, name));
      let request: unknown;
      try {
        request = decodeRequest(g, j, parseBody(req));
      } catch (err) {
        badRequest(res, err);
        return;
      }
      const call = { request, metadata: metadataOf(req), getPeer: () => req.ip ?? 'gateway' };
      handler(call as never, (err, value) => {
        if (err) {
          sendError(res, err);
          return;
        }
        try {
          sendJson(res, 200, responseJson(g, j, value));
        } catch (e) {
          sendError(res, e);
        }
      });
    });
  }

  // A stream, as etcd's gateway serves it: every request in the body gets one
  // {"result": ...} line, in order; an error ends the answer with an {"error": ...} line.
  router.post('/lease/keepalive', (req, res) => {
    const g = method(grpcDef, 'Lease', 'LeaseKeepAlive');
    const j = json('Lease', 'LeaseKeepAlive');
    let requests: Array<{ ID: bigint }>;
    try {
      requests = splitJsonValues(bodyText(req)).map((v) => decodeRequest(g, j, v) as { ID: bigint });
    } catch (err) {
      badRequest(res, err);
      return;
    }
    const run = async (): Promise<void> => {
      let started = false;
      try {
        for (const r of requests) {
          const resp = await keepAliveOnce(ctx, r);
          if (!started) startStream(res);
          started = true;
          res.write(JSON.stringify({ result: responseJson(g, j, resp) }) + '\n');
        }
        if (!started) startStream(res);
        res.end();
      } catch (err) {
        if (!started) res.status(httpStatusOf(toServiceError(err).code)).setHeader('Content-Type', 'application/json');
        res.end(streamError(err));
      }
    };
    void run();
  });

  router.post('/maintenance/snapshot', (req, res) => {
    const impl = impls.get('etcdserverpb.Maintenance')?.['Snapshot'] as ((call: never) => void) | undefined;
    const g = method(grpcDef, 'Maintenance', 'Snapshot');
    const j = json('Maintenance', 'Snapshot');
    if (!impl) {
      sendError(res, new Error('no snapshot handler'));
      return;
    }
    // A minimal server-stream call for the gRPC handler: it writes messages, ends, or fails.
    let started = false;
    const call = new EventEmitter() as EventEmitter & Record<string, unknown>;
    call['metadata'] = metadataOf(req);
    call['jsonGateway'] = true; // etcd's 32 KiB messages: one JSON line each (maintenance-service.ts)
    call['write'] = (msg: unknown): boolean => {
      if (!started) {
        started = true;
        startStream(res);
      }
      return res.write(JSON.stringify({ result: responseJson(g, j, msg) }) + '\n');
    };
    call['end'] = (): void => {
      if (!started) startStream(res);
      res.end();
    };
    call.on('error', (err: unknown) => {
      if (!started) sendError(res, err);
      else res.end(streamError(err));
    });
    res.on('drain', () => call.emit('drain'));
    res.on('close', () => call.emit('cancelled'));
    impl(call as never);
  });

  router.post('/watch', (req, res) => {
    const g = method(grpcDef, 'Watch', 'Watch');
    const j = json('Watch', 'Watch');
    let requests: WatchRequestWire[];
    try {
      requests = splitJsonValues(bodyText(req)).map((v) => decodeRequest(g, j, v) as WatchRequestWire);
    } catch (err) {
      badRequest(res, err);
      return;
    }
    startStream(res);
    const send = (resp: WatchResponse): boolean => {
      resp.header = completeHeader(ctx, resp.header);
      if (resp.events.length > 0) ctx.metrics.mvccEvents.inc(resp.events.length);
      return res.write(JSON.stringify({ result: responseJson(g, j, resp) }) + '\n');
    };
    const ws = ctx.backend.openWatchStream(send);
    res.on('drain', () => ws.resume());
    res.on('close', () => ws.close());
    const caller = { metadata: metadataOf(req) };
    for (const r of requests) handleWatchRequest(ctx, ws, r, send, caller);
  });

  // grpc-gateway v2's routing errors: another method on a served path is Unimplemented
  // "Method Not Allowed" (HTTP 501, from the code), a path it does not serve is NotFound.
  const served = [...Object.keys(GATEWAY_ROUTES), '/lease/keepalive', '/maintenance/snapshot', '/watch'];
  router.all(served, (_req, res) => sendJson(res, 501, { code: GrpcStatus.UNIMPLEMENTED, message: 'Method Not Allowed' }));
  router.use((_req, res) => sendJson(res, 404, { code: GrpcStatus.NOT_FOUND, message: 'Not Found' }));
  return router;
}
