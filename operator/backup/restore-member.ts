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

export const RESTORE_USAGE = `Usage: tsetcd-operator restore-member --endpoint URL --bucket NAME --key KEY [--region R] [--force-path-style=false]
         [--sha256 HEX] -- <the member's tsetcd flags>
Credentials: TSETCD_BACKUP_ACCESS_KEY_ID and TSETCD_BACKUP_SECRET_ACCESS_KEY.
Fetches the backup, checks it, and restores it into the member's --data-dir (ETCD_* env works), unless
the data dir already holds a member.`;

export interface RestoreMemberOptions {
  endpoint: string;
  bucket: string;
  key: string;
  region: string;
  forcePathStyle: boolean;
  sha256: string | null;
  memberArgs: string[];
}

export function parseRestoreArgs(argv: readonly string[]): RestoreMemberOptions {
  const sep = argv.indexOf('--');
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const flags = new Map<string, string>();
  for (let i = 0; i < own.length; i++) {
    const a = own[i]!;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (m === null) throw new ConfigError(`restore-member: unexpected argument "${a}"`);
    const v = m[2] ?? own[++i];
    if (v === undefined) throw new ConfigError(`restore-member: --${m[1]} needs a value`);
    flags.set(m[1]!, v);
  }
  const need = (k: string): string => {
    const v = flags.get(k);
    if (v === undefined || v === '') throw new ConfigError(`restore-member: --${k} is required`);
    return v;
  };
  const known = new Set(['endpoint', 'bucket', 'key', 'region', 'force-path-style', 'sha256']);
  for (const k of flags.keys()) if (!known.has(k)) throw new ConfigError(`restore-member: unknown flag --${k}`);
  return {
    endpoint: need('endpoint'),
    bucket: need('bucket'),
    key: need('key'),
    region: flags.get('region') ?? 'us-east-1',
    forcePathStyle: (flags.get('force-path-style') ?? 'true') !== 'false',
    sha256: flags.get('sha256') ?? null,
    memberArgs: sep < 0 ? [] : argv.slice(sep + 1),
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
