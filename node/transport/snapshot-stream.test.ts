// Snapshots streamed between members over the real TCP transport: the sender reads the data from
// an async iterable (never one Buffer), the receiver spools it to a file and hands a body that
// reads it back; a broken, short or damaged transfer is refused and nothing is handed on.

import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, NodeId } from '../raft/types.js';
import { silentLogger } from '../log.js';
import { encodeMessage } from './codec.js';
import { FrameReader, FrameType, frame } from './frames.js';
import type { SnapshotBody } from './snapshot-body.js';
import { TcpTransport, type TcpTransportOptions } from './tcp-transport.js';
import type { TransportHandler } from './types.js';
import { crc32c, crc32cUpdate } from '../lib/crc32c.js';

class Receiver implements TransportHandler {
  got: Message[] = [];
  bodies: Array<{ m: Message; body: SnapshotBody }> = [];
  receive(m: Message): void {
    this.got.push(m);
  }
  receiveSnapshot(m: Message, body: SnapshotBody): void {
    this.bodies.push({ m, body });
  }
  reportUnreachable(): void {}
  reportSnapshot(): void {}
}

class Sender implements TransportHandler {
  reports: boolean[] = [];
  constructor(private readonly body: () => SnapshotBody) {}
  receive(): void {}
  reportUnreachable(): void {}
  reportSnapshot(_id: NodeId, ok: boolean): void {
    this.reports.push(ok);
  }
  async snapshotBody(): Promise<SnapshotBody> {
    return this.body();
  }
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const open: TcpTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.stop()));
});

function make(id: NodeId, handler: TransportHandler, extra: Partial<TcpTransportOptions> = {}, port = 0): TcpTransport {
  const t = new TcpTransport({ id, clusterId: 99n, listenUrls: [`http://127.0.0.1:${port}`], handler, logger: silentLogger, ...extra });
  open.push(t);
  return t;
}

const META = { index: 700, term: 4, confState: { voters: [1n, 2n], learners: [] } };

function snapMsg(): Message {
  return { type: 'snap', from: 1n, to: 2n, term: 4, logTerm: 0, index: 0, commit: 0, reject: false, rejectHint: 0, entries: [], snapshot: { data: new Uint8Array(0), metadata: META } };
}

/** Deterministic data, produced in uneven chunks (as a state machine's parts come). */
function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >> 9)) & 0xff;
  return b;
}

function streamedBody(data: Buffer, gate?: { after: number; wait: Promise<void> }): SnapshotBody & { pulled: number } {
  const body = {
    bytes: data.length,
    pulled: 0,
    async *chunks() {
      const sizes = [7, 5000, 1, 333, 2048];
      let n = 0;
      for (let off = 0, i = 0; off < data.length; i++) {
        const c = data.subarray(off, Math.min(data.length, off + (sizes[i % sizes.length] as number)));
        off += c.length;
        body.pulled = off;
        yield c;
        if (gate && ++n === gate.after) await gate.wait;
      }
    },
  };
  return body;
}

async function collect(body: SnapshotBody): Promise<{ data: Buffer; largest: number }> {
  const parts: Uint8Array[] = [];
  for await (const c of body.chunks()) parts.push(c);
  return { data: Buffer.concat(parts), largest: Math.max(...parts.map((c) => c.length)) };
}

