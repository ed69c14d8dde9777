// The in-memory twin of the peer transport: a MemoryNetwork hands out one transport per member
// and delivers messages asynchronously (a macrotask later, like a socket), in order per pair.
// Tests can cut links (one-way or both ways) and heal them; messages on a cut link are dropped
// and the sender's raft is told the peer is unreachable, as the real transport does.

import type { Message, NodeId } from '../raft/types.js';
import { RpcError, peerJson, type Transport, type TransportHandler } from './types.js';
import { withInlineSnapshot } from './snapshot-body.js';

export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, MemoryTransport>();
  private readonly cut = new Set<string>();
  /** Messages delivered so far, for tests. */
  delivered = 0;

  transport(id: NodeId, handler: TransportHandler): MemoryTransport {
    const t = new MemoryTransport(id, handler, this);
    this.nodes.set(id, t);
    return t;
  }

  /** Drops everything from `from` to `to` until heal(). */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }
  heal(): void {
    this.cut.clear();
  }

  /** @internal */
  route(from: NodeId, m: Message): boolean {
    if (this.cut.has(`${from}>${m.to}`)) return false;
    const dst = this.nodes.get(m.to);
    if (!dst || !dst.running) return false;
    setImmediate(() => {
      if (!dst.running || this.cut.has(`${from}>${m.to}`)) return;
      this.delivered++;
      dst.handler.receive(m);
    });
    return true;
  }

  /** @internal */
  async call(from: NodeId, to: NodeId, method: string, body: unknown): Promise<unknown> {
    const dst = this.nodes.get(to);
    if (!dst || !dst.running || this.cut.has(`${from}>${to}`) || this.cut.has(`${to}>${from}`)) {
      throw new RpcError('unreachable', `peer ${to.toString(16)} is not reachable`);
    }
    const h = dst.handler.handleRpc;
    if (!h) throw new RpcError('notSupported', 'peer requests not supported');
    await new Promise((r) => setImmediate(r));
    try {
      return JSON.parse(peerJson((await h.call(dst.handler, from, method, JSON.parse(peerJson(body)))) ?? null));
    } catch (err) {
      const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'unknown';
      throw new RpcError(code, err instanceof Error ? err.message : String(err));
    }
  }

  /** @internal */
  info(id: NodeId): unknown {
    return this.nodes.get(id)?.handler.clusterInfo?.() ?? null;
  }

  /** @internal */
  detach(id: NodeId, t: MemoryTransport): void {
    if (this.nodes.get(id) === t) this.nodes.delete(id);
  }
}

export class MemoryTransport implements Transport {
  running = false;
  private readonly peerIds = new Set<NodeId>();

  constructor(
    readonly id: NodeId,
    readonly handler: TransportHandler,
    private readonly net: MemoryNetwork,
  ) {}

  async start(): Promise<void> {
    this.running = true;
  }
  async stop(): Promise<void> {
    this.running = false;
    this.net.detach(this.id, this);
  }
  send(msgs: readonly Message[]): void {
    if (!this.running) return;
    for (const m of msgs) {
      if (m.type === 'snap' && this.handler.snapshotBody) {
        void this.sendStreamedSnapshot(m);
        continue;
      }
      const ok = this.peerIds.has(m.to) && this.net.route(this.id, m);
      if (!ok) {
        if (m.type === 'snap') setImmediate(() => this.handler.reportSnapshot(m.to, false));
        else setImmediate(() => this.handler.reportUnreachable(m.to));
        continue;
      }
      if (m.type === 'snap') setImmediate(() => this.handler.reportSnapshot(m.to, true));
    }
  }
  /** A snapshot whose data the handler streams (from its snapshot file): gathered, then routed whole. */
  private async sendStreamedSnapshot(m: Message): Promise<void> {
    let msg: Message;
    try {
      msg = await withInlineSnapshot(m, await this.handler.snapshotBody!(m));
    } catch {
      setImmediate(() => this.handler.reportSnapshot(m.to, false));
      return;
    }
    const ok = this.running && this.peerIds.has(m.to) && this.net.route(this.id, msg);
    setImmediate(() => this.handler.reportSnapshot(m.to, ok));
  }

  setPeer(id: NodeId): void {
    if (id !== this.id) this.peerIds.add(id);
  }
  removePeer(id: NodeId): void {
    this.peerIds.delete(id);
  }
  isActive(id: NodeId): boolean {
    return this.running && this.peerIds.has(id);
  }
  peers(): NodeId[] {
    return [...this.peerIds];
  }
  call(to: NodeId, method: string, body: unknown): Promise<unknown> {
    return this.net.call(this.id, to, method, body);
  }
}
