// `make bench` (list part): a paged list the way kube-apiserver reads one from etcd. Every page
// after the first is read at the first page's revision (the continue token holds it), with a
// limit, and each answer carries the count of the rest of the range. etcd's `benchmark` cannot
// read at a revision, so this harness drives the gRPC API itself, against a 3-member tsetcd and
// a 3-member etcd 3.6 (hack/ensure-etcd36.sh) on loopback, one after the other:
//   1. --keys puts of --val-size bytes under /registry/configmaps/bench/;
//   2. --churn more puts to those keys after the list's revision (writes kube-apiserver goes on
//      taking while a client lists);
//   3. --clients clients over --conns connections list the whole prefix in pages of --limit,
//      linearizable, at that revision, until --pages pages (or --max-seconds).
// Prints, per system and as the median of the rounds: pages/s, page p50/p99, and the members' CPU
// per 1,000 pages; then the tsetcd/etcd ratios. Systems alternate within each round.
//
//   npx tsx hack/bench-list-pages.ts [--rounds=3] [--keys=50000] [--val-size=512] [--churn=2000]
//       [--limit=500] [--pages=1500] [--clients=8] [--conns=4] [--max-seconds=60] [--etcd=PATH] [--only=tsetcd|etcd] [--profile]
// KEEP_DATA=1 keeps the data directories (with --profile, the members' CPU profiles in them).
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, credentials } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { loadEtcdProtos } from '../node/server/proto-load.js';
import { etcd36Binary, fmt, load, pct, put, startCluster, stopCluster, type Target } from './bench-cluster.js';
import { cpuSeconds, flag, median, refuseUnknownFlags } from './lib/bench-measure.js';

const REPO = resolve(import.meta.dirname, '..');
const ROUNDS = Number(flag('rounds', '3'));
const KEYS = Math.min(500_000, Number(flag('keys', '50000')));
const VAL = Buffer.alloc(Number(flag('val-size', '512')), 'v');
const CHURN = Math.min(100_000, Number(flag('churn', '2000')));
const LIMIT = Number(flag('limit', '500'));
const PAGES = Math.min(100_000, Number(flag('pages', '1500')));
const CLIENTS = Number(flag('clients', '8'));
const CONNS = Number(flag('conns', '4'));
const MAX_SECONDS = Number(flag('max-seconds', '60'));
const ONLY = flag('only', '');
const ETCD = flag('etcd', '');
// bench-cluster.ts reads it: tsetcd members run with --cpu-prof (kept with KEEP_DATA=1).
flag('profile', 'false');
refuseUnknownFlags('bench-list-pages.ts');

const PREFIX = '/registry/configmaps/bench/';
const PREFIX_END = Buffer.from(PREFIX.slice(0, -1) + String.fromCharCode(PREFIX.charCodeAt(PREFIX.length - 1) + 1));
const keyOf = (i: number): Buffer => Buffer.from(`${PREFIX}cm-${String(i % KEYS).padStart(7, '0')}`);

interface RangeResp {
  header: { revision: string | number };
  kvs: Array<{ key: Buffer }>;
  more: boolean;
  count: string | number;
}

const rangeDef = (loadEtcdProtos()['etcdserverpb.KV'] as unknown as Record<string, MethodDefinition<unknown, RangeResp>>)['Range']!;
function rangeCall(c: Client, req: unknown): Promise<RangeResp> {
  return new Promise((res, rej) => c.makeUnaryRequest(rangeDef.path, rangeDef.requestSerialize, rangeDef.responseDeserialize, req, (err, v) => (err || !v ? rej(err) : res(v))));
}

interface Result {
  pagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuPerKPages: number;
  errors: number;
  wrongCounts: number;
}

