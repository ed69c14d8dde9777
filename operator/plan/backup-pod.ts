// Backups to a PersistentVolumeClaim, the pure part. The operator never mounts a cluster's volumes (in a
// cluster it is one Deployment for every namespace), so a one-off pod does, in the cluster's namespace:
// - the backup pod runs `tsetcd-operator backup-to-dir` (backup/backup-to-dir.ts): the same takeBackup
//   as an S3 backup (member with the highest applied index, etcd's sha256 and a readable database, then
//   size and sha256 of the written file), and retention in the claim, then writes its outcome as one
//   JSON line to its termination message, which the operator reads from the pod's status;
// - the restore source pod runs `tsetcd-operator serve-backup`: it serves the claim's files read-only
//   over HTTP to the operator's check and to each member's restore init container, so that the claim
//   (ReadWriteOnce, usually) is mounted by one pod on one node, never by every member.
// A bare pod, not a Job: the operator reads one pod's outcome and decides retries itself.
import { DEFAULT_IMAGE_REPOSITORY, TSETCD_RELEASE } from '../api/defaults.js';
import type { PvcDestination } from '../api/types.js';
import type { KubeObject } from './kube-object.js';
import { IMAGE_UID } from './statefulset.js';

export const BACKUP_POD_CONTAINER = 'backup';
/** Where the claim is mounted in the backup and restore source pods. */
export const BACKUP_MOUNT = '/backup';
export const OPERATOR_TLS_MOUNT = '/etc/tsetcd/operator-tls';
/** The kubelet's default path, set explicitly: the node agent binds the file only when it is set. */
export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const RESTORE_SOURCE_PORT = 8080;
export const ETCD_USERNAME_ENV = 'TSETCD_ETCD_USERNAME';
export const ETCD_PASSWORD_ENV = 'TSETCD_ETCD_PASSWORD';
/** Labels on every backup and restore source pod: its role, and the cluster (not the members' selector labels). */
export const BACKUP_POD_ROLE_LABEL = 'tsetcd.dev/backup-pod';
export const BACKUP_OF_LABEL = 'tsetcd.dev/backup-of';

export interface OperatorImage {
  image: string;
  /** The operator binary in that image. */
  command: string[];
}

/** The operator's own image: it holds the backup client and tsetcd's restore code. */
export const DEFAULT_OPERATOR_IMAGE: OperatorImage = { image: `${DEFAULT_IMAGE_REPOSITORY}-operator:${TSETCD_RELEASE}`, command: ['tsetcd-operator'] };

export interface BackupPodInput {
  name: string;
  namespace: string;
  /** The object the pod belongs to (the EtcdBackup, or the EtcdCluster for scheduled backups). */
  owner: { apiVersion: string; kind: string; name: string; uid: string };
  labels: Record<string, string>;
  pvc: PvcDestination;
  /** The file's path in the claim. */
  key: string;
  /** Every voting member's client endpoint. */
  endpoints: readonly string[];
  /** pod-ip: endpoints are pod IPs, which no certificate names (the chain is still verified). */
  endpointMode: 'pod-ip' | 'dns';
  /** The operator-client certificate Secret (ca.crt, tls.crt, tls.key) under TLS; null: plain. */
  tlsSecretName: string | null;
  /** spec.auth's Secret (username, password) when the cluster's auth is on. */
  authSecretName: string | null;
  /** Retention applied in the claim after a verified backup; null: none (an on-demand backup). */
  prune: { folder: string; maxCount: number | null; maxAge: string | null } | null;
  image: OperatorImage;
}

function ownerRef(o: BackupPodInput['owner']): Record<string, unknown> {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: true, blockOwnerDeletion: true };
}

