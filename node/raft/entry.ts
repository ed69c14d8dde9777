// The one place a raft entry object is built. V8 gives objects with the same properties in the
// same order one hidden class, and raft's optimized code inlines checks on that class (most of all
// MemoryStorage.offset() on the dummy entry). When one site built its entries in another order,
// the first compaction after each snapshot changed the dummy's class and deoptimized most of raft
// at once (docs/benchmarks/member.md, twenty-first stop). Every site that makes an entry, the WAL
// and transport decoders included, calls this, so the order cannot drift apart again.

import type { Entry, EntryType } from './types.js';

export function newEntry(term: number, index: number, type: EntryType, data: Uint8Array): Entry {
  return { term, index, type, data };
}
