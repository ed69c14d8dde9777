// The EtcdCluster API (tsetcd.dev/v1alpha1), as TypeScript types.
// Kept pure: imported by operator/plan, which may not touch I/O.

export const GROUP = 'tsetcd.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'EtcdCluster';
export const PLURAL = 'etcdclusters';

export type PvcRetentionPolicy = 'Retain' | 'Delete';
export type AntiAffinityMode = 'required' | 'preferred';

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
}

export interface ResourceQuantities {
  cpu?: string;
  memory?: string;
}

/**
 * operator: the operator issues a CA and the member certificates (the default when nothing is set).
 * secrets: the user's own Secrets (clientSecretName / peerSecretName; implied when either is set).
 * cert-manager: the operator asks cert-manager for them (implied when certManager is set).
 * disabled: plain HTTP, the explicit opt-out.
 */
export type TlsMode = 'operator' | 'secrets' | 'cert-manager' | 'disabled';

export interface TlsSpec {
  mode?: TlsMode;
  clientSecretName?: string;
  peerSecretName?: string;
  /** Lifetime of the leaf certificates the operator or cert-manager issues (a duration: "2160h"); renewed at 2/3 of it. */
  certificateLifetime?: string;
  certManager?: { issuerRef: { name: string; kind?: 'Issuer' | 'ClusterIssuer'; group?: string } };
}

export interface EtcdClusterSpec {
  replicas?: number;
  version?: string;
  image?: string;
  storage?: {
    size?: string;
    storageClassName?: string;
    /** What happens to a removed member's PVC on scale-down. */
    retentionPolicy?: PvcRetentionPolicy;
  };
  resources?: {
    requests?: ResourceQuantities;
    limits?: ResourceQuantities;
  };
  placement?: {
    dedicated?: {
      nodeSelector?: Record<string, string>;
      tolerations?: Toleration[];
    };
    antiAffinity?: AntiAffinityMode;
    topologySpreadConstraints?: TopologySpreadConstraint[];
    priorityClassName?: string;
  };
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  tls?: TlsSpec;
  /**
   * The operator's etcd user, for a cluster whose auth is on (etcdctl auth enable): a Secret in the
   * cluster's namespace with the keys username and password (kubernetes.io/basic-auth). The user
   * needs the root role: etcd serves Status and membership changes to root only (docs/operator.md).
   */
  auth?: { secretName: string };
  paused?: boolean;
  /** Passed to every member as --auto-compaction-mode / --auto-compaction-retention. */
  compaction?: {
    mode?: CompactionMode;
    /** periodic: hours ("1") or a duration ("30m", "1h30m"); revision: a count ("10000"). "0" turns it off. */
    retention?: string;
  };
  /** Scheduled, threshold-gated Defragment of each member, one at a time, the leader last. */
  defragmentation?: {
    /** A 5-field cron schedule in UTC ("0 3 * * *"). Absent: no scheduled defragmentation. */
    schedule?: string;
    /** A member is defragmented only when (dbSize - dbSizeInUse) is at least this percentage of dbSize. */
    minFreePercent?: number;
    /** ... and its dbSize is at least this quantity ("100Mi"). */
    minDbSize?: string;
    /** Bound on one Defragment call. */
    timeoutSeconds?: number;
  };
  /** Scheduled snapshots to an object store, verified after upload, with retention. */
  backup?: BackupSpec;
  /**
   * Recovery from quorum loss (docs/operator.md, "Quorum loss"). Without it, only the annotation
   * tsetcd.dev/recover-quorum starts one, from the newest surviving member's data (else the newest backup).
   */
  quorumRecovery?: QuorumRecoverySpec;
  /** How a new cluster starts. Read only before the first member starts. */
  bootstrap?: {
    /**
     * Every member starts from this backup's snapshot, as a new cluster (new cluster ID): an object
     * (s3 and key), or a Succeeded EtcdBackup in the same namespace (backupName).
     */
    fromBackup?: RestoreSource;
  };
}

export interface BackupSpec {
  /** A 5-field cron schedule in UTC. Absent: no scheduled backups. */
  schedule?: string;
  /** One destination: s3 or pvc. */
  s3?: S3Destination;
  pvc?: PvcDestination;
  retention?: {
    /** Keep at most this many backups (the newest is always kept). */
    maxCount?: number;
    /** Remove backups older than this: "7d", "12h", "1h30m" (the newest is always kept). */
    maxAge?: string;
  };
}

