// Watchers that run through the faults, one per member, as etcd clients do: a broken stream is
// opened again from the revision after the last event it delivered. What each delivered must be
// the store's event log, in order, each revision once, with no gap, and must reach the final
// revision once the cluster is healed (etcd's watch guarantees; compaction is not exercised).

import type { KvClient, WatchedEvent } from './kv-client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Watcher {
  readonly events: WatchedEvent[] = [];
  readonly problems: string[] = [];
  reopened = 0;
  private readonly abort = new AbortController();
  private readonly running: Promise<void>;

  constructor(readonly name: string, private readonly client: KvClient, private readonly prefix: string, private readonly initialRev: number) {
    this.running = this.loop();
  }

  get lastRev(): number {
    return this.events.at(-1)?.modRev ?? this.initialRev;
  }

  private accept(evs: WatchedEvent[]): void {
    for (const e of evs) {
      if (e.modRev !== this.lastRev + 1 && this.problems.length < 5) {
        this.problems.push(`watch on ${this.name} delivered revision ${e.modRev} after ${this.lastRev}`);
      }
      this.events.push(e);
    }
  }

  private async loop(): Promise<void> {
    // Bounded by the abort: stop() ends it; a failing stream is retried every 200 ms.
    while (!this.abort.signal.aborted) {
      try {
        await this.client.stream(this.prefix, this.lastRev + 1, (evs) => this.accept(evs), this.abort.signal);
      } catch {
        this.reopened++;
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

  /** Its events against the log: the same events at the same revisions. */
  compare(log: readonly WatchedEvent[]): string[] {
    const out = [...this.problems];
    const byRev = new Map(log.map((e) => [e.modRev, e]));
    for (const e of this.events) {
      const want = byRev.get(e.modRev);
      if (!want || want.type !== e.type || want.key !== e.key || want.value !== e.value) {
        out.push(`watch on ${this.name} delivered ${e.type} ${e.key}=${e.value} at revision ${e.modRev}; the log has ${want ? `${want.type} ${want.key}=${want.value}` : 'nothing'}`);
        break;
      }
    }
    return out;
  }
}
