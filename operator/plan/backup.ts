// Scheduled backups, the decisions only: is one due, which member gives the snapshot, where it goes,
// and which stored backups retention removes. Pure (the clock comes in as nowMs); operator/backup/
// does the I/O (snapshot stream, upload, verification, deletes).
import type { PvcDestination, S3Destination } from '../api/types.js';
import { latestScheduledMinute, parseCron, utcIso } from './cron.js';

/** An S3 bucket name (the CRDs' pattern for it is this one). */
export const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The problems of an S3 destination at `field` (e.g. "backup.s3"), in the words of a condition. Empty: fine. */
export function s3DestinationProblems(s3: S3Destination | undefined, field: string): string[] {
  if (s3 === undefined) return [`${field} is required: the destination (endpoint, bucket, credentialsSecret)`];
  const out: string[] = [];
  if (typeof s3.endpoint !== 'string' || !/^https?:\/\/[^/]+/.test(s3.endpoint)) out.push(`${field}.endpoint "${String(s3.endpoint)}" must be an http:// or https:// URL`);
  if (typeof s3.bucket !== 'string' || !BUCKET_PATTERN.test(s3.bucket)) out.push(`${field}.bucket "${String(s3.bucket)}" is not a bucket name (3-63 of a-z, 0-9, '.', '-')`);
  if (typeof s3.credentialsSecret?.name !== 'string' || s3.credentialsSecret.name === '') out.push(`${field}.credentialsSecret.name is required: the Secret with the access key and secret`);
  return out;
}

/** A PersistentVolumeClaim's name (a DNS subdomain). */
export const CLAIM_NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** The problems of a PVC destination at `field` (e.g. "backup.pvc"). Empty: fine. */
export function pvcDestinationProblems(pvc: PvcDestination, field: string): string[] {
  const out: string[] = [];
  if (typeof pvc.claimName !== 'string' || pvc.claimName.length > 253 || !CLAIM_NAME_PATTERN.test(pvc.claimName)) out.push(`${field}.claimName "${String(pvc.claimName)}" must name a PersistentVolumeClaim`);
  if (pvc.prefix !== undefined && (typeof pvc.prefix !== 'string' || pvc.prefix.startsWith('/') || pvc.prefix.split('/').includes('..'))) out.push(`${field}.prefix "${String(pvc.prefix)}" must be a relative path without ".."`);
  return out;
}

/** The problems of a destination that takes s3 or pvc (exactly one) at `field` (e.g. "backup"). */
export function destinationProblems(d: { s3?: S3Destination | undefined; pvc?: PvcDestination | undefined } | undefined, field: string): string[] {
  if (d?.s3 !== undefined && d.pvc !== undefined) return [`${field} takes one destination: s3 or pvc, not both`];
  if (d?.pvc !== undefined) return pvcDestinationProblems(d.pvc, `${field}.pvc`);
  if (d?.s3 === undefined) return [`${field}.s3 or ${field}.pvc is required: the destination`];
  return s3DestinationProblems(d.s3, `${field}.s3`);
}

/** The prefix of whichever destination is set. */
export function destinationPrefix(d: { s3?: S3Destination | undefined; pvc?: PvcDestination | undefined }): string {
  return d.s3?.prefix ?? d.pvc?.prefix ?? '';
}

/** A scheduled minute missed by more than this (operator down, cluster unavailable) is skipped. */
export const BACKUP_STARTING_DEADLINE_MS = 3_600_000;
/** Snapshot objects are named <prefix><cluster>/<cluster>-<UTC time>.db; the time sorts them. */
export const BACKUP_SUFFIX = '.db';

/**
 * The scheduled minute (epoch ms) a backup is due for, or null. A minute counts once: a backup whose
 * lastScheduleTime is that minute or later is not due again, whether it succeeded or failed.
 */