export interface S3Destination {
  /** http(s)://host:port of any S3-compatible server. */
  endpoint: string;
  bucket: string;
  /** Objects go under <prefix><namespace>/<cluster>/. */
  prefix?: string;
  region?: string;
  /** Path-style URLs (host/bucket/key), as most self-hosted servers need. Default true. */
  forcePathStyle?: boolean;
  /** A Secret in the cluster's namespace holding the access key and secret. */
  credentialsSecret: { name: string; accessKeyIDKey?: string; secretAccessKeyKey?: string };
}

/**
 * A PersistentVolumeClaim in the cluster's namespace that holds backups as files. The operator never
 * mounts it: a one-off pod does (plan/backup-pod.ts), to write a backup or to serve one for a restore.
 */
export interface PvcDestination {
  claimName: string;
  /** Files go under <prefix><namespace>/<cluster>/ in the claim. */
  prefix?: string;
}

/** spec.bootstrap.fromBackup: either s3 (or pvc) and key, or backupName (the CRD allows one form only). */
export interface RestoreSource {
  s3?: S3Destination;
  pvc?: PvcDestination;
  key?: string;
  /** An EtcdBackup in the cluster's namespace; its destination and status.key are used once it Succeeded. */
  backupName?: string;
}

/** The backup a restored cluster started from, recorded once the operator verified it (before any member starts). */
export interface RestoreStatus {
  /** The object restored from (resolved from backupName when that was given). */
  s3?: S3Destination;
  pvc?: PvcDestination;
  key?: string;
  /** pvc: where the serving pod offers the file to the members' restore init containers. */
  sourceURL?: string;
  location: string;
  sizeBytes: number;
  revision: number;
  /** sha256 of the whole object; each member's restore refuses anything else. */
  sha256: string;
  verifiedTime: string;
}

/** spec.quorumRecovery. */
export interface QuorumRecoverySpec {
  /**
   * Manual (the default): a recovery starts only on a new value of the tsetcd.dev/recover-quorum
   * annotation. Automatic: also once quorum has been lost for gracePeriodSeconds (an explicit opt-in:
   * a recovery drops members and may lose the writes they held).
   */
  policy?: 'Manual' | 'Automatic';
  /** Automatic only: how long quorum must stay lost first. Default 600, at least 60. */
  gracePeriodSeconds?: number;
  /**
   * Survivor (the default): from the member with the most recent data, or the newest backup when no
   * member answers with its data. Backup: always from the newest backup (status.backup.lastLocation).
   */
  source?: 'Survivor' | 'Backup';
}

export type RecoveryPhase = 'ForcingNewCluster' | 'ClearingFlag' | 'RemovingStaleData' | 'StoppingMembers' | 'RemovingVolumes';

/** status.recovery: the latest quorum-loss recovery, each step recorded before it is acted on. */
export interface RecoveryStatus {
  /** The annotation value (or, for the Automatic policy, "auto:" and when quorum was lost) this recovery answers. */
  request: string;
  trigger?: 'Annotation' | 'Policy';
  /** The last annotation value answered, and the last automatic request: each acts once, whichever came last. */
  lastAnnotation?: string;
  lastAutomatic?: string;
  source?: 'Survivor' | 'Backup';
  phase: RecoveryPhase | 'Done' | 'Refused';
  survivor?: { name: string; ordinal: number; id: string; appliedIndex: number };
  /** Ordinals whose members are dropped and re-added empty. */
  dropped?: number[];
  /** UIDs of the dropped members' PVCs when the recovery started: the old cluster's data, deleted. */
  stalePvcUIDs?: string[];
  /** The verified backup every member restarts from (source Backup). */
  backup?: RestoreStatus;
  /** What the recovery loses, in words, said before anything is changed. */
  loses?: string;
  message?: string;
  startTime?: string;
  /** When the survivor was named for --force-new-cluster: a pod created later started with the flag. */
  flagSetTime?: string;
  completionTime?: string;
}

/** What status says of scheduled backups. */
export interface BackupStatus {
  /** RFC 3339: the scheduled minute of the latest attempt; a minute starts at most one. */
  lastScheduleTime?: string;
  /** The value of the tsetcd.dev/backup-request annotation of the latest on-demand attempt. */
  lastRequest?: string;
  lastSuccessTime?: string;
  /** s3://bucket/key of the newest verified backup. */
  lastLocation?: string;
  lastSizeBytes?: number;
  /** The store revision the newest backup holds. */
  lastRevision?: number;
  lastFailureTime?: string;
  lastFailureMessage?: string;
  consecutiveFailures?: number;
  /** pvc destination: the backup pod of the attempt under way, and what that attempt consumes. */
  pod?: { name: string; key: string; scheduleTime?: string; request?: string };
}

