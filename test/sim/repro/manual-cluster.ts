// A tiny hand-driven cluster for bug reproductions: RawNodes with MemoryStorage, a message
// pool the script delivers (or holds back) explicitly, and the Ready loop done by the book.
import type { Message, NodeId, Snapshot } from '../../../node/raft/types.js';
import { MemoryStorage } from '../../../node/raft/memory-storage.js';
import { RawNode, type RaftConfig } from '../../../node/raft/raw-node.js';
import { SimRng } from '../rng.js';

export class ManualCluster {
  readonly nodes = new Map<NodeId, { raw: RawNode; storage: MemoryStorage }>();
  /** Messages sent and not yet delivered. */
  pool: Message[] = [];

  constructor(ids: NodeId[], cfg: Partial<RaftConfig> = {}) {
    const snap: Snapshot = { data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters: ids, learners: [] } } };
    for (const id of ids) {
      const storage = new MemoryStorage(snap);
      const raw = new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage, rng: new SimRng(Number(id)), ...cfg });
      this.nodes.set(id, { raw, storage });
    }
  }

  node(id: NodeId): RawNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n.raw;
  }

  /** Handle every pending Ready of every node: persist, collect messages, apply, advance. */
  settle(): void {
    for (const [, n] of this.nodes) {
      while (n.raw.hasReady()) {
        const rd = n.raw.ready();
        if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
        n.storage.append(rd.entries);
        if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
        this.pool.push(...rd.messages);
        n.raw.advance();
      }
    }
  }

  /** Deliver the pooled messages that match, keep the rest; returns how many were delivered. */
  deliver(match: (m: Message) => boolean = () => true): number {
    this.settle();
    const now = this.pool.filter(match);
    this.pool = this.pool.filter((m) => !match(m));
    for (const m of now) this.node(m.to).step(m);
    this.settle();
    return now.length;
  }

  /** Deliver only the oldest pooled message that matches; returns it. */
  deliverFirst(match: (m: Message) => boolean): Message {
    this.settle();
    const i = this.pool.findIndex(match);
    if (i < 0) throw new Error('no such message in the pool');
    const [m] = this.pool.splice(i, 1) as [Message];
    this.node(m.to).step(m);
    this.settle();
    return m;
  }

  /** Deliver everything until no messages remain (bounded). */
  stabilize(): void {
    for (let i = 0; i < 100 && this.deliver() > 0; i++) {
      // keep going
    }
  }
}
