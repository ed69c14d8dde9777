// Child of writer-opt.test.ts (run with --allow-natives-syntax): optimizes the WAL writer's loop
// and save() under saves, crosses a segment cut, and prints their V8 optimization status before
// and after as JSON. V8 syntax goes through new Function, since TypeScript cannot parse it.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../storage.js';
import type { Entry } from '../../raft/types.js';

const prepare = new Function('f', '%PrepareFunctionForOptimization(f)') as (f: unknown) => void;
const optimizeNext = new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void;
const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
// V8's OptimizationStatus bit for "has optimized code" (kOptimized, src/runtime/runtime.h).
const OPTIMIZED = 1 << 4;

// The real disk: the WAL's files are then one class (an in-memory file's methods are closures
// of its own, which would deoptimize the writer at the new segment for a reason of the fake).
const dir = mkdtempSync(join(tmpdir(), 'tsetcd-writer-opt-'));
const { storage } = await openStorage(dir, { segmentSizeBytes: 256 * 1024 });
// The writer's loop, and save(), where each put queues its records.
const proto = Object.getPrototypeOf(storage) as Record<string, unknown>;
const hot = { run: proto.run, save: proto.save };
const statuses = (): Record<string, number> => ({ run: status(hot.run), save: status(hot.save) });
const value = new Uint8Array(512).fill(7);
let index = 0;
const put = async (): Promise<void> => {
  index++;
  const entry: Entry = { index, term: 1, type: 'normal', data: value };
  await storage.save({ term: 1, vote: 0n, commit: index - 1 }, [entry], true);
};
const segments = (): number => readdirSync(join(dir, 'wal')).filter((n) => n.endsWith('.wal')).length;

for (const f of Object.values(hot)) prepare(f);
for (let i = 0; i < 200; i++) await put();
for (const f of Object.values(hot)) optimizeNext(f);
for (let i = 0; i < 100; i++) await put();
const before = { status: statuses(), segments: segments() };
for (let i = 0; i < 300; i++) await put(); // 600 saves of ~560 bytes: past 256 KiB, so one cut
const after = { status: statuses(), segments: segments() };
await storage.close();
rmSync(dir, { recursive: true, force: true });
const optimized = (st: Record<string, number>): Record<string, boolean> =>
  Object.fromEntries(Object.entries(st).map(([k, v]) => [k, (v & OPTIMIZED) !== 0]));
console.log(JSON.stringify({ before: { ...before, optimized: optimized(before.status) }, after: { ...after, optimized: optimized(after.status) } }));