export type CompactionMode = 'periodic' | 'revision';

/** metav1.Condition. */
export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type ConditionType = 'Available' | 'Progressing' | 'Degraded' | 'BackupSucceeded' | 'RecoverySucceeded';

export interface MemberStatus {
  name: string;
  /** Member ID in hex, as etcdctl prints it (a string: uint64 does not fit a JSON number). */
  id: string;
  peerURL: string;
  isLearner: boolean;
  isLeader: boolean;
  healthy: boolean;
  raftIndex?: number;
  dbSize?: number;
  /** Bytes in use inside dbSize (dbSize - dbSizeInUse is what Defragment can give back). */
  dbSizeInUse?: number;
  /** UID of the PVC the member's data lives on, recorded when first seen; a change means the data is gone. */
  pvcUID?: string;
  /** RFC 3339: when the operator's last Defragment of this member returned. */
  lastDefragTime?: string;
  /** dbSize before minus dbSize after that Defragment (what it gave back; 0 on tsetcd, see docs/operator.md). */
  lastDefragReclaimedBytes?: number;
}

export type DefragResult = 'Succeeded' | 'Failed' | 'Cancelled' | 'NothingToDo';

/** One scheduled defragmentation run: the members one at a time, the leader last. */
export interface DefragRun {
  /** RFC 3339: the scheduled minute that started it. */
  scheduleTime: string;
  startTime: string;
  /** IDs (decimal) of the members defragmented in this run. */
  done: string[];
  /** The member whose Defragment comes next: recorded before the call (crash-safe), cleared after it. */
  current?: { memberID: string; memberName: string; attempts: number } | null;
}

export interface DefragmentationStatus {
  /** RFC 3339: the scheduled minute of the latest run; a scheduled minute starts at most one run. */
  lastScheduleTime?: string;
  run?: DefragRun | null;
  lastRun?: { scheduleTime: string; finishTime: string; result: DefragResult; message: string };
}

export type OperationType = 'ScaleUp' | 'ScaleDown' | 'Replace';
export type OperationPhase =
  | 'Pending'
  | 'AddingLearner'
  | 'StartingMember'
  | 'CatchingUp'
  | 'Promoting'
  | 'MovingLeader'
  | 'RemovingMember'
  | 'ShrinkingStatefulSet'
  | 'CleaningUpStorage'
  | 'RestartingMember'
  | 'RollingBack';

export interface MembershipOperation {
  type: OperationType;
  phase: OperationPhase;
  /** The member the operation works on: its StatefulSet ordinal, name and peer URL. */
  ordinal: number;
  memberName: string;
  peerURL: string;
  /** For Replace: the ID of the member whose data is gone. */
  oldMemberID?: string;
  /** RFC 3339. */
  startTime: string;
  /** RFC 3339: when MemberAdd of the learner was sent; the learner timeout counts from here. */
  learnerAddedTime?: string;
  message?: string;
}

/** The backoff after failed scale-ups: 1 min after the first, doubling, at most 30 min. */
export interface ScaleUpRetry {
  failures: number;
  retryTime: string;
}

export interface EtcdClusterStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  selector?: string;
  members?: MemberStatus[];
  leader?: string;
  clusterID?: string;
  conditions?: Condition[];
  currentOperation?: MembershipOperation | null;
  /** Printer-column helper: "True"/"False", mirrors the Available condition. */
  available?: string;
  /** A scale-up or replacement failed (learner did not catch up) at this generation: see scaleUpRetry. */
  scaleUpBlockedGeneration?: number;
  /** When the failed scale-up is tried again (a spec change retries at once), and how many failed in a row. */
  scaleUpRetry?: ScaleUpRetry;
  defragmentation?: DefragmentationStatus;
  /** etcd's cluster version (major.minor.0): the lowest minor the members report running; what the data supports. */
  clusterVersion?: string;
  backup?: BackupStatus;
  restore?: RestoreStatus;
  recovery?: RecoveryStatus;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
}

export interface EtcdCluster {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: EtcdClusterSpec;
  status?: EtcdClusterStatus;
}
