// What every gRPC handler shares: the backend, metrics, logger and limits; the response header;
// the guards etcd's interceptors apply (hasleader metadata, learner restrictions); and the
// wrappers that count every call in grpc_server_* metrics and map thrown errors to etcd's.

import type {
  sendUnaryData,
  ServerDuplexStream,
  ServerUnaryCall,
  ServerWritableStream,
  Metadata,
  UntypedHandleCall,
} from '@grpc/grpc-js';
import { GrpcStatus } from './grpc-status.js';
import type { Logger } from '../log.js';
import type { Command, RangeRequest, ResponseHeader } from '../mvcc/types.js';
import { validateCommand, validateRange } from '../mvcc/validate.js';
import type { MemberBackend } from './backend.js';
import { EtcdError, toServiceError } from './errors.js';
import type { MemberMetrics } from './metrics.js';
import { CounterTally } from './counter-tally.js';
import { methodTallies } from './method-tallies.js';
import type { GrpcType } from './method-tallies.js';

export interface ServerLimits {
  /** --max-request-bytes: larger writes fail with "etcdserver: request is too large". */
  readonly maxRequestBytes: number;
  /** --max-txn-ops. */
  readonly maxTxnOps: number;
}

export interface ServerContext {
  readonly backend: MemberBackend;
  readonly metrics: MemberMetrics;
  readonly logger: Logger;
  readonly limits: ServerLimits;
  /** Ends `hasleader` streams when the member loses its leader (etcd's monitorLeader). */
  readonly leaderMonitor: LeaderMonitor;
  /** --bcrypt-cost (default 10); --client-cert-auth (a verified certificate's CN is the user). */
  readonly auth?: { readonly bcryptCost: number; readonly clientCertAuth?: boolean };
}

/**
 * etcd's monitorLeader: every interval (etcd: the election timeout) the member checks for a
 * leader; when it has none, every stream opened with the `hasleader` metadata is ended with
 * "etcdserver: no leader", so clients such as kube-apiserver move their watches to a member that
 * still has one. The timer runs only while such streams exist.
 */
