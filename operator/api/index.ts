export * from './types.js';
export * from './defaults.js';
export * from './validate.js';
export * from './conditions.js';
export * from './quantity.js';
export * from './compaction.js';
export * from './versions.js';
export * from './etcd-backup.js';
