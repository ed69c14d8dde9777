// Runs hack/lincheck (porcupine with etcd's KV model, built by hack/ensure-lincheck.sh) on a
// history and returns its verdict. A violation can be written as porcupine's HTML view.

import { execFile, execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { History } from './history.js';

const REPO = resolve(import.meta.dirname, '..', '..');

export interface LinVerdict {
  readonly verdict: 'ok' | 'illegal' | 'unknown';
  readonly ops: number;
  readonly unknown: number;
  readonly partitions: number;
  readonly failed?: ReadonlyArray<{ name: string; ops: number; verdict: string }>;
  readonly visualized?: string;
}

let binary: string | undefined;

/** The checker's path, building it from the Go module proxy the first time (cached after). */
export function lincheckBinary(): string {
  if (binary) return binary;
  const out = execFileSync('bash', [join(REPO, 'hack', 'ensure-lincheck.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const last = out.trim().split('\n').pop();
  if (!last) throw new Error('hack/ensure-lincheck.sh printed no path');
  binary = last;
  return binary;
}

export interface CheckOptions {
  readonly timeoutS?: number;
  /** On a violation, write porcupine's HTML view of the failing partition here. */
  readonly visualizePath?: string;
}

/** The checker's verdict on `h` (exit 0 ok, 1 illegal, 2 unknown: all carry a verdict on stdout). */
export function checkLinearizable(h: History, opts: CheckOptions = {}): Promise<LinVerdict> {
  const args = [`-timeout=${opts.timeoutS ?? 120}s`];
  if (opts.visualizePath) args.push(`-visualize=${opts.visualizePath}`);
  return new Promise((resolve, reject) => {
    const child = execFile(lincheckBinary(), args, { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!stdout) return reject(new Error(`lincheck failed: ${err?.message ?? ''} ${stderr}`));
      resolve(JSON.parse(stdout) as LinVerdict);
    });
    child.stdin?.end(JSON.stringify(h));
  });
}
