// Backups to a real S3-compatible server (SeaweedFS's weed, test/integration/s3-server.ts) from a
// real 3-member tsetcd cluster, through the operator's own code (operator/backup/) and member API:
// - a backup streams the snapshot from the member with the highest applied index, uploads it,
//   verifies it (HEAD size and recorded sha256, the stored tail equal to etcd's trailer) and
//   records its revision; retention removes the oldest and keeps the newest;
// - bad input fails with a typed reason and writes nothing: wrong credentials, a missing bucket,
//   an unreachable endpoint; a corrupt or truncated snapshot is never uploaded nor restored;
// - restore: the stored backup is fetched, checked, and `tsetcd snapshot restore` seeds a new
//   3-member cluster (new cluster ID) that serves every key at its revisions.
// The keys are random from a printed seed.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRng } from '../../node/mvcc/testing/rng.js';
import { fetchBackup } from '../../operator/backup/fetch-backup.js';
import { pruneBackups } from '../../operator/backup/prune-backups.js';
import { S3ObjectStore } from '../../operator/backup/s3-object-store.js';
import { BackupError, takeBackup } from '../../operator/backup/take-backup.js';
import type { EtcdCluster } from '../../operator/api/types.js';
import { runScheduledBackup, type BackupRunnerDeps } from '../../operator/controller/backup-runner.js';
import { GatewayMemberApi } from '../../operator/members/gateway-member-api.js';
import { createLogger } from '../../node/log.js';
import type { MemberApi } from '../../operator/members/member-api.js';
import { backupFolder, backupKey } from '../../operator/plan/backup.js';
import { Cluster, REPO, TSETCD_BIN, ctlOk, freePorts, parseCtlJson, requireTools, waitFor } from './harness.js';
import { haveWeed, startS3Server, type S3Server } from './s3-server.js';

const tools = requireTools();
const d = tools.ok && haveWeed() ? describe.sequential : describe.skip;
const SEED = Number(process.env['BACKUP_SEED'] ?? Date.now() % 100_000);
const BUCKET = 'tsetcd-backups';

interface Kv {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  version: number;
}

async function readAll(endpoints: string): Promise<Kv[]> {
  const out = JSON.parse(await ctlOk(endpoints, ['get', '', '--prefix', '-w', 'json'])) as { kvs?: Array<Record<string, unknown>> };
  return (out.kvs ?? []).map((k) => ({
    key: Buffer.from(String(k['key']), 'base64').toString(),
    value: Buffer.from(String(k['value']), 'base64').toString(),
    create_revision: Number(k['create_revision']),
    mod_revision: Number(k['mod_revision']),
    version: Number(k['version']),
  }));
}

