// The EtcdBackup API (tsetcd.dev/v1alpha1): one backup of a named EtcdCluster, taken once, as its own
// object (the way etcd-operator's and other operators' EtcdBackup work). Kept pure: imported by plan/.
import type { ObjectMeta, PvcDestination, S3Destination } from './types.js';

export const BACKUP_KIND = 'EtcdBackup';
export const BACKUP_PLURAL = 'etcdbackups';

export interface EtcdBackupSpec {
  /** The EtcdCluster in the same namespace to back up. */
  clusterName: string;
  /** Where the snapshot goes, one of the two; the object is <prefix><namespace>/<cluster>/on-demand/<backup name>-<UTC time>.db. */
  s3?: S3Destination;
  pvc?: PvcDestination;
}

/** Pending: waiting for the cluster. Running: the attempt is recorded and under way. Succeeded, Failed: final. */
export type EtcdBackupPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** metav1.Condition, one type: Succeeded (Unknown until the backup is final). */
export interface EtcdBackupCondition {
  type: 'Succeeded';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface EtcdBackupStatus {
  observedGeneration?: number;
  phase?: EtcdBackupPhase;
  conditions?: EtcdBackupCondition[];
  /** RFC 3339: when the attempt was recorded (before the snapshot). */
  startTime?: string;
  completionTime?: string;
  /** s3://bucket/key of the verified object; with key, usable as spec.bootstrap.fromBackup of a new cluster. */
  location?: string;
  key?: string;
  sizeBytes?: number;
  /** The store revision the snapshot holds. */
  revision?: number;
  sha256?: string;
  /** The member the snapshot came from. */
  member?: string;
  /** pvc: the backup pod that writes and verifies the file. */
  pod?: string;
  /** Attempts that failed transiently (an unreachable endpoint) and were retried. */
  attempts?: number;
  /** RFC 3339: when the next attempt is due after a transient failure. */
  nextAttemptTime?: string;
}

export interface EtcdBackup {
  apiVersion: `tsetcd.dev/${string}`;
  kind: typeof BACKUP_KIND;
  metadata: ObjectMeta;
  spec: EtcdBackupSpec;
  status?: EtcdBackupStatus;
}
