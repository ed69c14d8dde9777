// `tsetcd-operator restore-member`: the init container of a cluster bootstrapped from a backup
// (spec.bootstrap.fromBackup). Each member's pod runs it before the member: it fetches the backup,
// refuses it unless whole (backup/fetch-backup.ts) and unless its sha256 is the one the operator
// verified and recorded, and seeds the member's data dir with `tsetcd snapshot restore`'s own code,
// given the member's very flags and ETCD_* env, so every member restores the same snapshot into the
// same new cluster (a new cluster ID from the new token). A data dir that already holds a member
// (a restarted pod) is left alone.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, parseConfig } from '../../node/config.js';
import type { Logger } from '../../node/log.js';
import { restoreEtcdSnapshot } from '../../node/runtime/etcd-snapshot-import.js';
import { readIdentity } from '../../node/runtime/identity.js';
import { fetchBackup } from './fetch-backup.js';
import type { ObjectStore } from './object-store.js';
import { BackupError } from './take-backup.js';
import { parseSubcommandFlags } from './cli-flags.js';

export const RESTORE_USAGE = `Usage: tsetcd-operator restore-member --endpoint URL --bucket NAME --key KEY [--region R] [--force-path-style=false]
         [--sha256 HEX] -- <the member's tsetcd flags>
   or: tsetcd-operator restore-member --source-url URL --key KEY [--sha256 HEX] -- <the member's tsetcd flags>
Credentials (S3): TSETCD_BACKUP_ACCESS_KEY_ID and TSETCD_BACKUP_SECRET_ACCESS_KEY. --source-url: a
\`tsetcd-operator serve-backup\` serving the PersistentVolumeClaim that holds the backup.
Fetches the backup, checks it, and restores it into the member's --data-dir (ETCD_* env works), unless
the data dir already holds a member.`;

export interface RestoreMemberOptions {
  /** Where the backup is: an S3 object, or a file served by serve-backup. */
  source: { kind: 's3'; endpoint: string; bucket: string; region: string; forcePathStyle: boolean } | { kind: 'url'; url: string };
  key: string;
  sha256: string | null;
  memberArgs: string[];
}

export function parseRestoreArgs(argv: readonly string[]): RestoreMemberOptions {
  const f = parseSubcommandFlags('restore-member', argv, ['endpoint', 'bucket', 'key', 'region', 'force-path-style', 'sha256', 'source-url']);
  const url = f.flags.get('source-url');
  if (url !== undefined && (f.flags.has('endpoint') || f.flags.has('bucket'))) throw new ConfigError('restore-member: --source-url or --endpoint and --bucket, not both');
  return {
    source: url !== undefined
      ? { kind: 'url', url }
      : { kind: 's3', endpoint: f.need('endpoint'), bucket: f.need('bucket'), region: f.flags.get('region') ?? 'us-east-1', forcePathStyle: (f.flags.get('force-path-style') ?? 'true') !== 'false' },
    key: f.need('key'),
    sha256: f.flags.get('sha256') ?? null,
    memberArgs: f.rest,
  };
}

export type RestoreMemberResult = { kind: 'restored'; revision: number; dataDir: string } | { kind: 'already-initialized' | 'joining'; dataDir: string };

export async function restoreMember(store: ObjectStore, o: RestoreMemberOptions, env: Readonly<Record<string, string | undefined>>, log: Logger): Promise<RestoreMemberResult> {
  const parsed = parseConfig(o.memberArgs, env);
  if (parsed.kind !== 'run') throw new ConfigError('restore-member: the member flags must describe a member to run');
  const cfg = parsed.config;
  if ((await readIdentity(cfg.dataDir)) !== undefined) return { kind: 'already-initialized', dataDir: cfg.dataDir };
  // A member added after the bootstrap (scale-up, replacement) gets its data from the leader.
  if (cfg.initialClusterState !== 'new') return { kind: 'joining', dataDir: cfg.dataDir };
  // The snapshot waits on the data volume, beside the data dir: it is sized for the data.
  const parent = dirname(cfg.dataDir);
  await mkdir(parent, { recursive: true });
  const file = join(parent, 'restore-snapshot.db.part');
  try {
    const snap = await fetchBackup(store, o.key, file);
    if (o.sha256 !== null && snap.sha256 !== o.sha256) {
      throw new BackupError('SnapshotCorrupt', `${store.locationOf(o.key)}: sha256 ${snap.sha256} is not the ${o.sha256} the operator verified (the object changed since)`);
    }
    const r = await restoreEtcdSnapshot(file, cfg, log);
    return { kind: 'restored', revision: r.revision, dataDir: cfg.dataDir };
  } finally {
    await rm(file, { force: true });
  }
}
