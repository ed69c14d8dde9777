// In-process benchmark of the MVCC state machine (node/mvcc): put, range (point and a
// 100-key prefix), kube-style CAS txn, big-range steps, snapshot and compaction, and
// memory per key at 100k and 1M keys with 256-byte values.
//
//   npx tsx hack/bench-mvcc.ts            # full run (1M-key memory run included)
//   npx tsx hack/bench-mvcc.ts --quick    # smaller counts, no 1M run
//
// Every loop is bounded by a count. Figures are medians of RUNS runs; ratios compare to put.
import v8 from 'node:v8';
import vm from 'node:vm';
import { performance } from 'node:perf_hooks';
import { MvccStore, decodeCommand, encodeCommand, prefixEnd, type Command } from '../node/mvcc/index.js';
import { KeyIndex } from '../node/mvcc/key-index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const quick = process.argv.includes('--quick');
// The machine is shared: by default time is this process's CPU time (user + system, which
// includes GC threads), which other processes cannot inflate. --wall uses the wall clock.
const wall = process.argv.includes('--wall');
function now(): number {
  if (wall) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
const RUNS = quick ? 3 : 5;
const N = quick ? 20_000 : 100_000;
const VALUE = Buffer.alloc(256, 0x61);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function keyOf(i: number): Buffer {
  // kube-like keys: 1000 "namespaces" of 100 objects each, so a prefix holds 100 keys.
  const ns = Math.floor(i / 100);
  return Buffer.from(`/registry/pods/ns-${String(ns).padStart(5, '0')}/pod-${String(i).padStart(7, '0')}`);
}

function filled(n: number): MvccStore {
  const s = new MvccStore({ quotaBackendBytes: 64 * 1024 ** 3 });
  for (let i = 0; i < n; i++) s.apply({ type: 'put', req: { key: keyOf(i), value: VALUE } }, i + 1);
  return s;
}

/** ops/s of `fn` called `count` times. */
function rate(count: number, fn: (i: number) => void): number {
  const t0 = now();
  for (let i = 0; i < count; i++) fn(i);
  return count / ((now() - t0) / 1000);
}

interface Row {
  name: string;
  opsPerSec: number;
}
const rows: Row[] = [];
function record(name: string, samples: number[]): void {
  const m = median(samples);
  rows.push({ name, opsPerSec: m });
  console.log(`${name.padEnd(52)} ${Math.round(m).toLocaleString('en-US').padStart(12)} ops/s   (runs: ${samples.map((x) => Math.round(x)).join(', ')})`);
}

console.log(
  `node ${process.version}, ${RUNS} runs, ${N.toLocaleString('en-US')} keys, 256-byte values${quick ? ' (quick)' : ''}, ` +
    `${wall ? 'wall-clock' : 'process CPU'} time; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
);

// put: new keys, through the codec (what a member does per committed entry)
{
  const samples: number[] = [];
  const applyOnly: number[] = [];
  const updates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const s = new MvccStore({ quotaBackendBytes: 64 * 1024 ** 3 });
    const encoded = Array.from({ length: N }, (_, i) => encodeCommand({ type: 'put', req: { key: keyOf(i), value: VALUE } }));
    samples.push(rate(N, (i) => s.apply(decodeCommand(encoded[i]!), i + 1)));
    const cmds: Command[] = Array.from({ length: N }, (_, i) => ({ type: 'put', req: { key: keyOf(i), value: VALUE } }));
    updates.push(rate(N, (i) => s.apply(cmds[i]!, N + i + 1)));
    const s2 = new MvccStore({ quotaBackendBytes: 64 * 1024 ** 3 });
    applyOnly.push(rate(N, (i) => s2.apply(cmds[i]!, i + 1)));
  }
  record('put new key (decode + apply)', samples);
  record('put new key (apply only)', applyOnly);
  record('put existing key (apply only)', updates);
}

const store = filled(N);
{
  const point: number[] = [];
  const prefix: number[] = [];
  const txn: number[] = [];
  const enc: number[] = [];
  const M = Math.min(N, 50_000);
  for (let r = 0; r < RUNS; r++) {
    let x = 12345;
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % N;
    point.push(rate(M, () => store.range({ key: keyOf(next()), limit: 1 })));
    prefix.push(
      rate(M / 10, () => {
        const p = Buffer.from(`/registry/pods/ns-${String(Math.floor(next() / 100)).padStart(5, '0')}/`);
        const res = store.range({ key: p, rangeEnd: prefixEnd(p) });
        if (res.kvs.length !== 100) throw new Error(`prefix range gave ${res.kvs.length}`);
      }),
    );
    // kube-style update: mod_revision(k) == R -> put, else range(k)
    let idx = 10_000_000 * (r + 1);
    txn.push(
      rate(M, () => {
        const k = keyOf(next());
        const cur = store.range({ key: k }).kvs[0]!;
        const res = store.apply(
          {
            type: 'txn',
            req: {
              compare: [{ result: 0, target: 2, key: k, modRevision: cur.modRevision }],
              success: [{ requestPut: { key: k, value: VALUE } }],
              failure: [{ requestRange: { key: k } }],
            },
          },
          ++idx,
        );
        if (!res.ok) throw res.error;
      }),
    );
    const cmd: Command = { type: 'put', req: { key: keyOf(1), value: VALUE } };
    enc.push(rate(M, () => decodeCommand(encodeCommand(cmd))));
  }
  record('range point (1 key of 100k)', point);
  record('range prefix (100 keys of 100k)', prefix);
  record('txn kube CAS (read modRev, then txn)', txn);
  record('codec encode+decode of a 256-byte put', enc);
}

// big range in steps, snapshot and compaction: times per piece of work (event-loop friendliness)
{
  const all = { key: Buffer.from('/registry/'), rangeEnd: prefixEnd(Buffer.from('/registry/')) };
  const t0 = now();
  const full = store.range(all);
  const fullMs = now() - t0;
  const it = store.rangeSteps(all, 2000);
  const stepMs: number[] = [];
  for (;;) {
    const t = now();
    const r = it.next();
    stepMs.push(now() - t);
    if (r.done) break;
  }
  console.log(`range of all ${full.kvs.length.toLocaleString('en-US')} keys: ${fullMs.toFixed(1)} ms in one go; in steps of 2000 keys: median ${median(stepMs).toFixed(2)} ms, max ${Math.max(...stepMs).toFixed(2)} ms per step`);

  const s0 = now();
  const chunkMs: number[] = [];
  let bytes = 0;
  let tc = now();
  for (const c of store.snapshotChunks(1 << 20)) {
    chunkMs.push(now() - tc);
    bytes += c.length;
    tc = now();
  }
  const snapMs = now() - s0;
  const chunks: Uint8Array[] = [...store.snapshotChunks(1 << 20)];
  const r0 = now();
  const restored = new MvccStore({ quotaBackendBytes: 64 * 1024 ** 3 });
  restored.restore(chunks);
  const restoreMs = now() - r0;
  const h0 = now();
  const same = restored.hashKV().hash === store.hashKV().hash;
  const hashMs = now() - h0;
  console.log(`snapshot: ${(bytes / 1e6).toFixed(1)} MB in ${snapMs.toFixed(0)} ms (1 MiB chunks: median ${median(chunkMs).toFixed(1)} ms, max ${Math.max(...chunkMs).toFixed(1)} ms per chunk); restore ${restoreMs.toFixed(0)} ms; hashKV x2 ${hashMs.toFixed(0)} ms; equal hash: ${same}`);

  const rev = store.currentRevision();
  store.apply({ type: 'compaction', req: { revision: rev } }, 99_999_999);
  const cms: number[] = [];
  for (;;) {
    const t = now();
    const done = store.compactStep(5000);
    cms.push(now() - t);
    if (done) break;
  }
  console.log(`physical compaction of ${(rev - 1).toLocaleString('en-US')} revisions: ${cms.length} steps of 5000 revisions, median ${median(cms).toFixed(2)} ms, max ${Math.max(...cms).toFixed(2)} ms per step`);
}

// Why a B+tree: random-order inserts into the B+tree versus a sorted array (binary search + splice).
{
  const keysFor = (n: number): string[] => {
    let x = 99;
    return Array.from({ length: n }, () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      // Flat strings, as the store makes them (Buffer -> latin1).
      return Buffer.from(`/registry/pods/ns-${String(x % 100000).padStart(6, '0')}/pod-${x.toString(36)}`).toString('latin1');
    });
  };
  const nsPer = (n: number, fn: (keys: string[]) => void): number => {
    const keys = keysFor(n);
    const t = now();
    fn(keys);
    return ((now() - t) * 1e6) / n;
  };
  const tree = (keys: string[]): void => {
    const t = new KeyIndex<number>();
    for (let i = 0; i < keys.length; i++) t.set(keys[i]!, i);
  };
  const sorted = (keys: string[]): void => {
    const arr: string[] = [];
    for (const k of keys) {
      let lo = 0;
      let hi = arr.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (arr[mid]! < k) lo = mid + 1;
        else hi = mid;
      }
      arr.splice(lo, 0, k);
    }
  };
  const sizes = quick ? [20_000, 100_000] : [100_000, 1_000_000];
  const arrSizes = quick ? [20_000, 50_000] : [50_000, 150_000];
  console.log(
    `index insert, random order: B+tree ${sizes.map((n) => `${nsPer(n, tree).toFixed(0)} ns/key at ${n.toLocaleString('en-US')}`).join(', ')}; ` +
      `sorted array ${arrSizes.map((n) => `${nsPer(n, sorted).toFixed(0)} ns/key at ${n.toLocaleString('en-US')}`).join(', ')}`,
  );
}

// memory per key
function memoryPerKey(n: number): number {
  gc();
  gc();
  const m0 = process.memoryUsage();
  const s = filled(n);
  gc();
  gc();
  const m1 = process.memoryUsage();
  const used = m1.heapUsed - m0.heapUsed + (m1.arrayBuffers - m0.arrayBuffers);
  if (s.keyCount() !== n) throw new Error('bad count');
  return used / n;
}
for (const n of quick ? [100_000] : [100_000, 1_000_000]) {
  const per = memoryPerKey(n);
  console.log(`memory per key at ${n.toLocaleString('en-US')} keys (256-byte value, ~40-byte key): ${per.toFixed(0)} bytes (${(per - 256).toFixed(0)} bytes over the value)`);
}

const base = rows[0]!.opsPerSec;
console.log('\nratios to "put new key (decode + apply)":');
for (const r of rows) console.log(`  ${r.name.padEnd(50)} ${(r.opsPerSec / base).toFixed(2)}x`);
