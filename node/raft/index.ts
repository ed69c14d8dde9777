// Public surface of the pure Raft core.
export * from './types.js';
export { RawNode, type RaftConfig } from './raw-node.js';
export { CAMPAIGN_TRANSFER } from './raft.js';
export { MemoryStorage, EMPTY_SNAPSHOT } from './memory-storage.js';
export { encodeConfChange, decodeConfChange, ConfChangeDecodeError } from './conf-change.js';
export { SeededRng } from './rand.js';
export { entrySizeBytes, ENTRY_OVERHEAD_BYTES } from './entry-size.js';
