// The simulated peer network between whole members: the runtime's Transport interface, with
// messages delivered on simulated time through the receiver's process (so a paused member gets
// them when it resumes, and a killed one never). In order per pair, like the TCP streams of the
// real transport; faults: symmetric and one-way partitions (a cut link drops what is on it and the
// sender's raft hears the peer is unreachable), random loss (a reset connection), latency spikes.

import type { Message, NodeId } from '../../../node/raft/types.js';
import { RpcError, peerJson, type Transport, type TransportHandler } from '../../../node/transport/types.js';
import { withInlineSnapshot } from '../../../node/transport/snapshot-body.js';
import type { SimRng } from '../rng.js';
import type { SimProcess, World } from './world.js';

export interface NetFaults {
  /** Probability a message is lost (a connection reset mid-stream). */
  loss: number;
  /** Base one-way latency and its random extra (ms). */
  latencyMs: number;
  jitterMs: number;
  /** Probability a message takes a long extra delay (spikeMs). */
  spike: number;
  spikeMs: number;
}

interface Endpoint {
  readonly id: NodeId;
  readonly proc: SimProcess;
  readonly handler: TransportHandler;
  running: boolean;
}

export class SimNetwork {
  private readonly endpoints = new Map<NodeId, Endpoint>();
  private readonly cut = new Set<string>();
  /** Per directed pair: the time the last message is delivered (keeps each stream in order). */
  private readonly lastDelivery = new Map<string, number>();
  faults: NetFaults = { loss: 0, latencyMs: 1, jitterMs: 2, spike: 0, spikeMs: 0 };
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly world: World,
    private readonly rng: SimRng,
  ) {}

  transport(id: NodeId, proc: SimProcess, handler: TransportHandler): Transport {
    const ep: Endpoint = { id, proc, handler, running: false };
    this.endpoints.set(id, ep);
    const peers = new Set<NodeId>();
    const live = (): boolean => ep.running && proc.alive && this.endpoints.get(id) === ep;
    return {
      start: async () => {
        ep.running = true;
      },
      stop: async () => {
        ep.running = false;
      },
      send: (msgs) => {
        if (!live()) return;
        for (const m of msgs) {
          if (m.type === 'snap' && handler.snapshotBody) {
            void this.routeSnapshot(ep, m, () => live() && peers.has(m.to));
            continue;
          }
          const ok = peers.has(m.to) && this.route(ep, m);
          if (m.type === 'snap') proc.soon(() => handler.reportSnapshot(m.to, ok));
          else if (!ok) proc.soon(() => handler.reportUnreachable(m.to));
        }
      },
      setPeer: (p) => {
        if (p !== id) peers.add(p);
      },
      removePeer: (p) => {
        peers.delete(p);
      },
      isActive: (p) => live() && peers.has(p) && this.linkUp(id, p) && this.linkUp(p, id) && this.up(p),
      peers: () => [...peers],
      call: (to, method, body, timeoutMs) => this.call(ep, to, method, body, timeoutMs),
    };
  }

  /** The member's process is gone (crash): nothing more leaves or arrives. */
  detach(id: NodeId): void {
    this.endpoints.delete(id);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }
  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const o of all) {
      if (o === id) continue;
      this.cutLink(id, o);
      this.cutLink(o, id);
    }
  }
  heal(): void {
    this.cut.clear();
  }
  cutCount(): number {
    return this.cut.size;
  }

  private linkUp(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}>${to}`);
  }
  private up(id: NodeId): boolean {
    const ep = this.endpoints.get(id);
    return ep !== undefined && ep.running && ep.proc.alive;
  }

  private delay(from: NodeId, to: NodeId): number {
    const f = this.faults;
    let d = f.latencyMs + this.rng.float() * f.jitterMs;
    if (this.rng.chance(f.spike)) d += this.rng.float() * f.spikeMs;
    const key = `${from}>${to}`;
    const at = Math.max(this.world.now + d, this.lastDelivery.get(key) ?? 0);
    this.lastDelivery.set(key, at);
    return at;
  }

  /** A snapshot whose data the member streams from its snapshot file: gathered, then routed whole (as the memory transport does). */
  private async routeSnapshot(src: Endpoint, m: Message, canSend: () => boolean): Promise<void> {
    let msg: Message;
    try {
      msg = await withInlineSnapshot(m, await src.handler.snapshotBody!(m));
    } catch {
      src.proc.soon(() => src.handler.reportSnapshot(m.to, false));
      return;
    }
    const ok = canSend() && this.route(src, msg);
    src.proc.soon(() => src.handler.reportSnapshot(m.to, ok));
  }

  private route(src: Endpoint, m: Message): boolean {
    const from = src.id;
    if (!this.linkUp(from, m.to) || !this.up(m.to)) {
      this.dropped++;
      return false;
    }
    if (this.rng.chance(this.faults.loss)) {
      this.dropped++;
      return true; // lost on the wire: the sender does not know
    }
    const dst = this.endpoints.get(m.to)!;
    const at = this.delay(from, m.to);
    this.world.enqueue(at, dst.proc, () => {
      if (!this.linkUp(from, m.to) || this.endpoints.get(m.to) !== dst || !dst.running) {
        this.dropped++;
        return;
      }
      // As the TCP transport does: a member refuses a removed member's stream and says why.
      if (dst.handler.isRemoved?.(from)) {
        this.dropped++;
        if (this.linkUp(m.to, from)) src.proc.after(this.faults.latencyMs, () => src.handler.reportRemoved?.());
        return;
      }
      this.delivered++;
      dst.handler.receive(m);
    });
    return true;
  }

  private call(src: Endpoint, to: NodeId, method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (f: () => void): void => {
        if (done) return;
        done = true;
        cancelTimeout();
        f();
      };
      const cancelTimeout = src.proc.after(timeoutMs, () => finish(() => reject(new RpcError('timeout', 'peer request timed out'))));
      const dst = this.endpoints.get(to);
      if (!dst || !this.up(to) || !this.linkUp(src.id, to) || !this.linkUp(to, src.id)) {
        src.proc.after(1, () => finish(() => reject(new RpcError('unreachable', `peer ${to.toString(16)} is not reachable`))));
        return;
      }
      const h = dst.handler.handleRpc;
      if (!h) return finish(() => reject(new RpcError('notSupported', 'peer requests not supported')));
      const request = JSON.parse(peerJson(body)) as unknown;
      this.world.enqueue(this.delay(src.id, to), dst.proc, () => {
        if (!this.linkUp(src.id, to)) return;
        h.call(dst.handler, src.id, method, request).then(
          (answer) => {
            const json = peerJson(answer ?? null);
            if (this.linkUp(to, src.id)) this.world.enqueue(this.delay(to, src.id), src.proc, () => finish(() => resolve(JSON.parse(json))));
          },
          (err: unknown) => {
            const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'unknown';
            const msg = err instanceof Error ? err.message : String(err);
            if (this.linkUp(to, src.id)) this.world.enqueue(this.delay(to, src.id), src.proc, () => finish(() => reject(new RpcError(code, msg))));
          },
        );
      });
    });
  }
}