/** Lists the prefix in pages at `rev` from CLIENTS clients until PAGES pages are read. */
async function listPages(t: Target, rev: number): Promise<Result> {
  const clients = Array.from({ length: CONNS }, (_, i) => new Client(t.members[i % t.members.length]!.client.replace(/^https?:\/\//, ''), credentials.createInsecure()));
  const lat: number[] = [];
  let pages = 0;
  let errors = 0;
  let wrongCounts = 0;
  const cpu0 = t.members.reduce((s, m) => s + cpuSeconds(m.proc.pid!), 0);
  const start = performance.now();
  const deadline = start + MAX_SECONDS * 1000;
  const worker = async (w: number): Promise<void> => {
    const c = clients[w % clients.length]!;
    // Each client starts its lists at a different page, so the pages read cover the whole prefix.
    let fromIdx = Math.floor((w * KEYS) / CLIENTS);
    let from: Buffer = keyOf(fromIdx);
    while (pages < PAGES && performance.now() < deadline) {
      pages++;
      const t0 = performance.now();
      try {
        const r = await rangeCall(c, { key: from, rangeEnd: PREFIX_END, limit: LIMIT, revision: rev });
        lat.push(performance.now() - t0);
        // Every key was put before `rev` and none deleted: the count is the keys from `from` on.
        if (Number(r.count) !== KEYS - fromIdx) wrongCounts++;
        const last = r.kvs[r.kvs.length - 1];
        fromIdx = r.more && last ? Number(last.key.toString().slice(-7)) + 1 : 0;
        from = r.more && last ? Buffer.concat([last.key, Buffer.from([0])]) : keyOf(0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
  const seconds = (performance.now() - start) / 1000;
  const cpu = t.members.reduce((s, m) => s + cpuSeconds(m.proc.pid!), 0) - cpu0;
  for (const c of clients) c.close();
  lat.sort((a, b) => a - b);
  return { pagesPerSecond: lat.length / seconds, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), cpuPerKPages: (1000 * cpu) / Math.max(1, lat.length), errors, wrongCounts };
}

async function oneRun(kind: 'tsetcd' | 'etcd', root: string, bin: string | undefined): Promise<Result> {
  const t = await startCluster(kind, root, bin ? { bin } : {});
  try {
    const bounds = { ops: KEYS, clients: 64, conns: 8, maxSeconds: 300 };
    const filled = await load(t, put, (i) => ({ key: keyOf(i), value: VAL }), bounds);
    if (filled.errors > 0 || filled.ops < KEYS) throw new Error(`${kind}: ${filled.ops} of ${KEYS} puts, ${filled.errors} errors`);
    const c = new Client(t.members[0]!.client.replace(/^https?:\/\//, ''), credentials.createInsecure());
    const rev = Number((await rangeCall(c, { key: keyOf(0) })).header.revision);
    c.close();
    await load(t, put, (i) => ({ key: keyOf(i * 7), value: VAL }), { ...bounds, ops: CHURN });
    return await listPages(t, rev);
  } finally {
    await stopCluster(t);
  }
}

async function main(): Promise<void> {
  const root = join(REPO, '.data', `bench-list-${Date.now()}`);
  const systems: Array<{ label: string; kind: 'tsetcd' | 'etcd'; bin?: string }> = [];
  if (ONLY !== 'etcd') systems.push({ label: 'tsetcd', kind: 'tsetcd' });
  if (ONLY !== 'tsetcd') systems.push({ label: 'etcd 3.6', kind: 'etcd', bin: etcd36Binary(ETCD) });
  console.log(`list pages: ${KEYS} keys of ${VAL.length} bytes, ${CHURN} puts after the list's revision, pages of ${LIMIT} at that revision, ${PAGES} pages by ${CLIENTS} clients on ${CONNS} conns, ${ROUNDS} rounds; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const results = new Map<string, Result[]>();
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which system goes first, so a drift in the machine's load hits both.
      for (const sys of r % 2 === 0 ? systems : [...systems].reverse()) {
        const res = await oneRun(sys.kind, join(root, `${sys.kind}-${r}`), sys.bin);
        console.log(`round ${r + 1} ${sys.label}: ${fmt(res.pagesPerSecond, 0)} pages/s, p50 ${fmt(res.p50Ms, 1)} ms, p99 ${fmt(res.p99Ms, 1)} ms, CPU ${fmt(res.cpuPerKPages, 2)} s/1k pages, errors ${res.errors}, wrong counts ${res.wrongCounts}`);
        results.set(sys.label, [...(results.get(sys.label) ?? []), res]);
      }
    }
  } finally {
    if (!process.env['KEEP_DATA']) rmSync(root, { recursive: true, force: true });
  }
  console.log(`\nmedians over ${ROUNDS} round(s); load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  const labels = systems.map((s) => s.label);
  console.log(`| measure | ${labels.join(' | ')} |${labels.length === 2 ? ' tsetcd / etcd |' : ''}`);
  console.log(`|---|${labels.map(() => '---|').join('')}${labels.length === 2 ? '---|' : ''}`);
  const rows: Array<[string, (r: Result) => number, number]> = [
    ['pages/s', (r) => r.pagesPerSecond, 0],
    ['page p50 (ms)', (r) => r.p50Ms, 1],
    ['page p99 (ms)', (r) => r.p99Ms, 1],
    ['members CPU s / 1,000 pages', (r) => r.cpuPerKPages, 2],
  ];
  for (const [name, get, digits] of rows) {
    const vals = labels.map((l) => median((results.get(l) ?? []).map(get)));
    console.log(`| ${name} | ${vals.map((v) => fmt(v, digits)).join(' | ')} |${vals.length === 2 ? ` ${fmt(vals[0]! / vals[1]!, 2)} |` : ''}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
