// RawNode: the application's handle on the pure Raft core. (STUB: bodies land next.)
import type { ConfChange, ConfState, Message, NodeId, RaftLogger, RaftStatus, RaftStorage, Ready, Rng } from './types.js';

export interface RaftConfig {
  id: NodeId;
  electionTick: number;
  heartbeatTick: number;
  storage: RaftStorage;
  applied?: number;
  maxSizePerMsg?: number;
  maxCommittedSizePerReady?: number;
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  maxUncommittedEntriesSize?: number;
  checkQuorum?: boolean;
  preVote?: boolean;
  rng: Rng;
  logger?: RaftLogger;
}

function todo(): never {
  throw new Error('raft: RawNode not implemented yet');
}

export class RawNode {
  constructor(cfg: RaftConfig) {
    void cfg;
  }
  tick(): void { todo(); }
  campaign(): void { todo(); }
  step(m: Message): void { void m; todo(); }
  propose(data: Uint8Array): void { void data; todo(); }
  proposeConfChange(cc: ConfChange): void { void cc; todo(); }
  applyConfChange(cc: ConfChange): ConfState { void cc; todo(); }
  readIndex(ctx: Uint8Array): void { void ctx; todo(); }
  transferLeader(to: NodeId): void { void to; todo(); }
  reportUnreachable(id: NodeId): void { void id; todo(); }
  reportSnapshot(id: NodeId, ok: boolean): void { void id; void ok; todo(); }
  hasReady(): boolean { todo(); }
  ready(): Ready { todo(); }
  advance(): void { todo(); }
  status(): RaftStatus { todo(); }
}
