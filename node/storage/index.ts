// Public surface of node/storage.
export type { MemberStorage, OpenedStorage, RecoveredState, RecoveryStats, SnapshotReader, SnapshotData, SnapshotInput, StorageHooks, StorageOptions } from './types.js';
export { openStorage, DEFAULT_SEGMENT_SIZE_BYTES, WAL_DIR_NAME, SNAP_DIR_NAME } from './storage.js';
export type { WalFs, WalFile, ReadableFile, FsOp } from './fs.js';
export { DEFAULT_READ_CHUNK_BYTES } from './segment-scan.js';
export { withFaults, errnoError } from './fs.js';
export { nodeFs } from './node-fs.js';
export { MemoryFs, type CrashOptions } from './memory-fs.js';
export * from './errors.js';
export {
  encodeEntry,
  decodeEntry,
  encodeEntries,
  decodeEntries,
  encodeHardState,
  decodeHardState,
  encodeSnapshotMetadata,
  decodeSnapshotMetadata,
  ByteReader,
  ByteWriter,
  readEntry,
  writeEntry,
  CodecError,
} from './codec.js';
export { crc32c, crc32cUpdate } from '../lib/crc32c.js';
export { createStorageMetrics, storageHooks, DISK_BUCKETS_SECONDS, type StorageMetrics } from './metrics.js';
export { ValueLog, ValueLogCorruptError, VALUE_LOG_WRITE_BUFFER_BYTES } from './value-log.js';
export { nodeSyncFileOps, MemorySyncFileOps, type SyncFileOps } from './sync-file-ops.js';