export function backupDueSlot(schedule: string, lastScheduleTime: string | undefined, nowMs: number): number | null {
  const parsed = parseCron(schedule);
  if (!parsed.ok) return null;
  const slot = latestScheduledMinute(parsed.schedule, nowMs, BACKUP_STARTING_DEADLINE_MS);
  if (slot === null) return null;
  if (lastScheduleTime !== undefined && Date.parse(lastScheduleTime) >= slot) return null;
  return slot;
}

/** What a member's Maintenance.Status says that matters here (members/member-api.ts EndpointStatus fits). */
export interface CandidateStatus {
  memberID: string;
  leaderID: string;
  raftIndex: number;
  raftAppliedIndex: number | null;
  isLearner: boolean;
  errors: readonly string[];
}

export interface MemberCandidate {
  endpoint: string;
  /** null: the member did not answer. */
  status: CandidateStatus | null;
}

/**
 * The member to take the snapshot from: the voting member with the highest applied index (raftIndex
 * where the member does not report it), ties to the leader, then to the first endpoint. Learners and
 * members that did not answer, or answered with errors (an alarm), are never chosen. null: none fits.
 */
export function pickSnapshotMember(candidates: readonly MemberCandidate[]): { endpoint: string; appliedIndex: number } | null {
  let best: { endpoint: string; appliedIndex: number; leader: boolean } | null = null;
  for (const c of candidates) {
    const s = c.status;
    if (s === null || s.isLearner || s.errors.length > 0) continue;
    const applied = s.raftAppliedIndex ?? s.raftIndex;
    const leader = s.leaderID !== '0' && s.leaderID === s.memberID;
    if (best === null || applied > best.appliedIndex || (applied === best.appliedIndex && leader && !best.leader)) {
      best = { endpoint: c.endpoint, appliedIndex: applied, leader };
    }
  }
  return best === null ? null : { endpoint: best.endpoint, appliedIndex: best.appliedIndex };
}

/** The folder (object prefix) holding one cluster's scheduled backups. */
export function backupFolder(prefix: string, namespace: string, cluster: string): string {
  const p = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  return `${p}${namespace}/${cluster}/`;
}

/** The object key of a backup taken at nowMs: sortable by name, one per millisecond. */
export function backupKey(folder: string, cluster: string, nowMs: number): string {
  const stamp = utcIso(nowMs).replace(/[-:]/g, '').replace('.', '');
  return `${folder}${cluster}-${stamp}${BACKUP_SUFFIX}`;
}

export interface StoredBackup {
  key: string;
  /** Epoch ms: when the object was written. */
  lastModifiedMs: number;
}

export interface Retention {
  /** Keep at most this many (newest first); null: no count limit. */
  maxCount: number | null;
  /** Remove backups older than this; null: no age limit. */
  maxAgeMs: number | null;
}

/**
 * The backups retention removes. Only snapshot objects in the folder count (other objects are never
 * touched). The newest backup is always kept, however old: a backup too old for the policy is still
 * the only way back, and removing it would leave nothing.
 */
export function backupsToPrune(stored: readonly StoredBackup[], folder: string, r: Retention, nowMs: number): string[] {
  const ours = stored.filter((b) => b.key.startsWith(folder) && b.key.endsWith(BACKUP_SUFFIX) && !b.key.slice(folder.length).includes('/'));
  const newestFirst = [...ours].sort((a, b) => b.lastModifiedMs - a.lastModifiedMs || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  const prune: string[] = [];
  newestFirst.forEach((b, i) => {
    if (i === 0) return;
    const overCount = r.maxCount !== null && i >= r.maxCount;
    const tooOld = r.maxAgeMs !== null && nowMs - b.lastModifiedMs > r.maxAgeMs;
    if (overCount || tooOld) prune.push(b.key);
  });
  return prune;
}

/** Parses a retention age: "30m", "12h", "7d", "1h30m". null when malformed. */
export function parseRetentionAge(text: string): number | null {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/.exec(text);
  if (m === null || text === '') return null;
  const [d, h, min] = [m[1], m[2], m[3]].map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number];
  const ms = ((d * 24 + h) * 60 + min) * 60_000;
  return ms > 0 ? ms : null;
}
