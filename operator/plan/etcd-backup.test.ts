import { describe, expect, it } from 'vitest';
import type { EtcdBackup } from '../api/etcd-backup.js';
import { etcdBackupEvent, etcdBackupKey, etcdBackupSpecProblems, etcdBackupStatus, planEtcdBackup } from './etcd-backup.js';

const s3 = { endpoint: 'http://s3.example:9000', bucket: 'backups', prefix: 'p/', credentialsSecret: { name: 'creds' } };
const backup = (status?: EtcdBackup['status'], spec: Partial<EtcdBackup['spec']> = {}): EtcdBackup => ({
  apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdBackup',
  metadata: { name: 'b1', namespace: 'ns', uid: 'u', generation: 1 },
  spec: { clusterName: 'main', s3, ...spec },
  ...(status ? { status } : {}),
});
const present = { kind: 'present' as const, voters: 3 };
const t0 = '2026-01-01T00:00:00.000Z';
const t1 = '2026-01-01T00:00:05.000Z';

describe('planEtcdBackup', () => {
  it('waits for a missing, deleting or silent cluster; records the attempt before taking it; final phases are final', () => {
    expect(planEtcdBackup(backup(), { kind: 'missing' })).toMatchObject({ kind: 'wait', reason: 'ClusterNotFound' });
    expect(planEtcdBackup(backup(), { kind: 'deleting' })).toMatchObject({ kind: 'wait', reason: 'ClusterDeleting' });
    expect(planEtcdBackup(backup(), { kind: 'present', voters: 0 })).toMatchObject({ kind: 'wait', reason: 'ClusterNotReady' });
    expect(planEtcdBackup(backup({ phase: 'Pending' }), present)).toEqual({ kind: 'start' });
    // Recorded as Running (a crash may have come after): take it, whatever the cluster looks like now.
    expect(planEtcdBackup(backup({ phase: 'Running', startTime: t0 }), { kind: 'missing' })).toEqual({ kind: 'take' });
    expect(planEtcdBackup(backup({ phase: 'Succeeded' }), present)).toEqual({ kind: 'done' });
    expect(planEtcdBackup(backup({ phase: 'Failed' }), present)).toEqual({ kind: 'done' });
  });

  it('refuses a spec the schema should have refused, naming every problem', () => {
    const step = planEtcdBackup(backup(undefined, { clusterName: 'Not_A_Name', s3: { ...s3, endpoint: 'ftp://x', bucket: 'B' } }), present);
    expect(step.kind).toBe('refuse');
    expect(step.kind === 'refuse' && step.message).toBe(
      'spec.clusterName "Not_A_Name" must name an EtcdCluster (a DNS label); spec.s3.endpoint "ftp://x" must be an http:// or https:// URL; ' +
      'spec.s3.bucket "B" is not a bucket name (3-63 of a-z, 0-9, \'.\', \'-\')');
    expect(etcdBackupSpecProblems(backup().spec)).toEqual([]);
  });
});

describe('etcdBackupStatus and etcdBackupEvent', () => {
  it('walks Pending -> Running -> Succeeded with location, size and revision, one Event per change', () => {
    const b0 = backup();
    const wait = planEtcdBackup(b0, { kind: 'missing' });
    const pending = etcdBackupStatus(b0, wait, null, t0);
    expect(pending).toMatchObject({ phase: 'Pending', conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'ClusterNotFound', lastTransitionTime: t0 }] });
    expect(etcdBackupEvent({}, pending, wait)).toMatchObject({ type: 'Normal', reason: 'ClusterNotFound' });
    // The same wait again: no second Event.
    expect(etcdBackupEvent(pending, etcdBackupStatus(backup(pending), wait, null, t1), wait)).toBeNull();
    const running = etcdBackupStatus(backup(pending), { kind: 'start' }, null, t1);
    expect(running).toMatchObject({ phase: 'Running', startTime: t1 });
    const record = { key: 'p/ns/main/on-demand/b1-x.db', location: 's3://backups/p/ns/main/on-demand/b1-x.db', sizeBytes: 8224, revision: 42, sha256: 'ab', memberEndpoint: 'https://m:2379' };
    const done = etcdBackupStatus(backup(running), { kind: 'take' }, { ok: true, reason: 'BackupSucceeded', message: '', record }, t1);
    expect(done).toMatchObject({ phase: 'Succeeded', completionTime: t1, startTime: t1, location: record.location, key: record.key, sizeBytes: 8224, revision: 42, sha256: 'ab', member: 'https://m:2379' });
    expect(done.conditions?.[0]).toMatchObject({ status: 'True', reason: 'BackupSucceeded', message: `backed up revision 42 (8224 bytes) from https://m:2379 to ${record.location}` });
    expect(etcdBackupEvent(running, done, { kind: 'take' })).toMatchObject({ type: 'Normal', reason: 'BackupSucceeded' });
  });

  it('a failed attempt is final, with the reason in the condition and a Warning Event, and no location', () => {
    const running = backup({ phase: 'Running', startTime: t0 });
    const failed = etcdBackupStatus(running, { kind: 'take' }, { ok: false, reason: 'NoSuchBucket', message: 'bucket "backups" does not exist', record: null }, t1);
    expect(failed).toMatchObject({ phase: 'Failed', completionTime: t1, conditions: [{ status: 'False', reason: 'NoSuchBucket' }] });
    expect(failed.location).toBeUndefined();
    expect(etcdBackupEvent(running.status!, failed, { kind: 'take' })).toEqual({ type: 'Warning', reason: 'BackupFailed', message: 'NoSuchBucket: bucket "backups" does not exist' });
  });

  it('keys on-demand backups outside the scheduled folder (retention never sees them), by the attempt time', () => {
    expect(etcdBackupKey(backup(), Date.parse(t0))).toBe('p/ns/main/on-demand/b1-20260101T000000000Z.db');
  });
});
