// The cluster's member records (name, peer URLs, client URLs, learner flag), replicated
// through Raft: conf-change entries carry the record in their context, and a member's
// attributes (name, client URLs) arrive as an 'attrs' entry it proposes after it starts.
// Every member applies the same entries in the same order, so every member holds the same
// records; the records also travel in snapshots (toJSON / fromJSON). The cluster's downgrade
// state (etcd keeps it with the membership too) arrives as a 'downgrade' entry.

import type { ConfChange } from '../raft/types.js';
import type { DowngradeInfo, Member } from '../server/backend.js';

export interface MemberRecord {
  id: number;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** What a conf change's context carries. */
export interface ConfChangeContext {
  readonly member?: MemberRecord;
  readonly proposer: number;
  readonly requestId: number;
}

export function encodeConfContext(ctx: ConfChangeContext): Uint8Array {
  return Buffer.from(JSON.stringify(ctx));
}

export function decodeConfContext(b: Uint8Array): ConfChangeContext {
  if (b.byteLength === 0) return { proposer: 0, requestId: 0 };
  return JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as ConfChangeContext;
}

export interface MemberAttrs {
  readonly id: number;
  readonly name: string;
  readonly clientUrls: readonly string[];
}

export interface MembershipJSON {
  members: MemberRecord[];
  removed: number[];
  /** Present while a downgrade is enabled (a snapshot without it: none). */
  downgrade?: DowngradeInfo;
}

const NO_DOWNGRADE: DowngradeInfo = Object.freeze({ enabled: false, targetVersion: '' });

export class Membership {
  private readonly byId = new Map<number, MemberRecord>();
  private readonly removedIds = new Set<number>();
  private downgradeState: DowngradeInfo = NO_DOWNGRADE;

  static fromJSON(j: MembershipJSON): Membership {
    const m = new Membership();
    for (const r of j.members) m.byId.set(r.id, { ...r, peerUrls: [...r.peerUrls], clientUrls: [...r.clientUrls] });
    for (const id of j.removed) m.removedIds.add(id);
    if (j.downgrade?.enabled) m.setDowngrade(j.downgrade);
    return m;
  }

  toJSON(): MembershipJSON {
    const j: MembershipJSON = { members: this.records(), removed: [...this.removedIds].sort((a, b) => a - b) };
    if (this.downgradeState.enabled) j.downgrade = { ...this.downgradeState };
    return j;
  }

  records(): MemberRecord[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id).map((r) => ({ ...r, peerUrls: [...r.peerUrls], clientUrls: [...r.clientUrls] }));
  }

  list(): Member[] {
    return this.records();
  }

  get(id: number): MemberRecord | undefined {
    return this.byId.get(id);
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** No records yet: a member joining an existing cluster before it has caught up. */
  isEmpty(): boolean {
    return this.byId.size === 0;
  }

  isRemoved(id: number): boolean {
    return this.removedIds.has(id);
  }

  voters(): number[] {
    return this.records().filter((r) => !r.isLearner).map((r) => r.id);
  }

  learners(): number[] {
    return this.records().filter((r) => r.isLearner).map((r) => r.id);
  }

  findByPeerUrl(url: string): MemberRecord | undefined {
    for (const r of this.byId.values()) if (r.peerUrls.includes(url)) return r;
    return undefined;
  }

  /** Applies a committed conf change's effect on the records. */
  applyConfChange(cc: ConfChange, ctx: ConfChangeContext): void {
    switch (cc.type) {
      case 'addNode': {
        const existing = this.byId.get(cc.nodeId);
        if (existing) existing.isLearner = false; // promotion
        else if (ctx.member) this.byId.set(cc.nodeId, { ...ctx.member, id: cc.nodeId, isLearner: false });
        else this.byId.set(cc.nodeId, { id: cc.nodeId, name: '', peerUrls: [], clientUrls: [], isLearner: false });
        return;
      }
      case 'addLearnerNode': {
        if (this.byId.has(cc.nodeId)) return;
        const rec = ctx.member ?? { id: cc.nodeId, name: '', peerUrls: [], clientUrls: [], isLearner: true };
        this.byId.set(cc.nodeId, { ...rec, id: cc.nodeId, isLearner: true });
        return;
      }
      case 'removeNode':
        this.byId.delete(cc.nodeId);
        this.removedIds.add(cc.nodeId);
        return;
      case 'updateNode': {
        const existing = this.byId.get(cc.nodeId);
        if (existing && ctx.member) existing.peerUrls = [...ctx.member.peerUrls];
        return;
      }
      default: {
        const never: never = cc.type;
        throw new Error(`unknown conf change type ${String(never)}`);
      }
    }
  }

  downgrade(): DowngradeInfo {
    return this.downgradeState;
  }

  /** etcd's DowngradeInfoSet: enabled with its target, or canceled (no target). */
  setDowngrade(d: DowngradeInfo): void {
    this.downgradeState = d.enabled ? Object.freeze({ enabled: true, targetVersion: d.targetVersion }) : NO_DOWNGRADE;
  }

  applyAttrs(a: MemberAttrs): void {
    const r = this.byId.get(a.id);
    if (!r) return;
    r.name = a.name;
    r.clientUrls = [...a.clientUrls];
  }
}
