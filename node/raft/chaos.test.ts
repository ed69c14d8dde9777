// A compact randomized safety test of the core, kept beside it so regressions show up in
// `npx vitest run node/raft` (the full seeded simulator lives in test/sim/). Each seed
// runs a cluster through drops, duplicates, reordering, partitions, crash-restarts,
// membership changes and compaction, checking Election Safety, Log Matching and State
// Machine Safety as it goes, then heals and requires progress.
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.js';
import { RawNode } from './raw-node.js';
import { SeededRng } from './rand.js';
import { decodeConfChange } from './conf-change.js';
import { ProposalDroppedError, type ConfState, type Entry, type Message, type NodeId, type Ready, type Snapshot } from './types.js';

interface SimNode {
  id: NodeId;
  rn: RawNode;
  storage: MemoryStorage;
  applied: number;
  confState: ConfState;
  up: boolean;
  /** A Ready whose messages went out but whose persistence has not finished (parallel mode). */
  pending?: Ready | undefined;
}

function isEarly(m: Message): boolean {
  return m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
}

interface InFlight {
  at: number;
  m: Message;
}

const enc = new TextEncoder();
const WIDE_ID_BASE = 2n ** 63n;
const dec = new TextDecoder();

class Chaos {
  readonly rng: SeededRng;
  readonly nodes = new Map<NodeId, SimNode>();
  net: InFlight[] = [];
  now = 0;
  /** index -> "term:type:data" of the first application seen anywhere. */
  readonly appliedAt = new Map<number, string>();
  readonly leaderOfTerm = new Map<number, NodeId>();
  readonly blocked = new Set<string>();
  nextId: NodeId;
  proposals = 0;
  readonly log: string[] = [];
  faults = true;
  snapsDelivered = 0;
  readsServed = 0;
  /** ctx -> the highest commit index any node knew when the read was issued. */
  readonly readFloor = new Map<string, number>();
  readonly dropPct: number;
  readonly parallelWrites: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;

  constructor(
    readonly seed: number,
    size: number,
  ) {
    this.rng = new SeededRng(seed);
    this.dropPct = this.rng.intn(25);
    this.parallelWrites = this.rng.intn(2) === 0;
    // Swarm the flow-control knobs: one entry per message makes old-term entries travel
    // without the new leader's own entry, the setup of Raft's Figure 8.
    this.maxSizePerMsg = [1, 64, 1 << 20][this.rng.intn(3)]!;
    this.maxInflightMsgs = [1, 4, 64][this.rng.intn(3)]!;
    // Ids with the top bit set: the 64-bit path (a JS number would round them together).
    const voters = Array.from({ length: size }, (_, i) => WIDE_ID_BASE + BigInt(i + 1));
    for (const id of voters) {
      const snap: Snapshot = { data: new Uint8Array(0), metadata: { index: 0, term: 0, confState: { voters, learners: [] } } };
      this.start(id, new MemoryStorage(snap), 0, { voters, learners: [] });
    }
    this.nextId = WIDE_ID_BASE + BigInt(size + 1);
  }

