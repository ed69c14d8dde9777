// The simulated network between raft nodes. Time is virtual (simulator time units).
// Each send decides the message's fate from the seeded rng: dropped, delayed by a random
// amount (so messages reorder), occasionally delayed a long time, and sometimes duplicated.
// Links can be cut one way (from -> to) or both ways; a cut is checked when a message is
// delivered, so messages in flight when a partition starts are lost too.
import type { Message, NodeId } from '../../node/raft/types.js';
import type { SimRng } from './rng.js';

export interface NetworkFaults {
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice (the copy gets its own delay). */
  dupRate: number;
  /** Normal one-way delay range, in time units. */
  minDelay: number;
  maxDelay: number;
  /** Probability a message is held back much longer (up to longDelayMax), overtaken by later ones. */
  longDelayRate: number;
  longDelayMax: number;
}

export const NO_FAULTS: NetworkFaults = Object.freeze({
  dropRate: 0,
  dupRate: 0,
  minDelay: 1,
  maxDelay: 1,
  longDelayRate: 0,
  longDelayMax: 1,
});

export interface Delivery {
  readonly at: number;
  readonly msg: Message;
}

export interface NetworkStats {
  sent: number;
  dropped: number;
  duplicated: number;
  cut: number;
  delivered: number;
}

export class SimNetwork {
  private faults: NetworkFaults;
  /** Cut links, keyed `${from}>${to}`. */
  private readonly cutLinks = new Set<string>();
  readonly stats: NetworkStats = { sent: 0, dropped: 0, duplicated: 0, cut: 0, delivered: 0 };

  constructor(
    private readonly rng: SimRng,
    faults: NetworkFaults,
  ) {
    this.faults = { ...faults };
  }

  setFaults(faults: NetworkFaults): void {
    this.faults = { ...faults };
  }

  /** Decide when (and how many times) a message arrives. Empty result: lost. */
  send(msg: Message, now: number): Delivery[] {
    this.stats.sent++;
    const f = this.faults;
    if (this.rng.chance(f.dropRate)) {
      this.stats.dropped++;
      return [];
    }
    const out: Delivery[] = [{ at: now + this.delay(), msg }];
    if (this.rng.chance(f.dupRate)) {
      this.stats.duplicated++;
      out.push({ at: now + this.delay(), msg });
    }
    return out;
  }

  private delay(): number {
    const f = this.faults;
    if (this.rng.chance(f.longDelayRate)) return this.rng.range(f.maxDelay, Math.max(f.maxDelay, f.longDelayMax));
    return this.rng.range(f.minDelay, Math.max(f.minDelay, f.maxDelay));
  }

  /** Whether a message from `from` may reach `to` now. Counts refusals. */
  admit(from: NodeId, to: NodeId): boolean {
    if (this.cutLinks.size > 0 && this.cutLinks.has(`${from}>${to}`)) {
      this.stats.cut++;
      return false;
    }
    this.stats.delivered++;
    return true;
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cutLinks.has(`${from}>${to}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cutLinks.add(`${from}>${to}`);
  }

  /** Split the nodes into groups that cannot talk to each other (symmetric partition). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const g of groups) {
      for (const h of groups) {
        if (g === h) continue;
        for (const a of g) for (const b of h) this.cutLinks.add(`${a}>${b}`);
      }
    }
  }

  /** Cut every link into and out of one node. */
  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const o of all) {
      if (o === id) continue;
      this.cutLinks.add(`${id}>${o}`);
      this.cutLinks.add(`${o}>${id}`);
    }
  }

  heal(): void {
    this.cutLinks.clear();
  }

  cutCount(): number {
    return this.cutLinks.size;
  }
}
