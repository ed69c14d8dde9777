import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createStorageMetrics, storageHooks, DISK_BUCKETS_SECONDS } from './metrics.js';
import { openStorage } from './storage.js';
import { MemoryFs } from './memory-fs.js';
import { entries } from '../../test/storage/helpers.js';

describe('storage metrics', () => {
  it("uses etcd's names and buckets and is fed by the WAL", async () => {
    expect(DISK_BUCKETS_SECONDS[0]).toBe(0.001);
    expect(DISK_BUCKETS_SECONDS.length).toBe(14);
    expect(DISK_BUCKETS_SECONDS[13]).toBeCloseTo(8.192);
    const registry = new Registry();
    const m = createStorageMetrics(registry);
    expect(createStorageMetrics(registry).walWriteBytes).toBe(m.walWriteBytes); // reused, not re-registered
    const { storage } = await openStorage('/m', { fs: new MemoryFs(), segmentSizeBytes: 4096, hooks: storageHooks(m) });
    await storage.save({ term: 1, vote: 1n, commit: 1 }, entries(1, 3, 1), true);
    await storage.saveSnapshot({ metadata: { index: 2, term: 1, confState: { voters: [1n], learners: [] } }, data: new Uint8Array(10) });
    const text = await registry.metrics();
    expect(text).toMatch(/etcd_disk_wal_fsync_duration_seconds_count [1-9]/);
    expect(text).toMatch(/etcd_disk_wal_fsync_duration_seconds_bucket\{le="0.001"\}/);
    expect(text).toMatch(/etcd_disk_wal_write_bytes_total [1-9]/);
    expect(text).toMatch(/etcd_disk_backend_commit_duration_seconds_count 1/);
    expect(text).toMatch(/etcd_disk_wal_write_duration_seconds_count [1-9]/);
    expect(text).toMatch(/etcd_snap_fsync_duration_seconds_count 1/);
    // Our own snapshot is not a leader's: etcd's snap_db figures stay at zero until one arrives.
    expect(text).toMatch(/etcd_snap_db_fsync_duration_seconds_count 0/);
    expect(text).toMatch(/etcd_snap_db_save_total_duration_seconds_count 0/);
    await storage.saveSnapshot({ metadata: { index: 3, term: 1, confState: { voters: [1n], learners: [] } }, data: new Uint8Array(10) }, { fromLeader: true });
    const after = await registry.metrics();
    expect(after).toMatch(/etcd_snap_fsync_duration_seconds_count 2/);
    expect(after).toMatch(/etcd_snap_db_fsync_duration_seconds_count 1/);
    expect(after).toMatch(/etcd_snap_db_save_total_duration_seconds_count 1/);
    expect(after).toMatch(/etcd_snap_db_save_total_duration_seconds_bucket\{le="0.1"\}/);
  });
});
