// Watchers that run through the faults, as etcd clients do: a broken stream is opened again from
// the revision after the last event it delivered. One per member checks etcd's watch guarantees:
// what it delivered must be the store's event log, in order, each event once, with no gap, and it
// must reach the final revision once the cluster is healed. Compaction is honoured: a watch whose
// next revision was compacted gets etcd's canceled answer (compact_revision set; etcd's server
// gives no cancel_reason, its client turns compact_revision into ErrCompacted), and the watcher
// goes on from the compact revision, as a client does after a fresh list; only the revisions
// from its next one through the compact revision may be missing from what it delivered.
// The log keeper (`roam`) is a watcher that moves to the next member when its stream fails; the
// compactor never compacts past what it holds, so it holds every event of the run.

import { monotonicNs } from './history.js';
import { WatchCompactedError, type KvClient, type WatchedEvent } from './kv-client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** etcd's Range (and Compact) error for a compacted revision (rpctypes ErrGRPCCompacted). */
export const COMPACTED_TEXT = 'etcdserver: mvcc: required revision has been compacted';
/** etcd's watch server cancels a compacted watch with compact_revision and no reason (v3rpc/watch.go). */
export const COMPACTED_CANCEL_REASON = '';

/** A watch the server canceled for compaction: the next revision the watcher wanted, the compact revision answered. */
export interface WatchCancel {
  readonly at: number;
  readonly start: number;
  readonly compactRevision: number;
  readonly reason: string;
}

export class Watcher {
  readonly events: WatchedEvent[] = [];
  /** When each event arrived (monotonicNs), index by index with `events`. */
  readonly seenAt: number[] = [];
  readonly cancels: WatchCancel[] = [];
  reopened = 0;
  private skippedTo: number;
  private member = 0;
  private readonly abort = new AbortController();
  private readonly running: Promise<void>;

  /** `clients`: one client (a member's watcher) or every member's (the log keeper roams). */
  constructor(readonly name: string, private readonly clients: readonly KvClient[], private readonly prefix: string, private readonly initialRev: number) {
    this.skippedTo = initialRev;
    this.running = this.loop();
  }

  /** The revision it has delivered or skipped (for compaction) through. */
  get lastRev(): number {
    return Math.max(this.events.at(-1)?.modRev ?? this.initialRev, this.skippedTo);
  }

  private accept(evs: WatchedEvent[]): void {
    const now = monotonicNs();
    for (const e of evs) {
      this.events.push(e);
      this.seenAt.push(now);
    }
  }

  private async loop(): Promise<void> {
    // Bounded by the abort: stop() ends it; a failing stream is retried every 200 ms.
    while (!this.abort.signal.aborted) {
      try {
        await this.clients[this.member]!.stream(this.prefix, this.lastRev + 1, (evs) => this.accept(evs), this.abort.signal);
      } catch (e) {
        this.reopened++;
        if (e instanceof WatchCompactedError) {
          // The stream may have delivered events before the cancel (a lagging member that then
          // applied the compaction): what is missing starts after them.
          const start = this.lastRev + 1;
          this.cancels.push({ at: monotonicNs(), start, compactRevision: e.compactRevision, reason: e.reason });
          // Go on after the compact revision (a client lists again at it); a cancel that does
          // not move forward is only recorded (compareWith reports it) and retried later.
          if (e.compactRevision >= start) this.skippedTo = e.compactRevision;
        } else {
          this.member = (this.member + 1) % this.clients.length;
        }
        await sleep(200);
      }
    }
  }

  /** Waits (bounded) until the watcher has delivered revision `rev`. */
  async reach(rev: number, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.lastRev < rev && Date.now() < end) await sleep(100);
    return this.lastRev >= rev;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** When revision `rev` first arrived here (undefined: never). */
  firstSeen(rev: number): number | undefined {
    const i = this.events.findIndex((e) => e.modRev === rev);
    return i < 0 ? undefined : this.seenAt[i];
  }

  /**
   * Its events against the log: exactly the log's events through its last revision, in order,
   * each once, except the revisions a compacted answer let it skip; and each compacted answer
   * must be etcd's (its reason text, a compact revision at or after the start asked).
   */
  compare(log: readonly WatchedEvent[]): string[] {
    const out: string[] = [];
    for (const c of this.cancels) {
      if (c.reason !== COMPACTED_CANCEL_REASON) out.push(`watch on ${this.name} canceled for compaction with reason ${JSON.stringify(c.reason)}; etcd gives none`);
      if (c.compactRevision < c.start) out.push(`watch on ${this.name} from revision ${c.start} canceled as compacted at ${c.compactRevision}, which is before the start`);
    }
    const skipped = (rev: number): boolean => this.cancels.some((c) => rev >= c.start && rev <= c.compactRevision);
    const want = log.filter((e) => e.modRev <= this.lastRev && !skipped(e.modRev));
    const show = (e: WatchedEvent | undefined): string => (e ? `${e.type} ${e.key}=${e.value} at revision ${e.modRev}` : 'nothing');
    for (let i = 0; i < Math.max(want.length, this.events.length); i++) {
      const got = this.events[i];
      const w = want[i];
      if (!got || !w || got.type !== w.type || got.key !== w.key || got.value !== w.value || got.modRev !== w.modRev) {
        out.push(`watch on ${this.name}: event ${i} is ${show(got)}; the log has ${show(w)}`);
        break;
      }
    }
    return out;
  }
}