describe('snapshots streamed over the tcp transport', () => {
  it('a snapshot from an async iterable arrives through a spool file in chunks of at most the chunk size, byte for byte', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'spool-'));
    const data = pattern(300_000 + 13);
    const sender = new Sender(() => streamedBody(data));
    const hb = new Receiver();
    const a = make(1n, sender, { snapshotChunkBytes: 1000 });
    const b = make(2n, hb, { snapshotChunkBytes: 1000, snapshotSpoolDir: spool });
    await a.start();
    await b.start();
    a.setPeer(2n, [`http://127.0.0.1:${b.address()!.port}`]);
    await until(() => a.isActive(2n), 'stream');
    a.send([snapMsg()]);
    await until(() => sender.reports.length === 1, 'the ack');
    expect(sender.reports).toEqual([true]);
    expect(hb.got).toEqual([]); // not through receive(): as a body
    expect(hb.bodies).toHaveLength(1);
    const { m, body } = hb.bodies[0]!;
    expect(m.snapshot!.metadata).toEqual(META);
    expect(m.snapshot!.data.length).toBe(0);
    expect(body.bytes).toBe(data.length);
    expect(readdirSync(spool)).toHaveLength(1);
    const got = await collect(body);
    expect(got.largest).toBeLessThanOrEqual(1000);
    expect(got.data.equals(data)).toBe(true);
    // It can be read again (a save, then an apply); release removes the file.
    expect((await collect(body)).data.equals(data)).toBe(true);
    await body.release!();
    expect(readdirSync(spool)).toEqual([]);
  });

  it('a receiver that fails mid-transfer gets nothing and keeps no file; the sender is told, and its retry to the restarted receiver succeeds', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'spool-'));
    writeFileSync(join(spool, 'snap-recv-1-9-123-1.tmp'), 'left by a crash');
    const data = pattern(200_000);
    let release!: () => void;
    const wait = new Promise<void>((r) => (release = r));
    let first = true;
    const bodies: Array<ReturnType<typeof streamedBody>> = [];
    const sender = new Sender(() => {
      const b = first ? streamedBody(data, { after: 20, wait }) : streamedBody(data);
      first = false;
      bodies.push(b);
      return b;
    });
    const a = make(1n, sender, { snapshotChunkBytes: 512 });
    const hb1 = new Receiver();
    const b1 = make(2n, hb1, { snapshotChunkBytes: 512, snapshotSpoolDir: spool });
    await a.start();
    await b1.start();
    expect(readdirSync(spool)).toEqual([]); // the leftover was removed at start
    const port = b1.address()!.port;
    a.setPeer(2n, [`http://127.0.0.1:${port}`]);
    await until(() => a.isActive(2n), 'stream');
    a.send([snapMsg()]);
    // Mid-transfer: part of the data is out, the rest waits; the receiver dies.
    await until(() => bodies[0]!.pulled > 0 && readdirSync(spool).length === 1, 'transfer under way');
    await b1.stop();
    release();
    await until(() => sender.reports.length === 1, 'the failure report');
    expect(sender.reports).toEqual([false]);
    expect(bodies[0]!.pulled).toBeLessThan(data.length);
    expect(hb1.bodies).toEqual([]);
    await until(() => readdirSync(spool).length === 0, 'the broken spool file removed');
    // The receiver comes back on its port; raft's retry (reportSnapshot false -> probe -> snap again).
    const hb2 = new Receiver();
    const b2 = make(2n, hb2, { snapshotChunkBytes: 512, snapshotSpoolDir: spool }, port);
    await b2.start();
    await until(() => a.isActive(2n), 'stream again');
    a.send([snapMsg()]);
    await until(() => sender.reports.length === 2, 'the retry');
    expect(sender.reports).toEqual([false, true]);
    expect((await collect(hb2.bodies[0]!.body)).data.equals(data)).toBe(true);
  });

  describe('a transfer that does not check out is refused and nothing is handed on', () => {
    /** Speaks the snapshot protocol by hand: hello, header announcing `total`, chunks, end with `crc`. */
    async function rawTransfer(port: number, total: number, chunks: Buffer[], end: 'crc' | 'bad-crc' | 'close'): Promise<number | 'closed'> {
      const s = net.connect({ host: '127.0.0.1', port });
      await new Promise<void>((r) => s.once('connect', () => r()));
      const answer = new Promise<number | 'closed'>((resolve) => {
        const r = new FrameReader();
        s.on('data', (c: Buffer) => r.push(c, (type, p) => type === FrameType.snapAck && resolve(p[0]!)));
        s.on('close', () => resolve('closed'));
      });
      s.write(frame(FrameType.hello, Buffer.from(JSON.stringify({ clusterId: '99', from: '1', to: '2', kind: 'snapshot', wire: 2 }))));
      const header = encodeMessage(snapMsg(), false);
      const h = Buffer.alloc(header.byteLength + 8);
      h.set(header, 0);
      h.writeDoubleLE(total, header.byteLength);
      s.write(frame(FrameType.snapHeader, h));
      let crc = crc32c(new Uint8Array(0));
      for (const c of chunks) {
        crc = crc32cUpdate(crc, c);
        s.write(frame(FrameType.snapChunk, c));
      }
      if (end === 'close') {
        await new Promise((r) => setTimeout(r, 50)); // let the chunks land in the spool first
        s.destroy();
        return 'closed';
      }
      const e = Buffer.alloc(4);
      e.writeUInt32LE((end === 'crc' ? crc : crc ^ 1) >>> 0, 0);
      s.write(frame(FrameType.snapEnd, e));
      const a = await answer;
      s.destroy();
      return a;
    }

    for (const spooled of [true, false]) {
      it(`short, damaged and dropped transfers (${spooled ? 'spooled to a file' : 'gathered in memory'})`, async () => {
        const spool = mkdtempSync(join(tmpdir(), 'spool-'));
        const hb = new Receiver();
        const b = make(2n, hb, spooled ? { snapshotSpoolDir: spool } : {}); // no spool dir: gathered in memory, handed to receive()
        await b.start();
        const port = b.address()!.port;
        const data = pattern(10_000);
        // Truncated: announces 10000, sends 6000.
        expect(await rawTransfer(port, 10_000, [data.subarray(0, 4000), data.subarray(4000, 6000)], 'crc')).toBe(0);
        // Too long: announces 5000, sends 10000.
        expect(await rawTransfer(port, 5000, [data], 'crc')).toBe(0);
        // Whole length, one flipped bit on the way (the CRC sent does not match).
        expect(await rawTransfer(port, 10_000, [data], 'bad-crc')).toBe(0);
        // The connection drops before the end.
        await rawTransfer(port, 10_000, [data.subarray(0, 3000)], 'close');
        await until(() => readdirSync(spool).length === 0, 'no spool file left');
        expect(hb.bodies).toEqual([]);
        expect(hb.got).toEqual([]);
        // The same transfer done right is taken.
        expect(await rawTransfer(port, 10_000, [data.subarray(0, 1234), data.subarray(1234)], 'crc')).toBe(1);
        const taken = spooled ? (await collect(hb.bodies[0]!.body)).data : Buffer.from(hb.got[0]!.snapshot!.data);
        expect(taken.equals(data)).toBe(true);
      });
    }
  });
});