/** The pod that writes one backup into the claim. */
export function buildBackupPod(i: BackupPodInput): KubeObject {
  const args = [
    'backup-to-dir',
    `--dir=${BACKUP_MOUNT}`,
    `--key=${i.key}`,
    `--location=${pvcLocation(i.pvc.claimName, '')}`,
    `--endpoints=${i.endpoints.join(',')}`,
    `--endpoint-mode=${i.endpointMode}`,
    `--result-file=${TERMINATION_MESSAGE_PATH}`,
    ...(i.tlsSecretName !== null ? [`--tls-dir=${OPERATOR_TLS_MOUNT}`] : []),
    ...(i.prune !== null ? [`--prune-folder=${i.prune.folder}`, ...(i.prune.maxCount !== null ? [`--max-count=${i.prune.maxCount}`] : []), ...(i.prune.maxAge !== null ? [`--max-age=${i.prune.maxAge}`] : [])] : []),
  ];
  const volumes: unknown[] = [{ name: 'backup', persistentVolumeClaim: { claimName: i.pvc.claimName } }];
  const mounts: unknown[] = [{ name: 'backup', mountPath: BACKUP_MOUNT }];
  if (i.tlsSecretName !== null) {
    volumes.push({ name: 'operator-tls', secret: { secretName: i.tlsSecretName } });
    mounts.push({ name: 'operator-tls', mountPath: OPERATOR_TLS_MOUNT, readOnly: true });
  }
  const env = i.authSecretName === null ? [] : [
    { name: ETCD_USERNAME_ENV, valueFrom: { secretKeyRef: { name: i.authSecretName, key: 'username' } } },
    { name: ETCD_PASSWORD_ENV, valueFrom: { secretKeyRef: { name: i.authSecretName, key: 'password' } } },
  ];
  return onePod(i.name, i.namespace, i.owner, { ...i.labels, [BACKUP_POD_ROLE_LABEL]: 'backup' }, 'Never', {
    name: BACKUP_POD_CONTAINER,
    image: i.image.image,
    imagePullPolicy: 'IfNotPresent',
    command: [...i.image.command, ...args],
    env,
    volumeMounts: mounts,
    terminationMessagePath: TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: 'FallbackToLogsOnError',
  }, volumes);
}

/** The pod that serves a claim's backups, read-only, to a restore (its address goes to the init containers). */
export function buildRestoreSourcePod(i: Pick<BackupPodInput, 'name' | 'namespace' | 'owner' | 'labels' | 'pvc' | 'image'>): KubeObject {
  const probe = { httpGet: { path: '/healthz', port: RESTORE_SOURCE_PORT }, periodSeconds: 1 };
  return onePod(i.name, i.namespace, i.owner, { ...i.labels, [BACKUP_POD_ROLE_LABEL]: 'restore-source' }, 'Always', {
    name: 'serve',
    image: i.image.image,
    imagePullPolicy: 'IfNotPresent',
    command: [...i.image.command, 'serve-backup', `--dir=${BACKUP_MOUNT}`, `--port=${RESTORE_SOURCE_PORT}`],
    ports: [{ name: 'http', containerPort: RESTORE_SOURCE_PORT }],
    readinessProbe: probe,
    volumeMounts: [{ name: 'backup', mountPath: BACKUP_MOUNT, readOnly: true }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  }, [{ name: 'backup', persistentVolumeClaim: { claimName: i.pvc.claimName, readOnly: true } }]);
}

function onePod(name: string, namespace: string, owner: BackupPodInput['owner'], labels: Record<string, string>, restartPolicy: 'Never' | 'Always', container: Record<string, unknown>, volumes: unknown[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels, ownerReferences: [ownerRef(owner)] },
    spec: {
      restartPolicy,
      // Short names: the hostname is a DNS label.
      hostname: name.slice(0, 63).replace(/-+$/, ''),
      automountServiceAccountToken: false,
      // The member pods' own: the claim is written as the image's user.
      securityContext: { runAsNonRoot: true, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID, fsGroup: IMAGE_UID, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ ...container, securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } } }],
      volumes,
    },
  };
}

/** How status names a file in a claim. */
export function pvcLocation(claimName: string, key: string): string {
  return `pvc://${claimName}/${key}`;
}

/** The outcome a backup pod writes to its termination message: one JSON object. */
export type BackupPodResult =
  | { ok: true; key: string; location: string; sizeBytes: number; revision: number; sha256: string; member: string; appliedIndex: number; pruned: number }
  | { ok: false; reason: string; message: string };

/** Bounded to fit the kubelet's 4096-byte termination message. */
export function encodeBackupPodResult(r: BackupPodResult): string {
  if (r.ok) return JSON.stringify(r);
  return JSON.stringify({ ...r, message: r.message.length > 3000 ? `${r.message.slice(0, 3000)}...` : r.message });
}

/**
 * A finished backup pod's outcome from its phase and termination message. A pod that failed without
 * a readable result (killed, out of memory, the image would not run) is a failure with its message.
 */
export function parseBackupPodResult(phase: 'Succeeded' | 'Failed', message: string | null): BackupPodResult {
  try {
    const r = JSON.parse(message ?? '') as Partial<BackupPodResult>;
    if (r.ok === true && phase === 'Succeeded' && typeof r.key === 'string' && typeof r.sizeBytes === 'number' && typeof r.sha256 === 'string' && typeof r.revision === 'number') return r as BackupPodResult;
    if (r.ok === false && typeof r.reason === 'string' && typeof r.message === 'string') return { ok: false, reason: r.reason, message: r.message };
  } catch {
    /* not ours: below */
  }
  return { ok: false, reason: 'BackupPodFailed', message: `the backup pod ended ${phase} without a result${message ? `: ${message.slice(-1000)}` : ''}` };
}
