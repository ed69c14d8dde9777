// ReadIndex bookkeeping on the leader: each read records the commit index at arrival and
// is released once a heartbeat round carrying its context is acknowledged by a majority.
// A round confirms every read queued before it too.
import type { Message, NodeId } from './types.js';

export interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

/** Reads waiting for their heartbeat quorum; beyond this, new reads are refused. */
export const MAX_PENDING_READS = 4096;

export function contextKey(ctx: Uint8Array | undefined): string {
  if (ctx === undefined || ctx.byteLength === 0) return '';
  let s = '';
  for (let i = 0; i < ctx.byteLength; i++) s += String.fromCharCode(ctx[i] as number);
  return s;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Returns false when the read could not be queued (duplicate context or queue full). */
  addRequest(index: number, m: Message): boolean {
    const key = contextKey(m.context);
    if (this.pending.has(key)) return false;
    if (this.queue.length >= MAX_PENDING_READS) return false;
    this.pending.set(key, { req: m, index, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records a heartbeat ack carrying ctx; returns the acks so far, or undefined if unknown. */
  recvAck(id: NodeId, ctx: Uint8Array | undefined): ReadonlySet<NodeId> | undefined {
    const rs = this.pending.get(contextKey(ctx));
    if (rs === undefined) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Releases the read with ctx and every read queued before it. */
  advance(ctx: Uint8Array | undefined): ReadIndexStatus[] {
    const key = contextKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const released: ReadIndexStatus[] = [];
    for (let i = 0; i <= at; i++) {
      const k = this.queue[i] as string;
      const rs = this.pending.get(k);
      if (rs === undefined) throw new Error('raft: cannot find the corresponding read state from readonly.pending');
      released.push(rs);
      this.pending.delete(k);
    }
    this.queue = this.queue.slice(at + 1);
    return released;
  }

  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1] as string)?.req.context;
  }

  pendingCount(): number {
    return this.queue.length;
  }
}
