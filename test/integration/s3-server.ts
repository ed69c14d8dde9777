// A real S3-compatible server for tests: SeaweedFS's `weed server` (master, volume, filer and the S3
// gateway in one process) on loopback ports in a temp dir, with one S3 identity (access key and
// secret) from an identity file, so a wrong key is refused as it would be by any S3. Telemetry off:
// the process talks to nothing but loopback. weed is built by hack/ensure-weed.sh (a prerequisite
// of `make test`) into .cache/weed/<version>/; without it the suites skip locally and fail under CI.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { REPO, freePorts, waitFor } from './harness.js';
import { logChildOutput } from '../../hack/lib/child-log.js';

const WEED_VERSION = readFileSync(join(REPO, 'hack', 'weed', 'VERSION'), 'utf8').trim();
export const WEED = join(process.env['WEED_BIN_DIR'] ?? join(REPO, '.cache', 'weed', WEED_VERSION), 'weed');

export function haveWeed(): boolean {
  if (existsSync(WEED)) return true;
  const why = `missing ${WEED} (bash hack/ensure-weed.sh builds it)`;
  if (process.env['CI']) throw new Error(`the backup tests need SeaweedFS: ${why}`);
  console.log(`skipping backup tests: ${why}`);
  return false;
}

export interface S3Server {
  endpoint: string;
  accessKeyID: string;
  secretAccessKey: string;
  region: string;
  dir: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** ip: the address weed listens on and is reached at; loopback unless pods on the local control plane's bridge must reach it. */
export async function startS3Server(o: { ip?: string } = {}): Promise<S3Server> {
  const ip = o.ip ?? '127.0.0.1';
  const dir = join(REPO, '.data', `s3-${process.pid}-${Date.now()}`);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const accessKeyID = 'tsetcdtestkey';
  const secretAccessKey = 'tsetcd-test-secret-0123456789';
  const config = join(dir, 's3.json');
  writeFileSync(
    config,
    JSON.stringify({ identities: [{ name: 'tsetcd-test', credentials: [{ accessKey: accessKeyID, secretKey: secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] }),
  );
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = (await freePorts(8)) as [number, number, number, number, number, number, number, number];
  const args = [
    'server',
    `-ip=${ip}`,
    `-ip.bind=${ip}`,
    `-dir=${join(dir, 'data')}`,
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    '-master.telemetry=false',
    // Every bucket is a collection with volumes of its own, grown a few at a time: room for 32 of
    // 256 MiB (files grow as written; nothing is preallocated). With 4 a 1 GiB put ran out.
    '-master.volumeSizeLimitMB=256',
    '-volume.max=32',
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    '-filer',
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    `-filer.localSocket=${join(dir, 'filer.sock')}`,
    '-s3',
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    // As S3 itself: a PutObject into a missing bucket fails with NoSuchBucket.
    '-s3.autoCreateBucket=false',
    `-s3.config=${config}`,
  ];
  const logFile = join(dir, 'weed.log');
  const proc: ChildProcess = spawn(WEED, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  logChildOutput(proc, logFile);
  const endpoint = `http://${ip}:${s3}`;
  const region = 'us-east-1';
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId: accessKeyID, secretAccessKey }, maxAttempts: 1 });
  const stop = async (): Promise<void> => {
    client.destroy();
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    if (!process.env['KEEP_DATA']) rmSync(dir, { recursive: true, force: true });
  };
  const createBucket = async (name: string): Promise<void> => {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  };
  try {
    // Ready when the gateway takes a bucket (the filer and a volume must be up for that).
    await waitFor(
      'weed S3 gateway',
      async () => {
        if (proc.exitCode !== null) throw new Error(`weed exited (${proc.exitCode}); see ${logFile}`);
        await createBucket('tsetcd-ready');
        return true;
      },
      120_000,
      250,
    );
  } catch (err: unknown) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail}`);
  }
  return { endpoint, accessKeyID, secretAccessKey, region, dir, createBucket, stop };
}
