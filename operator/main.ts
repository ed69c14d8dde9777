// The tsetcd operator's entry point: parse config once, start, stop cleanly on SIGTERM/SIGINT.
import { hostname } from 'node:os';
import { ConfigError, parseConfig } from './config.js';
import { startOperator } from './operator.js';
import { createLogger } from '../node/log.js';
import { RESTORE_USAGE, parseRestoreArgs, restoreMember } from './backup/restore-member.js';
import { S3ObjectStore } from './backup/s3-object-store.js';
import { HttpObjectStore, serveBackups } from './backup/backup-http.js';
import { BACKUP_TO_DIR_USAGE, backupToDir, parseBackupToDirArgs, writeBackupResult } from './backup/backup-to-dir.js';
import { parseSubcommandFlags } from './backup/cli-flags.js';
import type { ObjectStore } from './backup/object-store.js';

/** `tsetcd-operator restore-member ...`: the init container of a cluster restored from a backup. */
async function restoreMemberCommand(argv: readonly string[]): Promise<number> {
  let o;
  try {
    o = parseRestoreArgs(argv);
  } catch (err: unknown) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${RESTORE_USAGE}`);
    return 2;
  }
  const env = process.env;
  const src = o.source;
  const store: ObjectStore & { destroy?(): void } =
    src.kind === 'url'
      ? new HttpObjectStore(src.url, src.url.endsWith('/') ? src.url : `${src.url}/`)
      : new S3ObjectStore({
          endpoint: src.endpoint,
          bucket: src.bucket,
          region: src.region,
          forcePathStyle: src.forcePathStyle,
          accessKeyID: env['TSETCD_BACKUP_ACCESS_KEY_ID'] ?? '',
          secretAccessKey: env['TSETCD_BACKUP_SECRET_ACCESS_KEY'] ?? '',
        });
  try {
    const r = await restoreMember(store, o, env, createLogger({ component: 'restore-member' }));
    console.log(
      r.kind === 'restored'
        ? `restored ${store.locationOf(o.key)} (revision ${r.revision}) into ${r.dataDir}`
        : r.kind === 'joining'
          ? `the member joins an existing cluster (initial cluster state is not "new"); nothing to restore`
          : `${r.dataDir} already holds a member; nothing to restore`,
    );
    return 0;
  } catch (err: unknown) {
    console.error(`tsetcd-operator restore-member: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    store.destroy?.();
  }
}

/** `tsetcd-operator backup-to-dir ...`: the backup pod of a PVC destination; its outcome is its termination message. */
async function backupToDirCommand(argv: readonly string[]): Promise<number> {
  let o;
  try {
    o = parseBackupToDirArgs(argv);
  } catch (err: unknown) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${BACKUP_TO_DIR_USAGE}`);
    return 2;
  }
  const r = await backupToDir(o, process.env, () => Date.now());
  try {
    console.log(await writeBackupResult(o, r));
  } catch (err: unknown) {
    console.error(`tsetcd-operator backup-to-dir: cannot write ${o.resultFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return r.ok ? 0 : 1;
}

/** `tsetcd-operator serve-backup --dir D --port P`: the restore source pod; serves the claim read-only until stopped. */
async function serveBackupCommand(argv: readonly string[]): Promise<void> {
  let f;
  try {
    f = parseSubcommandFlags('serve-backup', argv, ['dir', 'port']);
    f.need('dir');
  } catch (err: unknown) {
    console.error(`${err instanceof Error ? err.message : String(err)}\nUsage: tsetcd-operator serve-backup --dir DIR [--port 8080]`);
    process.exit(2);
  }
  const server = await serveBackups(f.need('dir'), Number(f.flags.get('port') ?? 8080));
  console.log(`serving ${f.need('dir')} read-only on ${JSON.stringify(server.address())}`);
  const stop = (): void => {
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'restore-member') process.exit(await restoreMemberCommand(process.argv.slice(3)));
  if (process.argv[2] === 'backup-to-dir') process.exit(await backupToDirCommand(process.argv.slice(3)));
  if (process.argv[2] === 'serve-backup') return serveBackupCommand(process.argv.slice(3));
  let cfg;
  try {
    cfg = parseConfig(process.argv.slice(2), { ...process.env, PID: String(process.pid) }, hostname());
  } catch (err: unknown) {
    if (err instanceof ConfigError) {
      console.error(`tsetcd-operator: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const op = await startOperator(cfg, {
    onLostLeadership: () => {
      console.error(JSON.stringify({ level: 'error', component: 'tsetcd-operator', msg: 'lost the leader-election Lease; exiting' }));
      process.exit(1);
    },
  });
  console.error(JSON.stringify({ level: 'info', component: 'tsetcd-operator', msg: 'started', metrics: op.metricsURL }));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void op.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`tsetcd-operator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
