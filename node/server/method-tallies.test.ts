import { describe, expect, it } from 'vitest';
import { GrpcStatus } from './grpc-status.js';
import { methodTallies } from './method-tallies.js';
import { createMemberMetrics } from './metrics.js';
import type { ServerContext } from './rpc-context.js';
import { streamCounters } from './rpc-context.js';

const L = 'grpc_type="bidi_stream",grpc_service="etcdserverpb.Lease",grpc_method="LeaseKeepAlive"';

/** The value of one exposition line (name and full label set), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('method tallies', () => {
  it("count every stream's start, messages, end code and handling time exactly, once per stream", async () => {
    const metrics = createMemberMetrics(undefined, { defaultMetrics: false, level: 'extensive' });
    const ctx = { metrics } as ServerContext;
    const a = streamCounters(ctx, 'etcdserverpb.Lease', 'LeaseKeepAlive', 'bidi_stream');
    const b = streamCounters(ctx, 'etcdserverpb.Lease', 'LeaseKeepAlive', 'bidi_stream');
    a.received();
    a.sent();
    a.received();
    a.sent();
    a.finish(GrpcStatus.OK);
    a.finish(GrpcStatus.CANCELLED); // a second end of the same stream is not counted
    b.received();
    b.finish(GrpcStatus.CANCELLED);
    const text = await metrics.registry.metrics();
    expect(sample(text, `grpc_server_started_total{${L}}`)).toBe(2);
    expect(sample(text, `grpc_server_msg_received_total{${L}}`)).toBe(3);
    expect(sample(text, `grpc_server_msg_sent_total{${L}}`)).toBe(2);
    expect(sample(text, `grpc_server_handled_total{${L},grpc_code="OK"}`)).toBe(1);
    expect(sample(text, `grpc_server_handled_total{${L},grpc_code="Canceled"}`)).toBe(1);
    expect(sample(text, `grpc_server_handling_seconds_count{${L}}`)).toBe(2);
    // Counted again after a scrape: the tallies start from what they already handed over.
    streamCounters(ctx, 'etcdserverpb.Lease', 'LeaseKeepAlive', 'bidi_stream').finish(GrpcStatus.OK);
    const again = await metrics.registry.metrics();
    expect(sample(again, `grpc_server_started_total{${L}}`)).toBe(3);
    expect(sample(again, `grpc_server_handled_total{${L},grpc_code="OK"}`)).toBe(2);
  });

  it('are made once per method and registry, not per call', () => {
    const m1 = createMemberMetrics(undefined, { defaultMetrics: false });
    const m2 = createMemberMetrics(undefined, { defaultMetrics: false });
    const t = methodTallies(m1, 'etcdserverpb.Lease', 'LeaseKeepAlive', 'bidi_stream');
    expect(methodTallies(m1, 'etcdserverpb.Lease', 'LeaseKeepAlive', 'bidi_stream')).toBe(t);
    expect(methodTallies(m1, 'etcdserverpb.Lease', 'LeaseGrant', 'unary')).not.toBe(t);
    expect(methodTallies(m2, 'etcdserverpb.Lease', 'LeaseKeepAlive', 'bidi_stream')).not.toBe(t);
  });
});
