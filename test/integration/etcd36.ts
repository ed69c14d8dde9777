// Real etcd 3.6 processes for the tests that compare tsetcd with etcd in one run. etcd and
// etcdutl are built by hack/ensure-etcd36.sh (a prerequisite of `make test`) into
// .cache/etcd36/<version>/.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, waitFor } from './harness.js';

const ETCD36_VERSION = readFileSync(join(REPO, 'hack', 'etcd36', 'VERSION'), 'utf8').trim();
const ETCD36_DIR = process.env['ETCD36_BIN_DIR'] ?? join(REPO, '.cache', 'etcd36', ETCD36_VERSION);
export const ETCD = join(ETCD36_DIR, 'etcd');
export const ETCDUTL = join(ETCD36_DIR, 'etcdutl');

/** True when both binaries are there; otherwise skips locally (says why) and fails under CI. */
export function haveEtcd36(suite: string): boolean {
  if (existsSync(ETCD) && existsSync(ETCDUTL)) return true;
  const why = `missing ${ETCD} or ${ETCDUTL} (bash hack/ensure-etcd36.sh builds them)`;
  if (process.env['CI']) throw new Error(`the ${suite} tests need etcd 3.6: ${why}`);
  console.log(`skipping ${suite} tests: ${why}`);
  return false;
}

export interface Proc {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logFile: string;
  readonly clientUrl: string;
}

export function start(name: string, bin: string, args: readonly string[], logFile: string, clientUrl: string): Proc {
  const log = createWriteStream(logFile, { flags: 'a' });
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: undefined } });
  proc.stdout?.pipe(log, { end: false });
  proc.stderr?.pipe(log, { end: false });
  proc.on('exit', () => log.end());
  return { name, proc, logFile, clientUrl };
}

export async function stopProc(p: Proc): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.proc.once('exit', () => r()));
  p.proc.kill('SIGTERM');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

export async function waitHealthy(p: Proc, timeoutMs: number): Promise<void> {
  await waitFor(
    `${p.name} /health`,
    async () => {
      if (p.proc.exitCode !== null || p.proc.signalCode !== null) throw new Error(`${p.name} exited (${p.proc.exitCode ?? p.proc.signalCode})`);
      const r = await fetch(`${p.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return r.status === 200 ? true : undefined;
    },
    timeoutMs,
    200,
  );
}

export function printLog(p: Proc): void {
  if (!existsSync(p.logFile)) return;
  console.log(`----- ${p.name} (${p.logFile}) -----\n${readFileSync(p.logFile, 'utf8').trimEnd().split('\n').slice(-30).join('\n')}`);
}

/** Runs a tool (etcdutl, etcdctl) to the end: exit code and output. */
export function run(bin: string, args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ETCDCTL_API: '3' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
