// Learning the address of a member this member does not know yet (etcd's rafthttp adds such a
// sender as a "remote" from the X-PeerURLs header of its stream). A member that restarts behind
// the conf change that added the current leader has no address for that leader: it takes the
// leader's appends (member.ts accepts an unknown sender), but its answers have nowhere to go, the
// leader never hears where its log ends, and the member never catches up. So, on a message from
// an unknown sender, ask the peers we do know for its URLs (peer request 'peerUrls') and add it.

import type { NodeId } from '../raft/index.js';
import type { Logger } from '../log.js';
import type { Transport } from '../transport/types.js';
import { hexId } from './ids.js';
import type { Scheduler } from './scheduler.js';

export interface PeerDiscoveryOptions {
  readonly self: NodeId;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  readonly transport: () => Transport;
  /** One lookup per unknown id at most this often. */
  readonly retryMs: number;
  readonly timeoutMs: number;
}

export class PeerDiscovery {
  /** id -> when its last lookup started (monotonic ms). */
  private readonly lastTry = new Map<NodeId, number>();

  constructor(private readonly o: PeerDiscoveryOptions) {}

  /** A message came from `id`, which is not in our membership. */
  unknownSender(id: NodeId): void {
    if (id === this.o.self) return;
    const t = this.o.transport();
    if (t.peers().includes(id)) return;
    const now = this.o.scheduler.monoMs();
    const last = this.lastTry.get(id);
    if (last !== undefined && now - last < this.o.retryMs) return;
    this.lastTry.set(id, now);
    void this.lookUp(id, t);
  }

  private async lookUp(id: NodeId, t: Transport): Promise<void> {
    for (const p of t.peers()) {
      if (p === id) return;
      try {
        const urls = (await t.call(p, 'peerUrls', { ID: String(id) }, this.o.timeoutMs)) as unknown;
        if (Array.isArray(urls) && urls.length > 0 && urls.every((u) => typeof u === 'string')) {
          if (t.peers().includes(id)) return;
          t.setPeer(id, urls as string[]);
          this.o.log.info('learned the address of a member this one does not know yet', { member: hexId(id), peerUrls: urls, from: hexId(p) });
          return;
        }
      } catch {
        // That peer is down or does not know it either: ask the next.
      }
    }
  }
}