  private start(id: NodeId, storage: MemoryStorage, applied: number, confState: ConfState): void {
    const rn = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      applied,
      rng: new SeededRng(this.seed * 1000 + Number(id - WIDE_ID_BASE) * 7 + this.now),
      maxInflightMsgs: this.maxInflightMsgs,
      maxSizePerMsg: this.maxSizePerMsg,
      checkQuorum: this.rng.intn(2) === 0,
      preVote: this.rng.intn(2) === 0,
    });
    this.nodes.set(id, { id, rn, storage, applied, confState, up: true });
  }

  private fail(msg: string): never {
    throw new Error(`seed ${this.seed} t=${this.now}: ${msg}\n${this.log.slice(-30).join('\n')}`);
  }

  processReady(n: SimNode): void {
    while (n.up && n.pending === undefined && n.rn.hasReady()) {
      const rd = n.rn.ready();
      // Half the seeds run the leader in "parallel write" mode (Raft thesis 10.2.1): its
      // app/heartbeat/snap messages leave at once, and its fsync completes some ticks later
      // (finishReady), while acknowledgements keep arriving; it may crash before that.
      if (this.parallelWrites && n.rn.status().softState.raftState === 'leader') {
        for (const m of rd.messages) if (isEarly(m)) this.send(m);
        n.pending = rd;
        return;
      }
      this.finishReady(n, rd, false);
    }
  }

  finishReady(n: SimNode, rd: Ready, sentEarly: boolean): void {
    n.pending = undefined;
    if (rd.snapshot !== undefined) {
      n.storage.applySnapshot(rd.snapshot);
      n.confState = rd.snapshot.metadata.confState;
      n.applied = rd.snapshot.metadata.index;
    }
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) if (!sentEarly || !isEarly(m)) this.send(m);
    for (const e of rd.committedEntries) this.apply(n, e);
    for (const rs of rd.readStates) {
      // ReadIndex safety: the read point covers everything committed before the request.
      const ctx = dec.decode(rs.requestCtx);
      const floor = this.readFloor.get(ctx);
      if (floor === undefined) this.fail(`read state for unknown ctx ${ctx}`);
      if (rs.index < floor) this.fail(`read ${ctx} got index ${rs.index} below the commit index ${floor} known when it was issued`);
      // (kept: a duplicated message may answer the same read twice, which is harmless)
      this.readsServed++;
    }
    n.rn.advance();
    const st = n.rn.status();
    if (st.softState.raftState === 'leader') {
      const prev = this.leaderOfTerm.get(st.hardState.term);
      if (prev !== undefined && prev !== n.id) this.fail(`two leaders in term ${st.hardState.term}: ${prev} and ${n.id}`);
      if (prev === undefined) this.checkLeaderCompleteness(n);
      this.leaderOfTerm.set(st.hardState.term, n.id);
    }
  }

  /** A new leader's log holds every entry applied (so committed) anywhere before. */
  private checkLeaderCompleteness(n: SimNode): void {
    const log = n.rn.raftForTesting.raftLog;
    const first = log.firstIndex();
    for (const [index, key] of this.appliedAt) {
      if (index < first) continue; // compacted away: this node had applied it
      const t = log.termOrUndefined(index);
      if (index > log.lastIndex() || t === undefined || !key.startsWith(`${t}:`)) {
        this.fail(`leader completeness: new leader ${n.id} lacks committed entry ${index} (${key}); has term ${String(t)} last=${log.lastIndex()}`);
      }
    }
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) this.fail(`node ${n.id} applied ${e.index} after ${n.applied}`);
    n.applied = e.index;
    const key = `${e.term}:${e.type}:${dec.decode(e.data)}`;
    const prev = this.appliedAt.get(e.index);
    if (prev === undefined) this.appliedAt.set(e.index, key);
    else if (prev !== key) this.fail(`state machine safety: index ${e.index} applied as ${prev} and ${key} (node ${n.id})`);
    if (e.type === 'confChange') n.confState = n.rn.applyConfChange(decodeConfChange(e.data));
  }

  private send(m: Message): void {
    if (this.faults && this.rng.intn(100) < this.dropPct) return; // drop
    const delay = this.faults ? 1 + this.rng.intn(5) : 1;
    this.net.push({ at: this.now + delay, m });
    if (this.faults && this.rng.intn(100) < 5) this.net.push({ at: this.now + delay + this.rng.intn(5), m }); // duplicate
  }

  deliverDue(): void {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.net) (f.at <= this.now ? due : rest).push(f);
    this.net = rest;
    for (const { m } of due) {
      const to = this.nodes.get(m.to);
      if (to === undefined || !to.up) continue;
      if (this.blocked.has(`${m.from}->${m.to}`)) continue;
      if (m.type === 'snap') {
        this.snapsDelivered++;
        // The transport reports the outcome of a snapshot send to the sender.
        const from = this.nodes.get(m.from);
        if (from !== undefined && from.up) from.rn.reportSnapshot(m.to, true);
      }
      to.rn.step(m);
      this.processReady(to);
    }
  }

  checkLogMatching(): void {
    const logs = [...this.nodes.values()].map((n) => {
      const first = n.storage.firstIndex();
      const last = n.storage.lastIndex();
      return { id: n.id, first, last, st: n.storage };
    });
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const x = logs[a]!;
        const y = logs[b]!;
        const lo = Math.max(x.first, y.first);
        const hi = Math.min(x.last, y.last);
        // Find the highest index where terms agree; everything from lo up to it must match.
        let agree = -1;
        for (let i = hi; i >= lo; i--) {
          if (x.st.term(i) === y.st.term(i)) {
            agree = i;
            break;
          }
        }
        for (let i = lo; i <= agree; i++) {
          const ex = x.st.entries(i, i + 1, Infinity)[0]!;
          const ey = y.st.entries(i, i + 1, Infinity)[0]!;
          if (ex.term !== ey.term || dec.decode(ex.data) !== dec.decode(ey.data)) {
            this.fail(`log matching: nodes ${x.id},${y.id} agree at ${agree} but differ at ${i}`);
          }
        }
      }
    }
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      const st = n.rn.status();
      if (st.softState.raftState === 'leader' && (best === undefined || st.hardState.term > best.rn.status().hardState.term)) best = n;
    }
    return best;
  }

  step(): void {
    this.now++;
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      if (n.pending !== undefined) {
        if (this.faults && n.pending.entries.length > 0 && this.rng.intn(100) < 3) {
          this.log.push(`t=${this.now} crash ${n.id} before persisting ${n.pending.entries.length} entries it already sent`);
          n.up = false;
          n.pending = undefined;
          continue;
        }
        if (this.rng.intn(3) === 0 || !this.faults) {
          this.finishReady(n, n.pending, true);
        }
      }
      n.rn.tick();
      this.processReady(n);
    }
    this.deliverDue();
    if (!this.faults) return;
    const r = this.rng.intn(1000);
    const ids = [...this.nodes.keys()];
    const pick = (): SimNode => this.nodes.get(ids[this.rng.intn(ids.length)]!)!;
    if (r < 200) {
      const n = pick();
      if (n.up) this.propose(n);
    } else if (r < 210) {
      // crash-restart: only what was persisted survives
      const n = pick();
      if (n.up) {
        this.log.push(`t=${this.now} crash ${n.id}`);
        n.up = false;
      } else {
        this.log.push(`t=${this.now} restart ${n.id}`);
        this.restart(n);
      }
    } else if (r < 220) {
      const a = ids[this.rng.intn(ids.length)]!;
      const b = ids[this.rng.intn(ids.length)]!;
      if (a !== b) this.blocked.add(`${a}->${b}`);
      if (this.rng.intn(2) === 0) this.blocked.add(`${b}->${a}`);
    } else if (r < 235) {
      this.blocked.clear();
    } else if (r < 238) {
      // Depose the leader: cut it off (both ways), or crash it.
      const l = this.leader();
      if (l !== undefined) {
        if (this.rng.intn(2) === 0) {
          this.log.push(`t=${this.now} isolate leader ${l.id}`);
          for (const o of ids) {
            if (o === l.id) continue;
            this.blocked.add(`${l.id}->${o}`);
            this.blocked.add(`${o}->${l.id}`);
          }
        } else {
          this.log.push(`t=${this.now} crash leader ${l.id}`);
          l.up = false;
        }
      }
    } else if (r < 240) {
      this.membershipChange();
    } else if (r < 275) {
      const n = pick();
      if (n.up) {
        let floor = 0;
        for (const x of this.nodes.values()) floor = Math.max(floor, x.rn.status().hardState.commit);
        const ctx = `r${this.now}-${n.id}`;
        this.readFloor.set(ctx, floor);
        n.rn.readIndex(enc.encode(ctx));
        this.processReady(n);
      }
    } else if (r < 280) {
      const l = this.leader();
      if (l !== undefined) {
        const vs = l.confState.voters;
        l.rn.transferLeader(vs[this.rng.intn(vs.length)]!);
        this.processReady(l);
      }
    } else if (r < 290) {
      const n = pick();
      if (n.up && n.applied > n.storage.firstIndex() + 2) {
        const at = n.applied - this.rng.intn(2);
        n.storage.createSnapshot(at, n.confState, enc.encode(`snap@${at}`));
        n.storage.compact(at);
      }
    }
  }

  restart(n: SimNode): void {
    // applied survives (as if the state machine were durable); unstable memory is gone.
    const applied = Math.max(n.applied, n.storage.snapshot().metadata.index);
    const hsCommit = n.storage.initialState().hardState.commit;
    this.start(n.id, n.storage, Math.min(applied, hsCommit), n.confState);
    const fresh = this.nodes.get(n.id)!;
    fresh.applied = Math.min(applied, hsCommit);
    this.processReady(fresh);
  }

  propose(n: SimNode): void {
    try {
      n.rn.propose(enc.encode(`p${this.proposals++}`));
      this.processReady(n);
    } catch (err: unknown) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  membershipChange(): void {
    const l = this.leader();
    if (l === undefined) return;
    const cs = l.confState;
    const r = this.rng.intn(3);
    try {
      if (r === 0 && cs.voters.length + cs.learners.length < 7) {
        const id = this.nextId++;
        this.start(id, new MemoryStorage(), 0, { voters: [], learners: [] });
        this.log.push(`t=${this.now} add learner ${id}`);
        l.rn.proposeConfChange({ type: 'addLearnerNode', nodeId: id, context: new Uint8Array(0) });
      } else if (r === 1 && cs.learners.length > 0) {
        const id = cs.learners[this.rng.intn(cs.learners.length)]!;
        this.log.push(`t=${this.now} promote ${id}`);
        l.rn.proposeConfChange({ type: 'addNode', nodeId: id, context: new Uint8Array(0) });
      } else if (r === 2 && cs.voters.length > 3) {
        const id = cs.voters[this.rng.intn(cs.voters.length)]!;
        this.log.push(`t=${this.now} remove ${id}`);
        l.rn.proposeConfChange({ type: 'removeNode', nodeId: id, context: new Uint8Array(0) });
      }
      this.processReady(l);
    } catch (err: unknown) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  /** Heal, restart everyone, and require a leader that commits a fresh proposal. */
  liveness(maxTicks: number): number {
    this.faults = false;
    this.blocked.clear();
    for (const n of this.nodes.values()) if (!n.up) this.restart(n);
    const target = `live-${this.seed}`;
    for (let t = 0; t < maxTicks; t++) {
      this.step();
      const l = this.leader();
      if (l !== undefined && t % 5 === 0) {
        try {
          l.rn.propose(enc.encode(target));
          this.processReady(l);
        } catch (err: unknown) {
          if (!(err instanceof ProposalDroppedError)) throw err;
        }
      }
      for (const [, v] of this.appliedAt) if (v.endsWith(`:normal:${target}`)) return t;
    }
    const dump = [...this.nodes.values()].map((n) => {
      const st = n.rn.status();
      return `${n.id}: ${st.softState.raftState} term=${st.hardState.term} vote=${st.hardState.vote} lead=${st.lead} commit=${st.hardState.commit} applied=${st.applied} last=${n.storage.lastIndex()} lastTerm=${n.storage.term(n.storage.lastIndex())} first=${n.storage.firstIndex()} voters=(${st.confState.voters}) learners=(${st.confState.learners})${st.progress ? ' ' + [...st.progress].map(([id, p]) => `${id}:${p.state}/${p.match}/${p.next}`).join(' ') : ''}`;
    });
    return this.fail(`no progress within ${maxTicks} ticks after healing\n${dump.join('\n')}`);
  }
}

describe('raft core under randomized faults', () => {
  const seeds = Number(process.env['CHAOS_SEEDS'] ?? 100);
  const first = Number(process.env['CHAOS_START'] ?? 1);
  it(`keeps safety and recovers liveness for seeds ${first}..${first + seeds - 1}`, () => {
    let ticks = 0;
    const stats = { snaps: 0, confChanges: 0, terms: 0, applied: 0, reads: 0 };
    for (let seed = first; seed < first + seeds; seed++) {
      const c = new Chaos(seed, seed % 2 === 0 ? 3 : 5);
      for (let i = 0; i < 1500; i++) {
        c.step();
        if (i % 100 === 0) c.checkLogMatching();
      }
      c.checkLogMatching();
      ticks += c.liveness(600);
      c.checkLogMatching();
      stats.snaps += c.snapsDelivered;
      stats.reads += c.readsServed;
      stats.terms += c.leaderOfTerm.size;
      stats.applied += c.appliedAt.size;
      for (const v of c.appliedAt.values()) if (v.includes(':confChange:')) stats.confChanges++;
    }
    console.log(`chaos seeds ${first}..${first + seeds - 1}: mean ticks to recover=${(ticks / seeds).toFixed(1)}`, stats);
    expect(ticks).toBeGreaterThan(0);
    // The faults must actually exercise the interesting paths.
    expect(stats.snaps).toBeGreaterThan(0);
    expect(stats.confChanges).toBeGreaterThan(0);
    expect(stats.reads).toBeGreaterThan(0);
  });
});
