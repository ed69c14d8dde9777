// `tsetcd-operator backup-to-dir`: the backup pod's command (plan/backup-pod.ts builds the pod). It
// takes one backup of a cluster into a mounted PersistentVolumeClaim with the very code of an S3
// backup (take-backup.ts: the member with the highest applied index, etcd's sha256 and a readable
// database, then the written file's size, recorded sha256 and etcd's trailer read back), applies
// retention in the claim when asked, and writes its outcome as one JSON object to --result-file (the
// pod's termination message, where the operator reads it) and to stdout. The snapshot is streamed into
// the claim itself and renamed into place, so the claim needs room for one snapshot, once; when it is
// full (ENOSPC) the partial file is removed, older backups stay, and the reason is NoSpace.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../node/config.js';
import { GatewayMemberApi, type GatewayOptions } from '../members/gateway-member-api.js';
import type { MemberApi } from '../members/member-api.js';
import { parseRetentionAge } from '../plan/backup.js';
import { encodeBackupPodResult, ETCD_PASSWORD_ENV, ETCD_USERNAME_ENV, type BackupPodResult } from '../plan/backup-pod.js';
import { parseSubcommandFlags } from './cli-flags.js';
import { DirObjectStore } from './dir-object-store.js';
import { pruneBackups } from './prune-backups.js';
import { BackupError, takeBackup } from './take-backup.js';

export const BACKUP_TO_DIR_USAGE = `Usage: tsetcd-operator backup-to-dir --dir DIR --key KEY --endpoints URL[,URL...] [--location pvc://claim/]
         [--endpoint-mode pod-ip|dns] [--tls-dir DIR (ca.crt, tls.crt, tls.key)] [--result-file FILE]
         [--prune-folder F [--max-count N] [--max-age 7d]]
The cluster's etcd user (auth on): ${ETCD_USERNAME_ENV} and ${ETCD_PASSWORD_ENV}.`;

export interface BackupToDirOptions {
  dir: string;
  key: string;
  location: string | null;
  endpoints: string[];
  endpointMode: 'pod-ip' | 'dns';
  tlsDir: string | null;
  resultFile: string | null;
  prune: { folder: string; maxCount: number | null; maxAgeMs: number | null } | null;
}

export function parseBackupToDirArgs(argv: readonly string[]): BackupToDirOptions {
  const f = parseSubcommandFlags('backup-to-dir', argv, ['dir', 'key', 'location', 'endpoints', 'endpoint-mode', 'tls-dir', 'result-file', 'prune-folder', 'max-count', 'max-age']);
  const mode = f.flags.get('endpoint-mode') ?? 'dns';
  if (mode !== 'pod-ip' && mode !== 'dns') throw new ConfigError(`backup-to-dir: --endpoint-mode must be pod-ip or dns, got "${mode}"`);
  const maxCount = f.flags.get('max-count');
  const maxAge = f.flags.get('max-age');
  if (maxCount !== undefined && !/^[1-9]\d*$/.test(maxCount)) throw new ConfigError(`backup-to-dir: --max-count must be a whole number of at least 1, got "${maxCount}"`);
  const maxAgeMs = maxAge === undefined ? null : parseRetentionAge(maxAge);
  if (maxAge !== undefined && maxAgeMs === null) throw new ConfigError(`backup-to-dir: --max-age "${maxAge}" is not an age like 7d, 12h or 1h30m`);
  const folder = f.flags.get('prune-folder');
  return {
    dir: f.need('dir'),
    key: f.need('key'),
    location: f.flags.get('location') ?? null,
    endpoints: f.need('endpoints').split(',').filter((e) => e !== ''),
    endpointMode: mode,
    tlsDir: f.flags.get('tls-dir') ?? null,
    resultFile: f.flags.get('result-file') ?? null,
    prune: folder === undefined ? null : { folder, maxCount: maxCount === undefined ? null : Number(maxCount), maxAgeMs },
  };
}

/** Never throws: every failure is a result. `api`: the member client (tests); default: from the flags. */
export async function backupToDir(o: BackupToDirOptions, env: Readonly<Record<string, string | undefined>>, nowMs: () => number, api?: MemberApi): Promise<BackupPodResult> {
  try {
    const opts: GatewayOptions = { requestTimeoutMs: 10_000 };
    if (o.tlsDir !== null) {
      const [ca, cert, key] = await Promise.all(['ca.crt', 'tls.crt', 'tls.key'].map((n) => readFile(join(o.tlsDir as string, n))));
      opts.tls = { ca: ca as Buffer, cert: cert as Buffer, key: key as Buffer, ...(o.endpointMode === 'pod-ip' ? { checkServerIdentity: () => undefined } : {}) };
    }
    const username = env[ETCD_USERNAME_ENV];
    const password = env[ETCD_PASSWORD_ENV];
    if (username !== undefined && password !== undefined) opts.credentials = { username, password };
    const store = new DirObjectStore(o.dir, { move: true, ...(o.location !== null ? { location: o.location } : {}) });
    const record = await takeBackup({ api: api ?? new GatewayMemberApi(opts), endpoints: o.endpoints, store, key: o.key, tmpDir: o.dir });
    let pruned = 0;
    if (o.prune !== null) {
      // The backup stands when retention fails; it is tried again after the next one.
      pruned = (await pruneBackups(store, o.prune.folder, { maxCount: o.prune.maxCount, maxAgeMs: o.prune.maxAgeMs }, nowMs()).catch(() => [])).length;
    }
    return { ok: true, key: record.key, location: record.location, sizeBytes: record.sizeBytes, revision: record.revision, sha256: record.sha256, member: record.memberEndpoint, appliedIndex: record.appliedIndex, pruned };
  } catch (err: unknown) {
    if (err instanceof BackupError) return { ok: false, reason: err.reason, message: err.message };
    const code = (err as { code?: unknown }).code;
    return { ok: false, reason: code === 'ENOENT' || code === 'EACCES' ? 'DestinationUnusable' : 'BackupFailed', message: err instanceof Error ? err.message : String(err) };
  }
}

/** Writes the result where the operator reads it (the termination message file); returns the line. */
export async function writeBackupResult(o: BackupToDirOptions, r: BackupPodResult): Promise<string> {
  const line = encodeBackupPodResult(r);
  if (o.resultFile !== null) await writeFile(o.resultFile, line);
  return line;
}
