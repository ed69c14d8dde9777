// The one place a raft message object is built, with every field of Message present, the
// optional ones as undefined. V8 gives objects with the same properties in the same order one
// hidden class. Messages that gained `context`, `noAck`, `snapshot` or `transferee` only when they
// needed one came in several classes, and code optimized on the classes it had met was thrown
// away at the first message of another: --trace-deopt showed "wrong map" in raft's step functions,
// the ready loop and the transport when the load changed (docs/benchmarks/member.md,
// twenty-fourth stop). raft and the transport decoder both build messages here, so their shapes
// cannot drift apart.
//
// A message without entries gets an empty array of its own, not a shared frozen one: a frozen
// array's elements kind is not one V8's optimized for-of knows, so beside the log's arrays it
// made every loop over m.entries (raft, the transport codec) take the generic iterator, with an
// allocation per element, in optimized code too (twenty-third stop).

import type { Message, MessageType, NodeId } from './types.js';

export function newMessage(type: MessageType, to: NodeId, from: NodeId): Message {
  return {
    type,
    to,
    from,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: undefined,
    reject: false,
    rejectHint: 0,
    context: undefined,
    transferee: undefined,
    noAck: undefined,
  };
}
