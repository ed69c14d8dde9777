// A small model of what the operator's planner acts on: an etcd cluster's member list and a
// StatefulSet with one PVC per ordinal. It is not the operator's view: it is the truth the view is taken
// from, so invariants are checked against what really runs, not against what the planner believed.
// Pure and deterministic: every random choice comes from the SimRng passed in.
import { quorum } from '../../operator/plan/quorum.js';
import type { SimRng } from '../sim/rng.js';

export interface WMember {
  id: number;
  /** The ordinal its peer URL names; null for a foreign member (added out of band with another URL). */
  ordinal: number | null;
  learner: boolean;
  /** Started once (etcd then reports its name). */
  started: boolean;
  caughtUp: boolean;
  /** A learner that never catches up (a broken image, a slow disk). */
  frozen: boolean;
}

export interface WPvc {
  uid: number;
  terminating: boolean;
  /** Whose data it holds; null when empty. */
  data: number | null;
}

export interface WPod {
  /** The pod was created while its claim was missing or terminating: it stays Pending. */
  volumeOk: boolean;
  /** Its member refused to start on an empty data dir as an already-started voter. */
  refused: boolean;
}

export class World {
  members: WMember[] = [];
  leader: number | null = null;
  sts: number | null = null;
  pods = new Map<number, WPod>();
  pvcs = new Map<number, WPvc>();
  private nextID = 100;
  private nextUID = 1;

  constructor(private readonly rng: SimRng, size: number) {
    for (let k = 0; k < size; k++) {
      const id = this.nextID++;
      this.members.push({ id, ordinal: k, learner: false, started: true, caughtUp: true, frozen: false });
      this.pvcs.set(k, { uid: this.nextUID++, terminating: false, data: id });
      this.pods.set(k, { volumeOk: true, refused: false });
    }
    this.sts = size;
    this.leader = this.members[0]?.id ?? null;
  }

  memberAt(k: number): WMember | undefined {
    return this.members.find((m) => m.ordinal === k);
  }

  /** The member runs: its pod exists on a usable claim that holds its data. */
  running(m: WMember): boolean {
    if (m.ordinal === null) return false;
    const pod = this.pods.get(m.ordinal);
    const pvc = this.pvcs.get(m.ordinal);
    return pod !== undefined && pod.volumeOk && pvc !== undefined && pvc.data === m.id;
  }

  healthy(m: WMember): boolean {
    return this.running(m) && m.caughtUp;
  }

  voters(): WMember[] {
    return this.members.filter((m) => !m.learner);
  }

  healthyVoters(): number {
    return this.voters().filter((m) => this.healthy(m)).length;
  }

  hasQuorum(): boolean {
    return this.healthyVoters() >= quorum(this.voters().length);
  }

  // ------------------------------------------------------------------ etcd's member API (its rules)

  addLearner(k: number | null): number {
    if (this.leader === null) throw new Error('etcdserver: no leader');
    if (this.members.some((m) => m.learner)) throw new Error('etcdserver: too many learner members in cluster');
    if (k !== null && this.memberAt(k) !== undefined) throw new Error('etcdserver: Peer URLs already exists');
    const id = this.nextID++;
    this.members.push({ id, ordinal: k, learner: true, started: false, caughtUp: false, frozen: false });
    return id;
  }

  promote(id: number): void {
    const m = this.byID(id);
    if (this.leader === null) throw new Error('etcdserver: no leader');
    if (!m.learner || !this.healthy(m)) throw new Error('etcdserver: can only promote a learner member which is in sync with leader');
    if (this.healthyVoters() + 1 < quorum(this.voters().length + 1)) throw new Error('etcdserver: unhealthy cluster');
    m.learner = false;
  }

  /** etcd's strict reconfiguration check: the voters left must keep a healthy quorum. */
  remove(id: number): void {
    const m = this.byID(id);
    if (this.leader === null) throw new Error('etcdserver: no leader');
    if (!m.learner) {
      const left = this.voters().filter((x) => x.id !== id);
      if (left.filter((x) => this.healthy(x)).length < quorum(left.length)) throw new Error('etcdserver: unhealthy cluster');
    }
    this.members = this.members.filter((x) => x.id !== id);
    this.elect();
  }

  moveLeader(to: number): void {
    const m = this.byID(to);
    if (m.learner || !this.healthy(m)) throw new Error('etcdserver: bad leader transferee');
    this.leader = to;
  }

  private byID(id: number): WMember {
    const m = this.members.find((x) => x.id === id);
    if (m === undefined) throw new Error('etcdserver: member not found');
    return m;
  }

  /** Keeps a leader while a healthy quorum of voters runs; none otherwise. */
  elect(): void {
    if (!this.hasQuorum()) {
      this.leader = null;
      return;
    }
    const cur = this.members.find((m) => m.id === this.leader);
    if (cur !== undefined && !cur.learner && this.healthy(cur)) return;
    this.leader = this.voters().find((m) => this.healthy(m))?.id ?? null;
  }

  // ------------------------------------------------------------------ Kubernetes

  setReplicas(n: number): void {
    this.sts = n;
    for (const k of [...this.pods.keys()]) if (k >= n) this.deletePod(k);
    this.elect();
  }

  deleteStatefulSet(): void {
    this.sts = null;
    for (const k of [...this.pods.keys()]) this.deletePod(k);
    this.elect();
  }

  deletePod(k: number): void {
    this.pods.delete(k);
    const m = this.memberAt(k);
    if (m !== undefined) m.caughtUp = false; // a restarted member replays before it is useful
    const pvc = this.pvcs.get(k);
    // pvc-protection lets a terminating claim go once no pod uses it.
    if (pvc?.terminating) this.pvcs.delete(k);
    this.elect();
  }

  deletePvc(k: number): void {
    const pvc = this.pvcs.get(k);
    if (pvc === undefined) return;
    if (this.pods.has(k)) pvc.terminating = true;
    else this.pvcs.delete(k);
  }

  /**
   * One round of the controllers and kubelets: the StatefulSet creates missing pods (and their claims;
   * a pod created while its claim terminates gets none and stays Pending), members start or refuse,
   * learners replicate, the cluster elects.
   */
  tick(): void {
    if (this.sts !== null) {
      for (let k = 0; k < this.sts; k++) {
        if (this.pods.has(k)) continue;
        const old = this.pvcs.get(k);
        // The claim left by a deleted pod may still be terminating when the new pod comes.
        if (old?.terminating && this.rng.chance(0.5)) this.pvcs.delete(k);
        if (!this.pvcs.has(k)) this.pvcs.set(k, { uid: this.nextUID++, terminating: false, data: null });
        this.pods.set(k, { volumeOk: !(this.pvcs.get(k) as WPvc).terminating, refused: false });
      }
    }
    for (const [k, pod] of this.pods) this.start(k, pod);
    for (const m of this.members) if (this.running(m) && !(m.frozen && m.learner)) m.caughtUp = true;
    this.elect();
  }

  /** What the member process in pod k does with the data dir it finds. */
  private start(k: number, pod: WPod): void {
    const pvc = this.pvcs.get(k);
    if (!pod.volumeOk || pvc === undefined || pvc.data !== null) return;
    const m = this.memberAt(k);
    if (m === undefined) return; // not in the member list: it exits
    if (m.started && !m.learner) {
      pod.refused = true; // "member ... has already been bootstrapped"
      return;
    }
    m.started = true;
    m.caughtUp = false;
    pvc.data = m.id;
  }
}

