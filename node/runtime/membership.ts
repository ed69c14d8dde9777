// The cluster's member records (name, peer URLs, client URLs, learner flag), replicated
// through Raft: conf-change entries carry the record in their context, and a member's
// attributes (name, client URLs) arrive as an 'attrs' entry it proposes after it starts.
// Every member applies the same entries in the same order, so every member holds the same
// records; the records also travel in snapshots (toJSON / fromJSON). The cluster's downgrade
// state (etcd keeps it with the membership too) arrives as a 'downgrade' entry.

import { compareNodeIds, type ConfChange, type NodeId } from '../raft/types.js';
import type { DowngradeInfo, Member } from '../server/backend.js';
import { idFromJson, stringifyWithIds } from './ids.js';

export interface MemberRecord {
  id: NodeId;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** What a conf change's context carries. */
export interface ConfChangeContext {
  readonly member?: MemberRecord;
  readonly proposer: NodeId;
  readonly requestId: number;
}

/** A member record read from JSON (ids as decimal strings, or numbers in old files). */
export function memberRecordFromJson(r: MemberRecord): MemberRecord {
  return { ...r, id: idFromJson(r.id, 'member id'), peerUrls: [...r.peerUrls], clientUrls: [...(r.clientUrls ?? [])] };
}

export function encodeConfContext(ctx: ConfChangeContext): Uint8Array {
  return Buffer.from(stringifyWithIds(ctx));
}

export function decodeConfContext(b: Uint8Array): ConfChangeContext {
  if (b.byteLength === 0) return { proposer: 0n, requestId: 0 };
  const j = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as ConfChangeContext;
  const ctx: ConfChangeContext = { proposer: idFromJson(j.proposer ?? 0, 'proposer id'), requestId: j.requestId };
  return j.member ? { ...ctx, member: memberRecordFromJson(j.member) } : ctx;
}

export interface MemberAttrs {
  readonly id: NodeId;
  readonly name: string;
  readonly clientUrls: readonly string[];
}

/** Ids are bigints here; serialize with stringifyWithIds (decimal strings). */
export interface MembershipJSON {
  members: MemberRecord[];
  removed: NodeId[];
  /** Present while a downgrade is enabled (a snapshot without it: none). */
  downgrade?: DowngradeInfo;
}

const NO_DOWNGRADE: DowngradeInfo = Object.freeze({ enabled: false, targetVersion: '' });

export class Membership {
  private readonly byId = new Map<NodeId, MemberRecord>();
  private readonly removedIds = new Set<NodeId>();
  private downgradeState: DowngradeInfo = NO_DOWNGRADE;

  /** From parsed JSON: ids may be decimal strings or (old snapshots) numbers. */
  static fromJSON(j: MembershipJSON): Membership {
    const m = new Membership();
    for (const r of j.members) {
      const rec = memberRecordFromJson(r);
      m.byId.set(rec.id, rec);
    }
    for (const id of j.removed) m.removedIds.add(idFromJson(id, 'removed member id'));
    if (j.downgrade?.enabled) m.setDowngrade(j.downgrade);
    return m;
  }

  toJSON(): MembershipJSON {
    const j: MembershipJSON = { members: this.records(), removed: [...this.removedIds].sort(compareNodeIds) };
    if (this.downgradeState.enabled) j.downgrade = { ...this.downgradeState };
    return j;
  }

  records(): MemberRecord[] {
    return [...this.byId.values()].sort((a, b) => compareNodeIds(a.id, b.id)).map((r) => ({ ...r, peerUrls: [...r.peerUrls], clientUrls: [...r.clientUrls] }));
  }

  list(): Member[] {
    return this.records();
  }

  get(id: NodeId): MemberRecord | undefined {
    return this.byId.get(id);
  }

  has(id: NodeId): boolean {
    return this.byId.has(id);
  }

  /** No records yet: a member joining an existing cluster before it has caught up. */
  isEmpty(): boolean {
    return this.byId.size === 0;
  }

  isRemoved(id: NodeId): boolean {
    return this.removedIds.has(id);
  }

  voters(): NodeId[] {
    return this.records().filter((r) => !r.isLearner).map((r) => r.id);
  }

  learners(): NodeId[] {
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
