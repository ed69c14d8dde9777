// Backup and restore figures (issue 13): a real 3-member tsetcd cluster (bin/tsetcd) holding about
// --mib MiB of values, a real SeaweedFS S3 server (hack/ensure-weed.sh), and the operator's own code:
// - backup: takeBackup (status of every member, Maintenance.Snapshot from the most advanced one,
//   checks, upload, verification) — time and size; then the same into a folder as a PVC destination's
//   backup pod takes it (backup-to-dir);
// - restore: restore-member for 3 members (download, checks, `tsetcd snapshot restore`'s code),
//   then the restored cluster started and answering — time, and the key count checked.
// Run: BACKUP_BENCH_MIB=100 npx vitest run -c test/timing/vitest.config.ts test/timing/backup-restore.timing.ts
// (part of `make bench`, BENCH=timing). BACKUP_BENCH_VALUE_KIB sets the value size (64).
// Loads are bounded: exactly mib*1024/value-kib puts, 8 in flight.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { expect, it } from 'vitest';
import { createLogger } from '../../node/log.js';
import { parseRestoreArgs, restoreMember } from '../../operator/backup/restore-member.js';
import { S3ObjectStore } from '../../operator/backup/s3-object-store.js';
import { takeBackup } from '../../operator/backup/take-backup.js';
import { backupToDir, parseBackupToDirArgs } from '../../operator/backup/backup-to-dir.js';
import { GatewayMemberApi } from '../../operator/members/gateway-member-api.js';
import { Cluster, REPO, TSETCD_BIN, ctlOk, freePorts, waitFor } from '../integration/harness.js';
import { startS3Server } from '../integration/s3-server.js';

const mib = Number(process.env['BACKUP_BENCH_MIB'] ?? 100);
const valueKiB = Number(process.env['BACKUP_BENCH_VALUE_KIB'] ?? 64);

it(`backup and restore figures at ${mib} MiB`, async () => {
  const puts = Math.ceil((mib * 1024) / valueKiB);
  const tmp = join(REPO, '.data', `bench-backup-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  const s3 = await startS3Server();
  let cluster: Cluster | null = null;
  const procs: Array<ReturnType<typeof spawn>> = [];
  try {
    cluster = await Cluster.start({ size: 3, label: 'bench-backup' });
    await s3.createBucket('bench');
    const store = new S3ObjectStore({ endpoint: s3.endpoint, bucket: 'bench', region: s3.region, forcePathStyle: true, accessKeyID: s3.accessKeyID, secretAccessKey: s3.secretAccessKey, timeoutMs: 120_000 });
    const client = new Etcd3({ hosts: cluster.members.map((m) => m.clientUrl) });
    const value = Buffer.alloc(valueKiB * 1024, 7);
    const tLoad = Date.now();
    for (let i = 0; i < puts; i += 8) {
      await Promise.all(Array.from({ length: Math.min(8, puts - i) }, (_, j) => client.put(`bench/${String(i + j).padStart(7, '0')}`).value(value)));
    }
    client.close();
    console.log(`loaded ${puts} keys x ${valueKiB} KiB (${mib} MiB of values) in ${((Date.now() - tLoad) / 1000).toFixed(1)} s`);

    const api = new GatewayMemberApi({ requestTimeoutMs: 30_000 });
    const endpoints = cluster.members.map((m) => m.clientUrl);
    const t0 = Date.now();
    const rec = await takeBackup({ api, endpoints, store, key: 'bench/backup.db', tmpDir: tmp, idleTimeoutMs: 120_000 });
    const backupS = (Date.now() - t0) / 1000;
    console.log(`backup: ${(rec.sizeBytes / 2 ** 20).toFixed(1)} MiB snapshot (revision ${rec.revision}) from ${rec.memberEndpoint}, streamed, checked, uploaded and verified in ${backupS.toFixed(1)} s`);
    // The same backup the way a PVC destination's backup pod takes it (backup-to-dir: streamed into the
    // folder, renamed, fsynced, read back), into a folder on this disk.
    mkdirSync(join(tmp, 'claim'), { recursive: true });
    const tDir = Date.now();
    const dirRes = await backupToDir(parseBackupToDirArgs([`--dir=${join(tmp, 'claim')}`, '--key=bench/backup.db', `--endpoints=${endpoints.join(',')}`]), {}, () => Date.now());
    const dirS = (Date.now() - tDir) / 1000;
    if (!dirRes.ok) throw new Error(`backup-to-dir: ${dirRes.reason}: ${dirRes.message}`);
    console.log(`backup to a folder (PVC destination's backup-to-dir): ${(dirRes.sizeBytes / 2 ** 20).toFixed(1)} MiB in ${dirS.toFixed(1)} s (S3 path: ${backupS.toFixed(1)} s, same run)`);

    const ports = await freePorts(6);
    const names = ['r1', 'r2', 'r3'];
    const peer = (i: number): string => `http://127.0.0.1:${ports[i * 2 + 1]}`;
    const clientUrl = (i: number): string => `http://127.0.0.1:${ports[i * 2]}`;
    const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
    const flags = (i: number): string[] => [`--name=${names[i]}`, `--data-dir=${join(tmp, 'restored', names[i]!)}`, `--initial-cluster=${initial}`, '--initial-cluster-token=bench-restored', `--initial-advertise-peer-urls=${peer(i)}`];
    const t1 = Date.now();
    // The three init containers run in parallel pods; here one after another on 2 cores.
    for (let i = 0; i < 3; i++) {
      const o = parseRestoreArgs([`--endpoint=${s3.endpoint}`, '--bucket=bench', '--key=bench/backup.db', `--sha256=${rec.sha256}`, '--', ...flags(i)]);
      await restoreMember(store, o, {}, createLogger({ component: 'bench', level: 'warn' }));
    }
    const restoredS = (Date.now() - t1) / 1000;
    for (let i = 0; i < 3; i++) {
      procs.push(spawn(TSETCD_BIN, [...flags(i), `--listen-client-urls=${clientUrl(i)}`, `--advertise-client-urls=${clientUrl(i)}`, `--listen-peer-urls=${peer(i)}`], { stdio: 'ignore' }));
    }
    const eps = names.map((_, i) => clientUrl(i)).join(',');
    await waitFor(
      'restored cluster',
      async () => ((await Promise.all(eps.split(',').map(async (u) => (await fetch(`${u}/health`, { signal: AbortSignal.timeout(2000) })).status))).every((st) => st === 200) ? true : undefined),
      300_000,
      250,
    );
    const upS = (Date.now() - t1) / 1000;
    const count = Number((await ctlOk(eps.replace(/http:\/\//g, ''), ['get', 'bench/', '--prefix', '--keys-only', '-w', 'json'])).match(/"count":(\d+)/)?.[1]);
    console.log(`restore: 3 members fetched, checked and restored in ${restoredS.toFixed(1)} s (one after another); cluster healthy ${upS.toFixed(1)} s after the restore began; ${count} of ${puts} keys there`);
    expect(count).toBe(puts);
    store.destroy();
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all([s3.stop(), cluster?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  }
}, 3_600_000);
