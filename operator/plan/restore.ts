// Restore from a backup (spec.bootstrap.fromBackup), the pure part: the init container that seeds each
// member's data dir before the member starts. It runs `tsetcd-operator restore-member` (operator/backup/
// restore-member.ts) with the member container's own flags, env and volumes, so every member restores the
// same snapshot, verified against the sha256 the operator recorded, into the same new cluster. It does
// nothing on a data dir that already holds a member, nor for a member that joins later (initial cluster
// state "existing"): those get their data from the leader.
import type { EtcdCluster, RestoreStatus, S3Destination } from '../api/types.js';
import type { KubeObject } from './kube-object.js';
import { MEMBER_CONTAINER } from './statefulset.js';

export const RESTORE_CONTAINER = 'restore';
export const RESTORE_ACCESS_KEY_ENV = 'TSETCD_BACKUP_ACCESS_KEY_ID';
export const RESTORE_SECRET_KEY_ENV = 'TSETCD_BACKUP_SECRET_ACCESS_KEY';

export interface RestoreContainerConfig {
  image: string;
  /** The operator binary in that image. */
  command: string[];
}

/** The object a verified restore reads: recorded in status.restore (resolved from an EtcdBackup), else the spec's. */
export function restoreObjectOf(cluster: EtcdCluster, verified: RestoreStatus): { s3: S3Destination; key: string } | null {
  const from = cluster.spec.bootstrap?.fromBackup;
  const s3 = verified.s3 ?? from?.s3;
  const key = verified.key ?? from?.key;
  return s3 !== undefined && key !== undefined ? { s3, key } : null;
}

/** Adds the restore init container to a member StatefulSet built by buildStatefulSet. */
export function addRestoreInitContainer(sts: KubeObject, from: { s3: S3Destination; key: string }, verified: RestoreStatus, c: RestoreContainerConfig): KubeObject {
  const podSpec = ((sts.spec as Record<string, unknown>).template as { spec: Record<string, unknown> }).spec;
  const member = (podSpec.containers as Array<Record<string, unknown>>).find((x) => x.name === MEMBER_CONTAINER);
  if (member === undefined) throw new Error(`the StatefulSet has no ${MEMBER_CONTAINER} container`);
  const s3 = from.s3;
  const secret = s3.credentialsSecret;
  const init: Record<string, unknown> = {
    name: RESTORE_CONTAINER,
    image: c.image,
    imagePullPolicy: 'IfNotPresent',
    command: [
      ...c.command,
      'restore-member',
      `--endpoint=${s3.endpoint}`,
      `--bucket=${s3.bucket}`,
      `--key=${from.key}`,
      `--region=${s3.region ?? 'us-east-1'}`,
      `--force-path-style=${String(s3.forcePathStyle ?? true)}`,
      `--sha256=${verified.sha256}`,
      '--',
      ...(member.args as string[]),
    ],
    env: [
      ...(member.env as unknown[]),
      { name: RESTORE_ACCESS_KEY_ENV, valueFrom: { secretKeyRef: { name: secret.name, key: secret.accessKeyIDKey ?? 'accessKeyID' } } },
      { name: RESTORE_SECRET_KEY_ENV, valueFrom: { secretKeyRef: { name: secret.name, key: secret.secretAccessKeyKey ?? 'secretAccessKey' } } },
    ],
    resources: member.resources,
    securityContext: member.securityContext,
    volumeMounts: member.volumeMounts,
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  podSpec.initContainers = [init];
  return sts;
}
