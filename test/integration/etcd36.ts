// Real etcd 3.6 processes for the tests that compare tsetcd with etcd in one run (the binaries:
// harness.ts's etcd36Bin, built by hack/ensure-etcd36.sh).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { etcd36Bin, waitFor } from './harness.js';
import { logChildOutput } from '../../hack/lib/child-log.js';

export const ETCD = etcd36Bin('etcd');
export const ETCDUTL = etcd36Bin('etcdutl');

export interface Proc {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logFile: string;
  readonly clientUrl: string;
}

export function start(name: string, bin: string, args: readonly string[], logFile: string, clientUrl: string): Proc {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: undefined } });
  logChildOutput(proc, logFile, { append: true });
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
