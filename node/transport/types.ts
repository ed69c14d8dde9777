// The peer transport's narrow interface, defined by its user (the runtime), with a real TCP
// implementation (tcp-transport.ts) and an in-memory twin (memory-transport.ts).

import type { Message, NodeId } from '../raft/types.js';
import type { SnapshotBody } from './snapshot-body.js';

/** What the transport calls back into; the runtime implements it. */
export interface TransportHandler {
  /** A message from a peer, to be stepped into raft. Called on the event loop, never re-entrantly from send(). */
  receive(m: Message): void;
  /** A message to this peer could not be sent (down, queue full): raft should probe it. */
  reportUnreachable(id: NodeId): void;
  /** A snapshot sent to a peer finished (ok) or failed. */
  reportSnapshot(id: NodeId, ok: boolean): void;
  /**
   * The data of an outgoing 'snap' message, streamed in chunks (e.g. from the snapshot file on
   * disk). Undefined, or no such method: the message's own snapshot.data is sent.
   */
  snapshotBody?(m: Message): Promise<SnapshotBody | undefined>;
  /**
   * A snapshot arrived whole and checked (byte count and CRC-32C), spooled to a file: `m` carries
   * the metadata with empty data, `body` reads the data back in chunks. The handler owns the body
   * and calls body.release() when done with it. Without this method (or without a spool dir) the
   * data is handed to receive() inside the message, in one Buffer.
   */
  receiveSnapshot?(m: Message, body: SnapshotBody): void;
  /**
   * A small request from a peer (lease renewal forwarded to the leader, member promotion, ...).
   * The answer (JSON-serializable) goes back to the caller; a thrown error with a `code`
   * reaches the caller as RpcError with that code and message.
   */
  handleRpc?(from: NodeId, method: string, body: unknown): Promise<unknown>;
  /** Answers an anonymous "who is the cluster" request from a member that is joining. */
  clusterInfo?(): unknown;
  /** Whether a member id was removed from the cluster: its streams are refused, telling it so. */
  isRemoved?(id: NodeId): boolean;
  /** A peer refused us because this member was removed from the cluster (it should stop). */
  reportRemoved?(): void;
}

/** The reason a peer gives when it refuses a removed member (etcd's text). */
export const REMOVED_REASON = 'the member has been permanently removed from the cluster';

/** A failed peer request: code is the remote error's code, or 'unreachable' / 'timeout'. */
export class RpcError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** Observers for metrics; every member is optional. */
export interface TransportHooks {
  sentBytes?(to: NodeId, n: number): void;
  receivedBytes?(from: NodeId, n: number): void;
  /** One message could not be sent. */
  sendFailed?(to: NodeId, m: Message): void;
  roundTripSeconds?(to: NodeId, s: number): void;
  /** A snapshot send to a peer started. */
  snapshotSendStarted?(to: NodeId): void;
  /** That send ended: acknowledged by the peer (ok) or not, after `s` seconds. */
  snapshotSendFinished?(to: NodeId, ok: boolean, s: number): void;
  /** A snapshot from a peer arrived whole (ok) or broken, `s` seconds after its header. */
  snapshotReceived?(from: NodeId, ok: boolean, s: number): void;
}

export interface Transport {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Queues messages; they leave in one batched write per peer shortly after. Never throws, never blocks. */
  send(msgs: readonly Message[]): void;
  /** Writes what send() queued so far now, not when this turn's microtasks have run. Optional. */
  flushQueued?(): void;
  /** Adds or updates a peer's URLs. */
  setPeer(id: NodeId, urls: readonly string[]): void;
  removePeer(id: NodeId): void;
  /** Whether an outgoing stream to this peer is connected now. */
  isActive(id: NodeId): boolean;
  /** The peer ids known. */
  peers(): NodeId[];
  /** Sends a request to a peer over its stream and waits for the answer. Rejects with RpcError. */
  call(to: NodeId, method: string, body: unknown, timeoutMs: number): Promise<unknown>;
}

/** JSON for peer requests, answers and cluster info: bigints (ids) as decimal strings. */
export function peerJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}
