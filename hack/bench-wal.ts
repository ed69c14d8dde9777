// WAL benchmark: group-commit throughput and append-to-durable latency for 1 KiB records at
// 1, 10, 100 and 1000 concurrent writers (each writer awaits its save before the next), beside
// the raw fdatasync rate of the same disk measured in the same run (write 1 KiB + fdatasync).
// Prints medians over a few runs per case and the ratio the issue asks for:
//   1000-writer WAL records/s / raw single-writer fdatasync/s  (goal: > 50x).
// Bounded: every case runs for a fixed time (and a record cap).
// Usage: npx tsx hack/bench-wal.ts [--seconds 2] [--runs 3] [--dir .data/bench-wal]

import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { openStorage } from '../node/storage/storage.js';
import type { Entry } from '../node/raft/types.js';

const args = process.argv.slice(2);
function arg(name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : dflt;
}
const SECONDS = Number(arg('seconds', '2'));
const RUNS = Number(arg('runs', '3'));
const ROOT = resolve(arg('dir', join(import.meta.dirname, '..', '.data', 'bench-wal')));
const RECORD_BYTES = 1024;
const MAX_RECORDS_PER_RUN = 2_000_000;
const WRITERS = [1, 10, 100, 1000];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

function freshDir(name: string): string {
  const d = join(ROOT, name);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d, { recursive: true });
  return d;
}

interface Result {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  fsyncs: number;
  records: number;
}

/** Raw: one writer, write 1 KiB then fdatasync, in a loop. */
async function rawFsync(preallocated: boolean): Promise<Result> {
  const dir = freshDir('raw');
  const path = join(dir, 'raw.bin');
  const fd = fs.openSync(path, 'w+');
  if (preallocated) fs.ftruncateSync(fd, 64 * 1024 * 1024);
  const buf = Buffer.alloc(RECORD_BYTES, 0x5a);
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  let pos = 0;
  const writeP = (): Promise<void> =>
    new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, pos, (err) => (err ? rej(err) : res())));
  const syncP = (): Promise<void> => new Promise((res, rej) => fs.fdatasync(fd, (err) => (err ? rej(err) : res())));
  const t0 = performance.now();
  while (performance.now() < end && lat.length < MAX_RECORDS_PER_RUN) {
    const s = performance.now();
    await writeP();
    await syncP();
    pos += buf.length;
    lat.push(performance.now() - s);
  }
  const secs = (performance.now() - t0) / 1000;
  fs.closeSync(fd);
  const sorted = Float64Array.from(lat).sort();
  return { perSecond: lat.length / secs, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), fsyncs: lat.length, records: lat.length };
}

async function walRun(writers: number, preallocate: 'truncate' | 'zero'): Promise<Result> {
  const dir = freshDir(`wal-${writers}`);
  let fsyncs = 0;
  const { storage } = await openStorage(dir, { preallocate, hooks: { walFsync: () => void fsyncs++ } });
  const data = new Uint8Array(RECORD_BYTES).fill(0x5a);
  let next = 1;
  let records = 0;
  const lat = new Float64Array(MAX_RECORDS_PER_RUN);
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  fsyncs = 0;
  const writer = async (): Promise<void> => {
    while (performance.now() < end && records < MAX_RECORDS_PER_RUN) {
      const e: Entry = { index: next++, term: 1, type: 'normal', data };
      const s = performance.now();
      await storage.save(undefined, [e], true);
      lat[records++] = performance.now() - s;
    }
  };
  await Promise.all(Array.from({ length: writers }, () => writer()));
  const secs = (performance.now() - t0) / 1000;
  await storage.close();
  const sorted = lat.slice(0, records).sort();
  return { perSecond: records / secs, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), fsyncs, records };
}

async function medianOf(name: string, f: () => Promise<Result>): Promise<Result> {
  const rs: Result[] = [];
  for (let i = 0; i < RUNS; i++) rs.push(await f());
  const m = median(rs.map((r) => r.perSecond));
  const chosen = rs.find((r) => r.perSecond === m) as Result;
  const line = [
    name.padEnd(34),
    `${Math.round(m).toString().padStart(8)} rec/s`,
    `p50 ${chosen.p50Ms.toFixed(2).padStart(7)} ms`,
    `p99 ${chosen.p99Ms.toFixed(2).padStart(7)} ms`,
    `${(chosen.records / Math.max(1, chosen.fsyncs)).toFixed(1).padStart(7)} rec/fsync`,
    `(runs: ${rs.map((r) => Math.round(r.perSecond)).join(', ')})`,
  ].join('  ');
  console.log(line);
  return chosen;
}

async function main(): Promise<void> {
  console.log(`bench-wal: ${RECORD_BYTES} B records, ${SECONDS} s per run, median of ${RUNS} runs, dir ${ROOT}`);
  fs.mkdirSync(ROOT, { recursive: true });
  const raw = await medianOf('raw write+fdatasync (growing file)', () => rawFsync(false));
  await medianOf('raw write+fdatasync (preallocated)', () => rawFsync(true));
  const results = new Map<number, Result>();
  for (const w of WRITERS) results.set(w, await medianOf(`wal ${w} writer(s)`, () => walRun(w, 'truncate')));
  await medianOf('wal 1 writer, preallocate=zero', () => walRun(1, 'zero'));
  await medianOf('wal 1000 writers, preallocate=zero', () => walRun(1000, 'zero'));
  const w1000 = results.get(1000) as Result;
  const ratio = w1000.perSecond / raw.perSecond;
  console.log(`ratio: wal@1000 writers / raw single-writer fdatasync = ${ratio.toFixed(1)}x (goal > 50x)`);
  fs.rmSync(ROOT, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