export class LeaderMonitor {
  private readonly streams = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly hasLeader: () => boolean,
    private readonly intervalMs: number,
  ) {}

  /** Registers a stream's "leader lost" action; returns the function that unregisters it. */
  register(onLost: () => void): () => void {
    this.streams.add(onLost);
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.streams.delete(onLost);
      if (this.streams.size === 0) this.stop();
    };
  }

  check(): void {
    if (this.hasLeader()) return;
    const lost = [...this.streams];
    this.streams.clear();
    this.stop();
    for (const f of lost) f();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** True if the call carries etcd's `hasleader: true` metadata. */
export function requiresLeader(md: Metadata): boolean {
  const v = md.get('hasleader');
  return v.length > 0 && String(v[0]) === 'true';
}

/** A complete response header; `revision` defaults to the store's current one. */
export function makeHeader(ctx: ServerContext, revision?: number): ResponseHeader {
  const h = ctx.backend.header();
  return { clusterId: h.clusterId, memberId: h.memberId, revision: revision ?? h.revision, raftTerm: h.raftTerm };
}

/**
 * The header of a call that does not touch the key-value store (the Cluster service): etcd
 * leaves its revision unset (etcd-io/etcd#14033).
 */
export function headerWithoutRevision(ctx: ServerContext): ResponseHeader {
  return { ...makeHeader(ctx), revision: 0 };
}

/** Fills in the identity fields of a header the store made (keeps its revision). */
export function completeHeader(ctx: ServerContext, header: ResponseHeader | undefined): ResponseHeader {
  return makeHeader(ctx, header?.revision);
}

/** etcd's `hasleader` metadata: fail at once with "no leader" rather than wait for one. */
export function checkHasLeader(ctx: ServerContext, md: Metadata): void {
  if (requiresLeader(md) && !ctx.backend.hasLeader()) throw new EtcdError('noLeader');
}

/**
 * etcd_server_client_requests_total, counted as etcd's interceptors count: once a call passed the
 * learner check, by the client's `client-api-version` metadata ("unknown" without one).
 */
export function countClientRequest(ctx: ServerContext, md: Metadata, type: 'unary' | 'stream'): void {
  const v = md.get('client-api-version');
  const version = v.length > 0 ? String(v[0]) : 'unknown';
  let byVersion = clientRequestTallies.get(ctx.metrics);
  if (!byVersion) clientRequestTallies.set(ctx.metrics, (byVersion = new Map()));
  const key = `${type} ${version}`;
  let tally = byVersion.get(key);
  if (!tally) {
    // The version is the client's to choose: past a few, count without a tally.
    if (byVersion.size >= MAX_VERSION_TALLIES) return void ctx.metrics.clientRequests.inc({ type, client_api_version: version });
    tally = new CounterTally(ctx.metrics.clientRequests, { type, client_api_version: version });
    byVersion.set(key, tally);
  }
  tally.inc();
}

const MAX_VERSION_TALLIES = 32;
const clientRequestTallies = new WeakMap<MemberMetrics, Map<string, CounterTally<'type' | 'client_api_version'>>>();

/**
 * Every write is checked here, before it is proposed: a request Raft would carry to every member
 * must be one every member can apply (node/mvcc/validate.ts, the one validator).
 */
export function checkCommand(ctx: ServerContext, cmd: Command): void {
  const bad = validateCommand(cmd, ctx.limits.maxTxnOps);
  if (bad) throw bad;
}

export function checkRange(req: RangeRequest): void {
  const bad = validateRange(req);
  if (bad) throw bad;
}

/** A learner serves only what etcd lets it: status, serializable reads, member list, snapshot. */
export function checkLearner(ctx: ServerContext, allowedForLearner: boolean): void {
  if (!allowedForLearner && ctx.backend.isLearner()) throw new EtcdError('notSupportedForLearner');
}

/**
 * A unary handler: `learnerOk(req)` says if a learner may serve it. Counts the call, times it,
 * maps errors. The handler may return a pre-encoded Buffer (see kv-service's chunked Range).
 */
export function unary<Req, Res>(
  ctx: ServerContext,
  service: string,
  method: string,
  learnerOk: (req: Req) => boolean,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res | Buffer>,
): UntypedHandleCall {
  // Counted in tallies (method-tallies.ts): no label hashing per call.
  const t = methodTallies(ctx.metrics, service, method, 'unary');
  const handler = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    t.started.inc();
    t.received.inc();
    const t0 = t.now();
    let p: Promise<Res | Buffer>;
    try {
      // etcd's order: the learner check, then counting, then the hasleader check.
      checkLearner(ctx, learnerOk(call.request));
      countClientRequest(ctx, call.metadata, 'unary');
      checkHasLeader(ctx, call.metadata);
      p = fn(call.request, call);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (res) => {
        t.sent.inc();
        t.done(t0, GrpcStatus.OK);
        callback(null, res as Res);
      },
      (err: unknown) => {
        const se = toServiceError(err);
        if (se.code === GrpcStatus.UNKNOWN) ctx.logger.warn('rpc failed', { method: `${service}/${method}`, err });
        t.done(t0, se.code);
        callback(se, null);
      },
    );
  };
  return handler as UntypedHandleCall;
}

/** Counters for a streaming call; `finish(code)` once when it ends. */
export interface StreamCounters {
  received(): void;
  sent(): void;
  finish(code: number): void;
}

export function streamCounters(ctx: ServerContext, service: string, method: string, type: GrpcType): StreamCounters {
  const t = methodTallies(ctx.metrics, service, method, type);
  t.started.inc();
  const t0 = t.now();
  let finished = false;
  return {
    received: () => t.received.inc(),
    sent: () => t.sent.inc(),
    finish: (code) => {
      if (finished) return;
      finished = true;
      t.done(t0, code);
    },
  };
}

/**
 * Starts counting a bidirectional stream and applies etcd's stream guards (hasleader metadata,
 * no learner). Returns the counters, or undefined when a guard refused and the stream is ended.
 */
export function openBidiStream(
  ctx: ServerContext,
  call: ServerDuplexStream<unknown, unknown>,
  service: string,
  method: string,
): StreamCounters | undefined {
  const counters = streamCounters(ctx, service, method, 'bidi_stream');
  try {
    checkLearner(ctx, false);
    countClientRequest(ctx, call.metadata, 'stream');
    checkHasLeader(ctx, call.metadata);
  } catch (err) {
    failStream(call, err, counters);
    return undefined;
  }
  return counters;
}

/**
 * Ends a stream with an error mapped to etcd's code and text. grpc-js sends the status when the
 * stream emits 'error' (it records the status, then ends); destroy() would drop it unsent.
 */
export function failStream(
  call: ServerDuplexStream<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  err: unknown,
  counters: StreamCounters,
): void {
  const se = toServiceError(err);
  counters.finish(se.code);
  call.emit('error', se);
}

