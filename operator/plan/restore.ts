// Restore from a backup (spec.bootstrap.fromBackup), the pure part: the init container that seeds each
// member's data dir before the member starts. It runs `tsetcd-operator restore-member` (operator/backup/
// restore-member.ts) with the member container's own flags, env and volumes, so every member restores the
// same snapshot, verified against the sha256 the operator recorded, into the same new cluster. It does
// nothing on a data dir that already holds a member, nor for a member that joins later (initial cluster
// state "existing"): those get their data from the leader.
import type { EtcdCluster, RestoreStatus, S3Destination } from '../api/types.js';
import type { KubeObject } from './kube-object.js';
import { MEMBER_CONTAINER } from './statefulset.js';
import type { OperatorImage } from './backup-pod.js';

export const RESTORE_CONTAINER = 'restore';
export const RESTORE_ACCESS_KEY_ENV = 'TSETCD_BACKUP_ACCESS_KEY_ID';
export const RESTORE_SECRET_KEY_ENV = 'TSETCD_BACKUP_SECRET_ACCESS_KEY';

/** The restore init container runs the operator's image (backup-pod.ts's OperatorImage). */
export type RestoreContainerConfig = OperatorImage;

/** The object a verified restore reads: recorded in status.restore (resolved from an EtcdBackup), else the spec's. */
export function restoreObjectOf(cluster: EtcdCluster, verified: RestoreStatus): { s3: S3Destination; key: string } | { sourceURL: string; key: string } | null {
  const from = cluster.spec.bootstrap?.fromBackup;
  const key = verified.key ?? from?.key;
  if (key === undefined) return null;
  // A claim's backup: read through the restore source pod the operator checked it through.
  if (verified.pvc !== undefined) return verified.sourceURL !== undefined ? { sourceURL: verified.sourceURL, key } : null;
  const s3 = verified.s3 ?? from?.s3;
  return s3 !== undefined ? { s3, key } : null;
}

/** Adds the restore init container to a member StatefulSet built by buildStatefulSet. */
export function addRestoreInitContainer(sts: KubeObject, from: NonNullable<ReturnType<typeof restoreObjectOf>>, verified: RestoreStatus, c: RestoreContainerConfig): KubeObject {
  const podSpec = ((sts.spec as Record<string, unknown>).template as { spec: Record<string, unknown> }).spec;
  const member = (podSpec.containers as Array<Record<string, unknown>>).find((x) => x.name === MEMBER_CONTAINER);
  if (member === undefined) throw new Error(`the StatefulSet has no ${MEMBER_CONTAINER} container`);
  let source: string[];
  let credentials: unknown[] = [];
  if ('s3' in from) {
    const s3 = from.s3;
    const secret = s3.credentialsSecret;
    source = [`--endpoint=${s3.endpoint}`, `--bucket=${s3.bucket}`, `--key=${from.key}`, `--region=${s3.region ?? 'us-east-1'}`, `--force-path-style=${String(s3.forcePathStyle ?? true)}`];
    credentials = [
      { name: RESTORE_ACCESS_KEY_ENV, valueFrom: { secretKeyRef: { name: secret.name, key: secret.accessKeyIDKey ?? 'accessKeyID' } } },
      { name: RESTORE_SECRET_KEY_ENV, valueFrom: { secretKeyRef: { name: secret.name, key: secret.secretAccessKeyKey ?? 'secretAccessKey' } } },
    ];
  } else {
    source = [`--source-url=${from.sourceURL}`, `--key=${from.key}`];
  }
  const init: Record<string, unknown> = {
    name: RESTORE_CONTAINER,
    image: c.image,
    imagePullPolicy: 'IfNotPresent',
    command: [...c.command, 'restore-member', ...source, `--sha256=${verified.sha256}`, '--', ...(member.args as string[])],
    env: [...(member.env as unknown[]), ...credentials],
    resources: member.resources,
    securityContext: member.securityContext,
    volumeMounts: member.volumeMounts,
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  podSpec.initContainers = [init];
  return sts;
}
