// The grpc_server_* counts of one gRPC method, kept in tallies (counter-tally.ts) so a call does
// not hash label sets in prom-client. One set per method and metrics registry, made on first use
// and shared by every call after it: a tally registers a flush hook for good, so making them
// per call (as streams once did with labelled inc()s) would be both slow and a leak.

import { performance } from 'node:perf_hooks';
import { CounterTally, HistogramTally } from './counter-tally.js';
import type { MemberMetrics } from './metrics.js';
import { GRPC_CODE_NAMES } from './metrics.js';

export type GrpcType = 'unary' | 'server_stream' | 'client_stream' | 'bidi_stream';

type RpcLabel = 'grpc_type' | 'grpc_service' | 'grpc_method';

export class MethodTallies {
  readonly started: CounterTally<RpcLabel>;
  readonly received: CounterTally<RpcLabel>;
  readonly sent: CounterTally<RpcLabel>;
  private readonly timer: HistogramTally<RpcLabel> | undefined;
  private readonly handled = new Map<number, CounterTally<string>>();
  private readonly labels: Record<RpcLabel, string>;

  constructor(
    private readonly metrics: MemberMetrics,
    service: string,
    method: string,
    type: GrpcType,
  ) {
    this.labels = { grpc_type: type, grpc_service: service, grpc_method: method };
    this.started = new CounterTally(metrics.grpcStarted, this.labels);
    this.received = new CounterTally(metrics.grpcMsgReceived, this.labels);
    this.sent = new CounterTally(metrics.grpcMsgSent, this.labels);
    this.timer = metrics.grpcHandlingSeconds ? new HistogramTally(metrics.grpcHandlingSeconds, this.labels) : undefined;
  }

  /** The start time to hand to done(): 0 when handling times are not recorded. */
  now(): number {
    return this.timer ? performance.now() : 0;
  }

  /** The call ended with `code`, having started at `t0` (from now()). */
  done(t0: number, code: number): void {
    if (this.timer) this.timer.observe((performance.now() - t0) / 1e3);
    let c = this.handled.get(code);
    if (!c) {
      c = new CounterTally<string>(this.metrics.grpcHandled, { ...this.labels, grpc_code: GRPC_CODE_NAMES[code] ?? 'Unknown' });
      this.handled.set(code, c);
    }
    c.inc();
  }
}

const cache = new WeakMap<MemberMetrics, Map<string, MethodTallies>>();

/** The one MethodTallies of this method in this registry. */
export function methodTallies(metrics: MemberMetrics, service: string, method: string, type: GrpcType): MethodTallies {
  let byMethod = cache.get(metrics);
  if (!byMethod) cache.set(metrics, (byMethod = new Map()));
  const key = `${type} ${service}/${method}`;
  let t = byMethod.get(key);
  if (!t) byMethod.set(key, (t = new MethodTallies(metrics, service, method, type)));
  return t;
}
