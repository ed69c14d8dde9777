// What the bench scripts measure, written once: their --name=value flags, a process's CPU seconds
// and peak resident set from /proc, the machine's load average, a counter from a Prometheus text
// page, and latency summaries (nearest-rank percentiles, medians over runs). Pure but for the
// /proc and argv readers; hack/lib/bench-measure.test.ts checks the arithmetic.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** `--name=value` from the command line; a bare `--name` is 'true'; else dflt. */
const askedFlags = new Set<string>();

export function flag(name: string, dflt: string): string {
  askedFlags.add(name);
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  if (a) return a.slice(name.length + 3);
  if (process.argv.includes(`--${name}`)) return 'true';
  return dflt;
}

/**
 * Call once every flag has been read: a flag no `flag()` call asked for (a typo, or `--help`)
 * stops the harness with exit 2 before it starts anything, instead of running a whole benchmark
 * with the defaults. The flags are documented in each harness's header comment.
 */
export function refuseUnknownFlags(harness: string): void {
  const unknown = process.argv.slice(2).filter((a) => !askedFlags.has(a.replace(/^--/, '').split('=')[0]!));
  if (unknown.length === 0) return;
  const what = unknown.includes('--help') ? 'the flags' : `unknown flag(s) ${unknown.join(' ')}; the flags`;
  console.error(`${harness}: ${what} are listed in the header comment of hack/${harness}`);
  process.exit(2);
}

let clkTck = 0;

/** utime + stime of one process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/stat`);
}

/** utime + stime of a process's main thread alone (Node's event loop), in seconds. */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/task/${pid}/stat`);
}

function statCpu(path: string): number {
  clkTck ||= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const stat = readFileSync(path, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the comm field: state is f[0], so utime (field 14) is f[11] and stime f[12].
  return (Number(f[11]) + Number(f[12])) / clkTck;
}

/** Starts a new peak: VmHWM drops to the current RSS (`5` to clear_refs, Linux 4.0+). False if not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The number on one `Name:   N` line of a /proc status text (NaN if absent). */
function statusNumber(status: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status);
  return m ? Number(m[1]) : NaN;
}

/** One `Name:   N kB` line of a /proc/<pid>/status text, in MiB (NaN if absent). */
function statusMiB(status: string, name: string): number {
  return statusNumber(status, name) / 1024;
}

/** Peak resident set size of one process (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  return statusMiB(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM');
}

/**
 * A process's resident set now, split as the kernel counts it (/proc/<pid>/status), in MiB:
 * anonymous memory (heaps, stacks), pages of mapped files (the binary, its libraries) and shared
 * memory. A Node member maps ~100 MiB of `node` and keeps ~40 MiB of it resident; a Go binary far
 * less: the split shows how much of a gap in RSS is each program's own memory.
 */
export function rssSplitMiB(pid: number): { anon: number; file: number; shmem: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { anon: statusMiB(status, 'RssAnon'), file: statusMiB(status, 'RssFile'), shmem: statusMiB(status, 'RssShmem') };
}

/** Context switches of one thread or process: it blocked (voluntary) or was preempted (involuntary). */
export interface ContextSwitches {
  voluntary: number;
  involuntary: number;
}

/** The context switches a /proc/<pid>/task/<tid>/status text counts (0 where a line is absent). */
export function contextSwitchesOf(status: string): ContextSwitches {
  const count = (name: string): number => statusNumber(status, name) || 0;
  return { voluntary: count('voluntary_ctxt_switches'), involuntary: count('nonvoluntary_ctxt_switches') };
}

/**
 * A process's context switches, summed over its threads (a Go server spreads a request over many,
 * a Node member does most of it on one). A thread that exits takes its counts with it, so compare
 * readings of long-lived processes only.
 */
export function contextSwitches(pid: number): ContextSwitches {
  const sum: ContextSwitches = { voluntary: 0, involuntary: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread exited between the listing and the read
    }
    const c = contextSwitchesOf(status);
    sum.voluntary += c.voluntary;
    sum.involuntary += c.involuntary;
  }
  return sum;
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export function loadAvg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/**
 * The sum of a metric's samples on a Prometheus text page: `name value` and, when labels is given,
 * every `name{...}` sample whose labels include each of them (0 when there is none).
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    const close = line.lastIndexOf('}');
    const labelText = line[name.length] === '{' ? line.slice(name.length + 1, close) : '';
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The q-quantile (0 < q <= 1) of ascending samples by nearest rank; NaN when there are none. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Count, p50, p99 and max of samples in any order (non-finite samples are left out). */
export function summarize(samples: readonly number[]): LatencySummary {
  const s = samples.filter(Number.isFinite).sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.length ? s[s.length - 1]! : NaN };
}

/** The median of finite values (the mean of the middle two for an even count); NaN when there are none. */
export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