function run(bin: string, args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

d(`backups to a real S3 server (seed ${SEED})`, () => {
  let s3: S3Server;
  let cluster: Cluster;
  let store: S3ObjectStore;
  const api: MemberApi = new GatewayMemberApi({ requestTimeoutMs: 5000 });
  const tmp = join(REPO, '.data', `backup-tmp-${process.pid}`);
  const folder = backupFolder('daily', 'default', 'it');
  let endpoints: string[];
  let written: Kv[];

  beforeAll(async () => {
    console.log(`backup-s3 seed ${SEED}`);
    mkdirSync(tmp, { recursive: true });
    // One after the other, so a failure to start the second leaves the first for afterAll to stop.
    s3 = await startS3Server();
    cluster = await Cluster.start({ size: 3, label: 'backup' });
    await s3.createBucket(BUCKET);
    store = new S3ObjectStore({ endpoint: s3.endpoint, bucket: BUCKET, region: s3.region, forcePathStyle: true, accessKeyID: s3.accessKeyID, secretAccessKey: s3.secretAccessKey });
    endpoints = cluster.members.map((m) => m.clientUrl);
    const rng = new TestRng(SEED);
    // Keys with history: some overwritten, some deleted, so revisions differ from creation order.
    for (let i = 0; i < 60; i++) {
      const key = `k/${String(rng.int(40)).padStart(3, '0')}`;
      if (rng.int(8) === 0) await ctlOk(cluster.endpoints(), ['del', key]);
      else await ctlOk(cluster.endpoints(), ['put', key, `v${i}-${rng.int(1_000_000)}`]);
    }
    written = await readAll(cluster.endpoints());
    expect(written.length).toBeGreaterThan(5);
  }, 180_000);

  afterAll(async () => {
    store?.destroy();
    await Promise.all([s3?.stop(), cluster?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('takes a verified backup from the member with the highest applied index and records its revision', async () => {
    const statuses = await Promise.all(endpoints.map((e) => api.status(e)));
    const key = backupKey(folder, 'it', Date.now());
    const rec = await takeBackup({ api, endpoints, store, key, tmpDir: tmp });
    const maxApplied = Math.max(...statuses.map((s) => s.raftAppliedIndex ?? s.raftIndex));
    expect(rec.appliedIndex).toBeGreaterThanOrEqual(maxApplied);
    expect(endpoints).toContain(rec.memberEndpoint);
    expect(rec.location).toBe(`s3://${BUCKET}/${key}`);
    expect(rec.sizeBytes % 512).toBe(32);
    const rev = (await cluster.statuses())[0]!.Status.header.revision;
    expect(rec.revision).toBe(rev);
    const head = await store.head(key);
    expect(head).toEqual({ sizeBytes: rec.sizeBytes, metadata: { sha256: rec.sha256, revision: String(rec.revision) } });
    // Nothing left behind in the scratch folder.
    expect(readdir(tmp)).toEqual([]);
  }, 120_000);

  it('retention keeps the newest backups and removes the rest', async () => {
    for (let i = 0; i < 3; i++) await takeBackup({ api, endpoints, store, key: backupKey(folder, 'it', Date.now() + i + 1), tmpDir: tmp });
    await store.put(`${folder}README.txt`, join(REPO, 'package.json'), readFileSync(join(REPO, 'package.json')).length, {});
    const before = (await store.list(folder)).filter((o) => o.key.endsWith('.db')).map((o) => o.key).sort();
    expect(before).toHaveLength(4);
    const removed = await pruneBackups(store, folder, { maxCount: 2, maxAgeMs: null }, Date.now());
    expect(removed.sort()).toEqual(before.slice(0, 2));
    const after = (await store.list(folder)).map((o) => o.key).sort();
    expect(after).toEqual([...before.slice(2), `${folder}README.txt`].sort());
    // By age: everything is older than 1 ms, and the newest still stays.
    await new Promise((r) => setTimeout(r, 5));
    const aged = await pruneBackups(store, folder, { maxCount: null, maxAgeMs: 1 }, Date.now());
    expect(aged).toEqual([before[2]]);
    expect((await store.list(folder)).map((o) => o.key).sort()).toEqual([before[3], `${folder}README.txt`].sort());
  }, 180_000);

  it('refuses wrong credentials, a missing bucket and an unreachable endpoint, writing nothing', async () => {
    const base = { endpoint: s3.endpoint, bucket: BUCKET, region: s3.region, forcePathStyle: true, accessKeyID: s3.accessKeyID, secretAccessKey: s3.secretAccessKey };
    const [deadPort] = await freePorts(1);
    const cases: Array<[string, S3ObjectStore, string]> = [
      ['wrong secret', new S3ObjectStore({ ...base, secretAccessKey: 'not-the-secret' }), 'AccessDenied'],
      ['unknown key', new S3ObjectStore({ ...base, accessKeyID: 'nobody' }), 'AccessDenied'],
      ['missing bucket', new S3ObjectStore({ ...base, bucket: 'no-such-bucket-here' }), 'NoSuchBucket'],
      ['unreachable', new S3ObjectStore({ ...base, endpoint: `http://127.0.0.1:${deadPort}`, timeoutMs: 3000 }), 'Unreachable'],
    ];
    const before = (await store.list(folder)).map((o) => o.key).sort();
    for (const [what, bad, reason] of cases) {
      const key = backupKey(folder, 'it', Date.now());
      const err = await takeBackup({ api, endpoints, store: bad, key, tmpDir: tmp }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(BackupError);
      expect((err as BackupError).reason, `${what}: ${(err as Error).message}`).toBe(reason);
      bad.destroy();
    }
    expect((await store.list(folder)).map((o) => o.key).sort()).toEqual(before);
    expect(readdir(tmp)).toEqual([]);
  }, 180_000);

  it('a corrupt or truncated snapshot is never uploaded, and never fetched for restore', async () => {
    const good = (await store.list(folder)).find((o) => o.key.endsWith('.db'))!;
    const file = join(tmp, 'good.db');
    const snap = await fetchBackup(store, good.key, file);
    const bytes = readFileSync(file);
    rmSync(file);
    // A member that streams damaged bytes: one flipped byte, then the file cut short.
    const flipped = Buffer.from(bytes);
    flipped[4096 + 100] = flipped[4096 + 100]! ^ 0xff;
    for (const [what, damaged] of [
      ['flipped', flipped],
      ['truncated', bytes.subarray(0, bytes.length - 512)],
    ] as const) {
      const lying: MemberApi = Object.assign(Object.create(api) as MemberApi, { snapshot: () => Readable.from([damaged]) });
      const key = backupKey(folder, 'it', Date.now());
      const err = await takeBackup({ api: lying, endpoints, store, key, tmpDir: tmp }).catch((e: unknown) => e);
      expect((err as BackupError).reason, `${what}: ${String(err)}`).toBe('SnapshotCorrupt');
      expect(await store.head(key), what).toBeNull();
    }
    // Damaged objects in the store (written around the operator) are refused when fetched.
    for (const [what, damaged, reason] of [
      ['flipped', flipped, 'SnapshotCorrupt'],
      ['truncated', bytes.subarray(0, bytes.length - 100), 'SnapshotCorrupt'],
    ] as const) {
      const src = join(tmp, `${what}.src`);
      writeFileSync(src, damaged);
      const key = `${folder}damaged-${what}.db`;
      await store.put(key, src, damaged.length, { sha256: snap.sha256 });
      rmSync(src);
      const err = await fetchBackup(store, key, join(tmp, 'out.db')).catch((e: unknown) => e);
      expect((err as BackupError).reason, `${what}: ${String(err)}`).toBe(reason);
      await store.delete([key]);
    }
    const missing = await fetchBackup(store, `${folder}nothing-here.db`, join(tmp, 'out.db')).catch((e: unknown) => e);
    expect((missing as BackupError).reason).toBe('NotFound');
    expect(readdir(tmp)).toEqual([]);
  }, 180_000);

  it('the scheduled runner: status, condition and Event for a success, a wrong secret and a missing bucket; retention applied', async () => {
    const secrets: Record<string, Record<string, Buffer>> = {
      good: { accessKeyID: Buffer.from(s3.accessKeyID), secretAccessKey: Buffer.from(s3.secretAccessKey) },
      wrong: { accessKeyID: Buffer.from(s3.accessKeyID), secretAccessKey: Buffer.from('nope') },
    };
    const deps: BackupRunnerDeps = { kube: { getSecret: async (_ns: string, name: string) => secrets[name] ?? null }, log: createLogger({ component: 'test', level: 'error' }), tmpDir: tmp };
    const clusterWith = (secret: string, bucket: string, lastScheduleTime?: string): EtcdCluster => ({
      apiVersion: 'tsetcd.dev/v1alpha1',
      kind: 'EtcdCluster',
      metadata: { name: 'sched', namespace: 'prod', uid: 'u1', generation: 3 },
      spec: { backup: { schedule: '*/5 * * * *', s3: { endpoint: s3.endpoint, bucket, prefix: 'scheduled', credentialsSecret: { name: secret } }, retention: { maxCount: 2 } } },
      status: lastScheduleTime === undefined ? {} : { backup: { lastScheduleTime } },
    });
    const t0 = Date.parse('2026-12-02T03:00:20.000Z');
    // Not due again within the same scheduled minute.
    expect(await runScheduledBackup(deps, clusterWith('good', BUCKET, '2026-12-02T03:00:00.000Z'), api, endpoints, t0)).toBeNull();
    for (let i = 0; i < 3; i++) {
      const out = (await runScheduledBackup(deps, clusterWith('good', BUCKET), api, endpoints, t0 + i * 5 * 60_000))!;
      expect(out.condition?.status, out.condition?.message).toBe('True');
      expect(out.event?.reason).toBe('BackupSucceeded');
      expect(out.status.lastRevision).toBe((await cluster.statuses())[0]!.Status.header.revision);
      expect(out.status.lastLocation).toMatch(new RegExp(`^s3://${BUCKET}/scheduled/prod/sched/sched-20261202T0[34]\\d{7}Z\\.db$`));
      expect(await store.head(out.status.lastLocation!.slice(`s3://${BUCKET}/`.length))).not.toBeNull();
    }
    expect((await store.list('scheduled/prod/sched/')).length).toBe(2);
    const before = (await store.list('scheduled/')).map((o) => o.key).sort();
    for (const [secret, bucket, reason] of [
      ['wrong', BUCKET, 'AccessDenied'],
      ['good', 'no-such-bucket-here', 'NoSuchBucket'],
      ['missing', BUCKET, 'CredentialsSecretNotFound'],
    ] as const) {
      const out = (await runScheduledBackup(deps, clusterWith(secret, bucket), api, endpoints, t0 + 60 * 60_000))!;
      expect(out.condition?.status).toBe('False');
      expect(out.condition?.reason, out.condition?.message).toBe(reason);
      expect(out.event).toMatchObject({ type: 'Warning', reason: 'BackupFailed' });
      expect(out.status.consecutiveFailures).toBe(1);
      expect(out.status.lastScheduleTime).toBe('2026-12-02T04:00:00.000Z');
    }
    expect((await store.list('scheduled/')).map((o) => o.key).sort()).toEqual(before);
  }, 240_000);

  it('restores the newest backup into a new 3-member cluster with a new cluster ID, every key at its revisions', async () => {
    const newest = (await store.list(folder)).filter((o) => o.key.endsWith('.db')).sort((a, b) => (a.key < b.key ? 1 : -1))[0]!;
    const file = join(tmp, 'restore.db');
    const snap = await fetchBackup(store, newest.key, file);
    // Writes after the backup are not in it.
    await ctlOk(cluster.endpoints(), ['put', 'after-backup', 'x']);
    const root = join(tmp, 'restored');
    const ports = await freePorts(6);
    const names = ['r1', 'r2', 'r3'];
    const peer = (i: number): string => `http://127.0.0.1:${ports[i * 2 + 1]}`;
    const client = (i: number): string => `http://127.0.0.1:${ports[i * 2]}`;
    const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
    const flags = (i: number): string[] => [`--name=${names[i]}`, `--data-dir=${join(root, names[i]!)}`, `--initial-cluster=${initial}`, '--initial-cluster-token=restored', `--initial-advertise-peer-urls=${peer(i)}`];
    rmSync(file);
    // What each pod's init container runs (operator/backup/restore-member.ts), with the member's flags.
    const restoreMember = (i: number, sha256: string): Promise<{ code: number; stdout: string; stderr: string }> =>
      run(
        'node',
        [join(REPO, 'dist', 'operator', 'main.js'), 'restore-member', `--endpoint=${s3.endpoint}`, `--bucket=${BUCKET}`, `--key=${newest.key}`, `--sha256=${sha256}`, '--', ...flags(i)],
        { TSETCD_BACKUP_ACCESS_KEY_ID: s3.accessKeyID, TSETCD_BACKUP_SECRET_ACCESS_KEY: s3.secretAccessKey },
      );
    // A backup that is not the one the operator verified is refused, and the data dir stays empty.
    const refused = await restoreMember(0, '0'.repeat(64));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not the 0000');
    expect(existsSync(join(root, 'r1', 'member'))).toBe(false);
    for (let i = 0; i < 3; i++) {
      const r = await restoreMember(i, snap.sha256);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`(revision ${snap.revision})`);
    }
    // A restarted pod: the data dir holds a member, nothing is restored again.
    const again = await restoreMember(0, snap.sha256);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already holds a member');
    const procs = names.map((_, i) =>
      spawn(TSETCD_BIN, [...flags(i), `--listen-client-urls=${client(i)}`, `--advertise-client-urls=${client(i)}`, `--listen-peer-urls=${peer(i)}`], { stdio: ['ignore', openSync(join(root, `${names[i]}.log`), 'a'), openSync(join(root, `${names[i]}.log`), 'a')] }),
    );
    try {
      const eps = names.map((_, i) => client(i)).join(',');
      await waitFor(
        'restored cluster',
        async () => ((await Promise.all(eps.split(',').map(async (u) => (await fetch(`${u}/health`, { signal: AbortSignal.timeout(2000) })).status))).every((st) => st === 200) ? true : undefined),
        60_000,
        250,
      );
      // etcdctl gets host:port (the harness's form: with an http:// scheme, Debian's etcdctl 3.4
      // `endpoint status` draws RST_STREAM PROTOCOL_ERROR from tsetcd while `get` works; see the report).
      const ctlEps = eps.replace(/http:\/\//g, '');
      const got = await readAll(ctlEps);
      expect(got).toEqual(written);
      const st = parseCtlJson<Array<{ Status: { header: { cluster_id: string; revision: number } } }>>(await ctlOk(ctlEps, ['endpoint', 'status', '-w', 'json']));
      const old = parseCtlJson<typeof st>(await ctlOk(cluster.endpoints(), ['endpoint', 'status', '-w', 'json']));
      expect(st[0]!.Status.header.cluster_id).not.toBe(old[0]!.Status.header.cluster_id);
      expect(st[0]!.Status.header.revision).toBe(snap.revision);
    } catch (err: unknown) {
      for (const n of names) console.log(`--- ${n}.log\n${readFileSync(join(root, `${n}.log`), 'utf8').split('\n').slice(-15).join('\n')}`);
      throw err;
    } finally {
      for (const p of procs) p.kill('SIGKILL');
    }
  }, 180_000);
});

function readdir(dir: string): string[] {
  return readdirSync(dir).filter((n) => n !== 'restored');
}
