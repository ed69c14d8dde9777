import { afterEach, describe, expect, it } from 'vitest';
import type { Message, NodeId } from '../raft/types.js';
import { createLogger, silentLogger } from '../log.js';
import { TcpTransport } from './tcp-transport.js';
import type { TransportHandler } from './types.js';

class Collect implements TransportHandler {
  got: Message[] = [];
  unreachable: NodeId[] = [];
  snaps: Array<[NodeId, boolean]> = [];
  receive(m: Message): void {
    this.got.push(m);
  }
  reportUnreachable(id: NodeId): void {
    this.unreachable.push(id);
  }
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.snaps.push([id, ok]);
  }
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function msg(from: NodeId, to: NodeId, index: number, data = new Uint8Array(8)): Message {
  return { type: 'app', from, to, term: 1, logTerm: 1, index, commit: 0, reject: false, rejectHint: 0, entries: [{ term: 1, index: index + 1, type: 'normal', data }] };
}

const open: TcpTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.stop()));
});

function make(id: NodeId, handler: TransportHandler, port = 0, clusterId = 99n, extra: Partial<ConstructorParameters<typeof TcpTransport>[0]> = {}): TcpTransport {
  const t = new TcpTransport({ id, clusterId, listenUrls: [`http://127.0.0.1:${port}`], handler, logger: silentLogger, ...extra });
  open.push(t);
  return t;
}

/** Member a (id 1) with peer 2 on a port where nothing listens yet: a's send finds it down. */
async function peerDown(extra: Partial<ConstructorParameters<typeof TcpTransport>[0]> = {}): Promise<{ a: TcpTransport; port: number }> {
  const ha = new Collect();
  const a = make(1n, ha, 0, 99n, extra);
  await a.start();
  // Reserve a port for b by starting and stopping a listener on it.
  const probe = make(2n, new Collect());
  await probe.start();
  const port = probe.address()!.port;
  await probe.stop();
  a.setPeer(2n, [`http://127.0.0.1:${port}`]);
  a.send([msg(1n, 2n, 1)]);
  expect(ha.unreachable).toContain(2n);
  return { a, port };
}

describe('tcp transport', () => {
  it('flushQueued writes the queued messages at once; the turn-end flush then finds nothing left', async () => {
    const hb = new Collect();
    let sent = 0;
    const a = make(1n, new Collect(), 0, 99n, { hooks: { sentBytes: (_t, n) => (sent += n) } });
    const b = make(2n, hb);
    await a.start();
    await b.start();
    a.setPeer(2n, [`http://127.0.0.1:${b.address()!.port}`]);
    await until(() => a.isActive(2n), 'stream');
    a.send([msg(1n, 2n, 1)]);
    expect(sent).toBe(0);
    a.flushQueued();
    const first = sent;
    expect(first).toBeGreaterThan(0);
    a.send([msg(1n, 2n, 2)]);
    await until(() => hb.got.length === 2, 'both messages');
    expect(hb.got.map((m) => m.index)).toEqual([1, 2]);
    expect(sent).toBe(2 * first);
  });

  it('delivers many messages in order, batched, and counts bytes and round trips', async () => {
    const ha = new Collect();
    const hb = new Collect();
    let sent = 0;
    let recv = 0;
    let rtts = 0;
    const a = make(1n, ha, 0, 99n, { hooks: { sentBytes: (_t, n) => (sent += n), roundTripSeconds: () => rtts++ } });
    const b = make(2n, hb, 0, 99n, { hooks: { receivedBytes: (_f, n) => (recv += n) } });
    await a.start();
    await b.start();
    a.setPeer(2n, [`http://127.0.0.1:${b.address()!.port}`]);
    b.setPeer(1n, [`http://127.0.0.1:${a.address()!.port}`]);
    await until(() => a.isActive(2n) && b.isActive(1n), 'streams');
    for (let i = 0; i < 5000; i++) a.send([msg(1n, 2n, i)]);
    b.send([msg(2n, 1n, 7)]);
    await until(() => hb.got.length === 5000 && ha.got.length === 1, 'delivery');
    expect(hb.got.map((m) => m.index)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(hb.got[0]!.entries[0]!.data.byteLength).toBe(8);
    await until(() => recv === sent && rtts > 0, 'byte counters and rtt');
  });

  it('drops messages while a peer is down, reports it unreachable, and reconnects when it is back', async () => {
    const { a, port } = await peerDown();
    const hb = new Collect();
    const b = make(2n, hb, port);
    await b.start();
    await until(() => a.isActive(2n), 'reconnect');
    a.send([msg(1n, 2n, 2)]);
    await until(() => hb.got.length === 1, 'delivery after reconnect');
    expect(hb.got[0]!.index).toBe(2);
    await b.stop();
    await until(() => !a.isActive(2n), 'loss noticed');
  });

  it('dials a peer back as soon as it dials us, without waiting out the reconnect backoff', async () => {
    // A backoff of ten minutes: a's stream to b can only come back through b's dial.
    const { a, port } = await peerDown({ backoffMinMs: 600_000, backoffMaxMs: 600_000 });
    expect(a.isActive(2n)).toBe(false);
    // b comes up (a restarted member) and dials its stream to a.
    const hb = new Collect();
    const b = make(2n, hb, port);
    await b.start();
    b.setPeer(1n, [`http://127.0.0.1:${a.address()!.port}`]);
    await until(() => a.isActive(2n), 'a dialling b back');
    a.send([msg(1n, 2n, 2)]);
    await until(() => hb.got.length === 1, 'delivery to the restarted peer');
    expect(hb.got[0]!.index).toBe(2);
  });

  it('refuses a peer from another cluster', async () => {
    const ha = new Collect();
    const hb = new Collect();
    // Wait on b's refusal itself: a's connection is up only for a moment before it, so
    // polling a.isActive() could miss it on a busy machine.
    const bLog: string[] = [];
    const a = make(1n, ha, 0, 1n);
    const b = make(2n, hb, 0, 2n, { logger: createLogger({ component: 'b', level: 'warn', sink: (line) => bLog.push(line) }) });
    await a.start();
    await b.start();
    a.setPeer(2n, [`http://127.0.0.1:${b.address()!.port}`]);
    a.send([msg(1n, 2n, 1)]);
    await until(() => bLog.some((l) => l.includes('cluster id mismatch: ours 2, theirs 1')), 'b to refuse a');
    a.send([msg(1n, 2n, 2)]);
    expect(hb.got).toHaveLength(0);
  });

  it('streams a snapshot in chunks on the side and reports success', async () => {
    const ha = new Collect();
    const hb = new Collect();
    const events: string[] = [];
    const a = make(1n, ha, 0, 99n, {
      snapshotChunkBytes: 64 * 1024,
      hooks: { snapshotSendStarted: (to) => events.push(`send-start ${to}`), snapshotSendFinished: (to, ok) => events.push(`sent ${to} ${ok}`) },
    });
    const b = make(2n, hb, 0, 99n, { hooks: { snapshotReceived: (from, ok) => events.push(`received ${from} ${ok}`) } });
    await a.start();
    await b.start();
    a.setPeer(2n, [`http://127.0.0.1:${b.address()!.port}`]);
    await until(() => a.isActive(2n), 'stream');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const snap: Message = { type: 'snap', from: 1n, to: 2n, term: 3, logTerm: 0, index: 0, commit: 0, reject: false, rejectHint: 0, entries: [], snapshot: { data, metadata: { index: 500, term: 3, confState: { voters: [1n, 2n, 3n], learners: [] } } } };
    a.send([snap]);
    a.send([msg(1n, 2n, 9)]);
    await until(() => ha.snaps.length === 1 && hb.got.length === 2, 'snapshot');
    expect(ha.snaps).toEqual([[2n, true]]);
    expect(events.sort()).toEqual(['received 1 true', 'send-start 2', 'sent 2 true']); // the etcd_network_snapshot_* hooks
    const got = hb.got.find((m) => m.type === 'snap')!;
    expect(got.snapshot!.metadata).toEqual({ index: 500, term: 3, confState: { voters: [1n, 2n, 3n], learners: [] } });
    expect(Buffer.compare(Buffer.from(got.snapshot!.data), data)).toBe(0);
  });
});

describe('tcp transport peer requests', () => {
  it('answers calls over the stream, passes error codes back, and serves cluster info to a joiner', async () => {
    const ha = new Collect();
    const hb: Collect & TransportHandler & { calls: number } = Object.assign(new Collect(), {
      calls: 0,
      async handleRpc(from: NodeId, method: string, body: unknown): Promise<unknown> {
        hb.calls++;
        if (method === 'fail') throw Object.assign(new Error('no such lease'), { code: 'leaseNotFound' });
        return { from, method, body };
      },
      clusterInfo: () => ({ clusterId: 99, members: [1, 2] }),
    });
    const a = make(1n, ha);
    const b = make(2n, hb);
    await a.start();
    await b.start();
    a.setPeer(2n, [`http://127.0.0.1:${b.address()!.port}`]);
    await until(() => a.isActive(2n), 'stream');
    expect(await a.call(2n, 'renew', { ID: 5 }, 2000)).toEqual({ from: '1', method: 'renew', body: { ID: 5 } });
    await expect(a.call(2n, 'fail', {}, 2000)).rejects.toMatchObject({ code: 'leaseNotFound', message: 'no such lease' });
    await expect(a.call(3n, 'renew', {}, 2000)).rejects.toMatchObject({ code: 'unreachable' });
    expect(await TcpTransport.fetchClusterInfo(['http://127.0.0.1:1', `http://127.0.0.1:${b.address()!.port}`], undefined, 2000)).toEqual({ clusterId: 99, members: [1, 2] });
    // A burst made in one turn (as a follower forwards its clients' keep-alives) leaves in one
    // corked write and is answered the same way: every call gets its own answer, and the peer's
    // raft messages still flow on the same socket.
    const before = hb.calls;
    const burst = await Promise.all(Array.from({ length: 200 }, (_, i) => a.call(2n, 'renew', { ID: i }, 10_000)));
    expect(burst.map((r) => (r as { body: { ID: number } }).body.ID)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(hb.calls - before).toBe(200);
    a.send([msg(1n, 2n, 77)]);
    await until(() => hb.got.some((m) => m.index === 77), 'a raft message after the burst');
  });
});

describe('tcp transport and removed members', () => {
  it('what was sent to a peer before it is removed still reaches it (the commit of its own removal)', async () => {
    const ha = new Collect();
    const hb = new Collect();
    const failed: NodeId[] = [];
    const a = make(1n, ha, 0, 99n, { hooks: { sendFailed: (to) => failed.push(to) } });
    const b = make(2n, hb);
    await a.start();
    await b.start();
    a.setPeer(2n, [`http://127.0.0.1:${b.address()!.port}`]);
    await until(() => a.isActive(2n), 'stream');
    // The same turn: queued, then removed before the flush microtask runs.
    a.send(Array.from({ length: 100 }, (_, i) => msg(1n, 2n, i)));
    a.removePeer(2n);
    await until(() => hb.got.length === 100, 'the queued messages');
    expect(hb.got.map((m) => m.index)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(a.peers()).toEqual([]);
    a.send([msg(1n, 2n, 100)]);
    expect(failed).toEqual([2n]);
  });

  it('refuses a removed member, which is told so', async () => {
    const ha = new Collect();
    let removedReported = 0;
    const hb: TransportHandler = Object.assign(new Collect(), { reportRemoved: () => removedReported++ });
    const haRemoving: TransportHandler = Object.assign(ha, { isRemoved: (id: NodeId) => id === 2n });
    const a = make(1n, haRemoving);
    const b = make(2n, hb);
    await a.start();
    await b.start();
    b.setPeer(1n, [`http://127.0.0.1:${a.address()!.port}`]);
    await until(() => removedReported > 0, 'the removed member to be told');
    b.send([msg(2n, 1n, 1)]);
    await new Promise((r) => setTimeout(r, 100));
    expect(ha.got).toHaveLength(0);
  });
});
