// `BENCH=kube-apiserver make bench`: issue 10's "Kubernetes is the user that matters most".
// kube-apiserver of the local control plane (hack/control-plane, no node agent), stored once on a
// 3-member tsetcd and once on a 3-member etcd 3.6.16 (hack/ensure-etcd36.sh), both with the same
// ports, flags and client+peer mutual TLS (up.sh's CP_STORAGE=tsetcd|etcd36), back to back, N pairs
// (order alternating; each run on a fresh control plane whose data is deleted after). The load,
// bounded in count and time, through the admin kubeconfig the control plane writes, on one
// keep-alive HTTPS/1.1 agent of node:https (50 sockets):
//   watch   started before the creates (from a list's resourceVersion), on its own connection; it
//           must see every ADDED and later every DELETED event. Its delivery lag per event is the
//           event's arrival minus the response time of the create (delete) that made it.
//   create  50 clients create 5,000 ConfigMaps (1 KiB of data each, label app=kubebench).
//   list    full listings in pages (limit=500, continue tokens), 5 at a time.
//   delete  50 clients delete them all.
// Per verb: p50 and p99 of each request's latency (request sent to response body read). For the
// whole load: the members' CPU seconds (utime+stime from /proc), kube-apiserver's and this
// generator's own, the members' and the apiserver's peak RSS (VmHWM), the leader changes and
// heartbeat send failures the members counted (their /metrics), and the storage requests the
// apiserver made for ConfigMaps (its etcd_request_duration_seconds_count): a paged list may be
// answered from the apiserver's watch cache and not reach the storage at all.
// Then the medians over the pairs and the tsetcd / etcd 3.6 ratios. Not part of `make test`.
//
//   flock /tmp/tsetcd-cp.lock flock /tmp/tsetcd-bench.lock npx tsx hack/bench-kube-apiserver.ts
//       [--pairs=1] [--objects=5000] [--clients=50] [--value-bytes=1024] [--page=500] [--lists=10]
//       [--max-seconds=300] [--settle-seconds=5] [--only=tsetcd|etcd36] [--controllers=0]
// The control plane's ports are fixed: hold /tmp/tsetcd-cp.lock (other engineers run the e2e suite
// on it). Needs root (up.sh adds a bridge), bin/tsetcd (make build), and it builds the Kubernetes
// binaries (hack/control-plane/build.sh) and etcd 3.6 when they are missing.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuSeconds, flag, loadAvg, median, metricSum, peakRssMiB, refuseUnknownFlags, summarize } from './lib/bench-measure.js';
import type { LatencySummary } from './lib/bench-measure.js';

const REPO = resolve(import.meta.dirname, '..');
const CP_DIR = process.env['CP_DIR'] ?? join(REPO, '.data', 'cp');
const CLIENT_PORT = Number(process.env['CP_ETCD_CLIENT_PORT'] ?? '17379');

const PAIRS = Math.max(1, Math.min(10, Number(flag('pairs', process.env['BENCH_KUBE_PAIRS'] ?? '1'))));
const OBJECTS = Math.max(1, Math.min(100_000, Number(flag('objects', '5000'))));
const CLIENTS = Math.max(1, Math.min(500, Number(flag('clients', '50'))));
const VALUE_BYTES = Math.max(0, Math.min(512 * 1024, Number(flag('value-bytes', '1024'))));
const PAGE = Math.max(1, Number(flag('page', '500')));
const LISTS = Math.max(0, Math.min(100, Number(flag('lists', '10'))));
const LIST_CLIENTS = 5;
/** The bound of each phase (creates, lists, deletes, each watch wait), in seconds. */
const MAX_SECONDS = Number(flag('max-seconds', '300'));
/** Quiet time after the control plane is up (the controller manager's start-up writes). */
const SETTLE_SECONDS = Number(flag('settle-seconds', '5'));
const ONLY = flag('only', '');
/** --controllers=0: kube-apiserver alone (no controller manager, no scheduler): the storage's share stands out more. */
const CONTROLLERS = flag('controllers', '1') !== '0';
refuseUnknownFlags('bench-kube-apiserver.ts');
const REQUEST_TIMEOUT_MS = 60_000;

const NAMESPACE = 'kubebench';
const LABEL = 'app=kubebench';
const COLLECTION = `/api/v1/namespaces/${NAMESPACE}/configmaps`;

type Kind = 'etcd36' | 'tsetcd';
const LABELS: Record<Kind, string> = { etcd36: 'etcd 3.6.16', tsetcd: 'tsetcd' };

// ---- the control plane ----

function script(path: string, env: Record<string, string> = {}, args: string[] = []): string {
  return execFileSync('bash', [join(REPO, path), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
    timeout: 3_600_000,
  }).toString();
}

function ensureBinaries(): void {
  if (!existsSync(join(REPO, 'bin', 'tsetcd'))) throw new Error('bin/tsetcd missing: run make build');
  // Skips binaries that are there.
  script('hack/control-plane/build.sh', {}, CONTROLLERS ? [] : ['kube-apiserver']);
  script('hack/ensure-etcd36.sh');
}

function up(kind: Kind): void {
  script('hack/control-plane/down.sh');
  script('hack/control-plane/up.sh', { CP_STORAGE: kind, CP_AGENT: '0', CP_CONTROLLERS: CONTROLLERS ? '1' : '0', CP_BUILD: '0', CP_ETCD_SERVERS: '' });
}

/** Stops everything up.sh started and deletes the storage's data (down.sh keeps only PKI and logs). */
function down(): void {
  script('hack/control-plane/down.sh');
}

function pidOf(name: string): number {
  return Number(readFileSync(join(CP_DIR, 'pids', name), 'utf8').trim());
}

function memberPids(kind: Kind): number[] {
  return [1, 2, 3].map((i) => pidOf(`${kind}-${i}`));
}

/** Leader changes and heartbeat send failures, summed over the members' /metrics. */
async function memberCounters(): Promise<{ leaderChanges: number; heartbeatFailures: number }> {
  let leaderChanges = 0;
  let heartbeatFailures = 0;
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://127.0.0.1:${CLIENT_PORT + 2 + 100 * i}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    leaderChanges += metricSum(text, 'etcd_server_leader_changes_seen_total');
    heartbeatFailures += metricSum(text, 'etcd_server_heartbeat_send_failures_total');
  }
  return { leaderChanges, heartbeatFailures };
}

// ---- the API client: the admin kubeconfig, one keep-alive agent ----

interface Api {
  host: string;
  port: number;
  token: string;
  ca: Buffer;
  agent: https.Agent;
}

function connect(): Api {
  const text = readFileSync(join(CP_DIR, 'kubeconfig'), 'utf8');
  const field = (k: string): string => {
    const m = new RegExp(`^\\s*${k}:\\s*(\\S+)`, 'm').exec(text);
    if (!m) throw new Error(`${k} missing in ${join(CP_DIR, 'kubeconfig')}`);
    return m[1]!;
  };
  const server = new URL(field('server'));
  const ca = readFileSync(field('certificate-authority'));
  return {
    host: server.hostname,
    port: Number(server.port),
    token: field('token'),
    ca,
    agent: new https.Agent({ keepAlive: true, maxSockets: CLIENTS, ca }),
  };
}

interface Reply {
  status: number;
  body: string;
  /** Request sent to response body read, ms. */
  ms: number;
  /** performance.now() when the body was read. */
  at: number;
}

function options(api: Api, method: string, path: string): https.RequestOptions {
  return {
    host: api.host,
    port: api.port,
    method,
    path,
    ca: api.ca,
    headers: { authorization: `Bearer ${api.token}`, accept: 'application/json' },
  };
}

function call(api: Api, method: string, path: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const opts = options(api, method, path);
  opts.agent = api.agent;
  opts.timeout = REQUEST_TIMEOUT_MS;
  if (payload !== undefined) opts.headers = { ...opts.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const req = https.request(opts, (resp) => {
      const chunks: Buffer[] = [];
      resp.on('data', (c: Buffer) => chunks.push(c));
      resp.on('error', rej);
      resp.on('end', () => {
        const at = performance.now();
        res({ status: resp.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: at - t0, at });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', rej);
    req.end(payload);
  });
}

// ---- the watch ----

/** One watch on the ConfigMaps of the load; reconnects from the last resourceVersion if the server ends it. */
class ConfigMapWatch {
  readonly added = new Map<string, number>();
  readonly deleted = new Map<string, number>();
  reconnects = 0;
  errors: string[] = [];
  private req: ReturnType<typeof https.request> | undefined;
  private stopped = false;
  private rv = '';
  private waiters = new Set<() => void>();

  constructor(private readonly api: Api) {}

  /** Resolves once the server has answered the watch request (events flow from then on). */
  start(rv: string): Promise<void> {
    this.rv = rv;
    return new Promise((res, rej) => {
      const path = `${COLLECTION}?watch=1&labelSelector=${encodeURIComponent(LABEL)}&resourceVersion=${rv}`;
      const req = https.request({ ...options(this.api, 'GET', path), agent: false }, (resp) => {
        if (resp.statusCode !== 200) return rej(new Error(`watch: HTTP ${resp.statusCode}`));
        this.read(resp);
        res();
      });
      req.on('error', (e) => {
        if (this.stopped) return;
        this.errors.push(`watch: ${e.message}`);
        rej(e); // a no-op once the watch has started
      });
      req.end();
      this.req = req;
    });
  }

  private read(resp: IncomingMessage): void {
    let buf = '';
    resp.on('data', (chunk: Buffer) => {
      const at = performance.now();
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.event(line, at);
      }
      for (const w of this.waiters) w();
    });
    resp.on('error', (e) => void (this.stopped || this.errors.push(`watch: ${e.message}`)));
    resp.on('end', () => {
      if (this.stopped) return;
      this.reconnects++;
      this.start(this.rv).catch((e: unknown) => this.errors.push(String(e)));
    });
  }

  private event(line: string, at: number): void {
    const ev = JSON.parse(line) as { type: string; object: { metadata?: { name?: string; resourceVersion?: string }; message?: string } };
    if (ev.type === 'ERROR') {
      this.errors.push(ev.object.message ?? line.slice(0, 200));
      return;
    }
    const name = ev.object.metadata?.name ?? '';
    this.rv = ev.object.metadata?.resourceVersion ?? this.rv;
    if (ev.type === 'ADDED' && !this.added.has(name)) this.added.set(name, at);
    if (ev.type === 'DELETED' && !this.deleted.has(name)) this.deleted.set(name, at);
  }

  /** Waits (bounded) until pred holds, checked after every chunk of events. */
  until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((res) => {
      if (pred()) return res(true);
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        res(ok);
      };
      const check = (): void => void (pred() && done(true));
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(check);
    });
  }

  stop(): void {
    this.stopped = true;
    this.req?.destroy();
  }
}

// ---- the load ----

/** Runs job(0..n-1) on `clients` concurrent workers; stops taking new jobs after the deadline. */
async function pool(n: number, clients: number, deadline: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, clients) }, async () => {
      while (next < n && performance.now() < deadline) await job(next++);
    }),
  );
}

const name = (i: number): string => `cm-${String(i).padStart(6, '0')}`;

/** Delivery lag of each event seen: arrival minus the response time of the request that made it. */
function lags(seen: Map<string, number>, answered: Map<string, number>): number[] {
  return [...seen].map(([n, at]) => at - (answered.get(n) ?? NaN));
}

interface RunResult {
  create: LatencySummary;
  list: LatencySummary;
  del: LatencySummary;
  watchAdded: LatencySummary;
  watchDeleted: LatencySummary;
  createPerSecond: number;
  deletePerSecond: number;
  /** Requests that failed (non-2xx or no answer), with a sample. */
  errors: number;
  errorSample: string;
  /** Listings whose item count was not OBJECTS. */
  shortListings: number;
  watchMissing: string;
  /** Times the server ended the watch and it was resumed from the last resourceVersion seen. */
  watchReconnects: number;
  memberCpu: number;
  apiserverCpu: number;
  generatorCpu: number;
  memberPeakRss: number;
  apiserverPeakRss: number;
  leaderChanges: number;
  heartbeatFailures: number;
  storageRequests: string;
  seconds: number;
  loadAvg: string;
}

/** The apiserver's storage requests for ConfigMaps, by operation (its etcd_request_duration_seconds_count). */
async function storageRequests(api: Api): Promise<Map<string, number>> {
  const r = await call(api, 'GET', '/metrics');
  const out = new Map<string, number>();
  for (const line of r.body.split('\n')) {
    if (!line.startsWith('etcd_request_duration_seconds_count{') || !/configmaps/i.test(line)) continue;
    const op = /operation="([^"]+)"/.exec(line)?.[1] ?? '?';
    out.set(op, (out.get(op) ?? 0) + metricSum(line, 'etcd_request_duration_seconds_count'));
  }
  return out;
}

interface Writes {
  /** Each successful request's latency, ms. */
  ms: number[];
  /** Object name -> performance.now() of its successful response. */
  answered: Map<string, number>;
  perSecond: number;
}

/** One request per object (create or delete) on CLIENTS workers; a failure is counted, not retried. */
async function everyObject(
  api: Api,
  method: 'POST' | 'DELETE',
  boundMs: number,
  fail: (what: string) => void,
  request: (name: string) => [string, unknown],
): Promise<Writes> {
  const ok = method === 'POST' ? 201 : 200;
  const out: Writes = { ms: [], answered: new Map(), perSecond: 0 };
  const t0 = performance.now();
  await pool(OBJECTS, CLIENTS, t0 + boundMs, async (i) => {
    const [path, body] = request(name(i));
    const r = await call(api, method, path, body).catch((e: unknown) => fail(`${method} ${name(i)}: ${String(e)}`));
    if (!r) return;
    if (r.status !== ok) return fail(`${method} ${name(i)}: HTTP ${r.status} ${r.body}`);
    out.ms.push(r.ms);
    out.answered.set(name(i), r.at);
  });
  out.perSecond = (1000 * out.ms.length) / (performance.now() - t0);
  return out;
}

async function runLoad(kind: Kind, log: (s: string) => void): Promise<RunResult> {
  const api = connect();
  const members = memberPids(kind);
  const apiserver = pidOf('kube-apiserver');
  const bound = MAX_SECONDS * 1000;
  let errors = 0;
  let errorSample = '';
  const fail = (what: string): void => {
    errors++;
    errorSample ||= what.slice(0, 300);
  };

  const ns = await call(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  if (ns.status !== 201) throw new Error(`creating namespace ${NAMESPACE}: HTTP ${ns.status} ${ns.body.slice(0, 300)}`);
  const first = await call(api, 'GET', `${COLLECTION}?labelSelector=${encodeURIComponent(LABEL)}&limit=1`);
  const rv = (JSON.parse(first.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;

  const counters0 = await memberCounters();
  const storage0 = await storageRequests(api);
  const cpu0 = members.map(cpuSeconds);
  const apiCpu0 = cpuSeconds(apiserver);
  const gen0 = process.cpuUsage();
  const t0 = performance.now();

  const watch = new ConfigMapWatch(api);
  await watch.start(rv);

  // Creates.
  const data = { v: 'x'.repeat(VALUE_BYTES) };
  const creates = await everyObject(api, 'POST', bound, fail, (n) => [
    COLLECTION,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n, labels: { app: 'kubebench' } }, data },
  ]);
  const sawAdded = await watch.until(() => watch.added.size >= OBJECTS, bound);

  // Paged listings, LIST_CLIENTS at a time.
  const pageMs: number[] = [];
  let shortListings = 0;
  await pool(LISTS, LIST_CLIENTS, performance.now() + bound, async () => {
    let cont = '';
    let items = 0;
    do {
      const path = `${COLLECTION}?labelSelector=${encodeURIComponent(LABEL)}&limit=${PAGE}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`;
      const r = await call(api, 'GET', path).catch((e: unknown) => fail(`list: ${String(e)}`));
      if (!r) break;
      if (r.status !== 200) {
        fail(`list: HTTP ${r.status} ${r.body}`);
        break;
      }
      pageMs.push(r.ms);
      const page = JSON.parse(r.body) as { items: unknown[]; metadata: { continue?: string } };
      items += page.items.length;
      cont = page.metadata.continue ?? '';
    } while (cont);
    if (items !== OBJECTS) shortListings++;
  });

  // Deletes.
  const deletes = await everyObject(api, 'DELETE', bound, fail, (n) => [`${COLLECTION}/${n}`, undefined]);
  const sawDeleted = await watch.until(() => watch.deleted.size >= OBJECTS, bound);
  watch.stop();

  const seconds = (performance.now() - t0) / 1000;
  const gen = process.cpuUsage(gen0);
  const memberCpu = members.map(cpuSeconds).reduce((s, v, i) => s + v - cpu0[i]!, 0);
  const apiserverCpu = cpuSeconds(apiserver) - apiCpu0;
  const counters1 = await memberCounters();
  const storage1 = await storageRequests(api);
  api.agent.destroy();

  const missing = [
    sawAdded ? '' : `${OBJECTS - watch.added.size} ADDED`,
    sawDeleted ? '' : `${OBJECTS - watch.deleted.size} DELETED`,
    ...watch.errors.slice(0, 2),
  ].filter(Boolean);
  const ops = [...storage1]
    .map(([op, n]) => [op, n - (storage0.get(op) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${op} ${n}`);
  log(`  ${kind}: storage requests of the apiserver for ConfigMaps during the load: ${ops.join(', ') || 'none counted'}`);
  return {
    create: summarize(creates.ms),
    list: summarize(pageMs),
    del: summarize(deletes.ms),
    watchAdded: summarize(lags(watch.added, creates.answered)),
    watchDeleted: summarize(lags(watch.deleted, deletes.answered)),
    createPerSecond: creates.perSecond,
    deletePerSecond: deletes.perSecond,
    errors,
    errorSample,
    shortListings,
    watchMissing: missing.join('; '),
    watchReconnects: watch.reconnects,
    memberCpu,
    apiserverCpu,
    generatorCpu: (gen.user + gen.system) / 1e6,
    memberPeakRss: Math.max(...members.map(peakRssMiB)),
    apiserverPeakRss: peakRssMiB(apiserver),
    leaderChanges: counters1.leaderChanges - counters0.leaderChanges,
    heartbeatFailures: counters1.heartbeatFailures - counters0.heartbeatFailures,
    storageRequests: ops.join(', '),
    seconds,
    loadAvg: loadAvg(),
  };
}

// ---- the report ----

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function show(s: LatencySummary): string {
  return `p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)} ms (n ${s.n})`;
}

function printRun(pair: number, kind: Kind, r: RunResult): void {
  console.log(
    `pair ${pair} ${LABELS[kind]}: ${fmt(r.seconds)} s, load avg ${r.loadAvg}\n` +
      `  create ${show(r.create)}, ${fmt(r.createPerSecond, 0)}/s\n` +
      `  list page ${show(r.list)}${r.shortListings ? `, ${r.shortListings} listings short of ${OBJECTS}` : ''}\n` +
      `  delete ${show(r.del)}, ${fmt(r.deletePerSecond, 0)}/s\n` +
      `  watch lag ADDED ${show(r.watchAdded)}, DELETED ${show(r.watchDeleted)}${r.watchMissing ? ` -- missing: ${r.watchMissing}` : ''}, resumed ${r.watchReconnects} time(s)\n` +
      `  CPU s: members ${fmt(r.memberCpu, 2)}, kube-apiserver ${fmt(r.apiserverCpu, 2)}, generator ${fmt(r.generatorCpu, 2)}; ` +
      `peak RSS: largest member ${fmt(r.memberPeakRss, 0)} MiB, kube-apiserver ${fmt(r.apiserverPeakRss, 0)} MiB\n` +
      `  leader changes ${r.leaderChanges}, heartbeat send failures ${r.heartbeatFailures}, request errors ${r.errors}${r.errorSample ? ` (${r.errorSample})` : ''}`,
  );
}

function printTable(kinds: Kind[], results: Map<Kind, RunResult[]>): void {
  const both = kinds.length === 2;
  const head = ['measure', ...kinds.map((k) => LABELS[k]), ...(both ? ['tsetcd / etcd 3.6'] : [])];
  console.log(`\nkube-apiserver on each storage: medians over ${PAIRS} pair(s); load average at the end ${loadAvg()}\n`);
  console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
  const rows: Array<[string, (r: RunResult) => number, number]> = [
    ['create p50 (ms)', (r) => r.create.p50, 1],
    ['create p99 (ms)', (r) => r.create.p99, 1],
    ['list page p50 (ms)', (r) => r.list.p50, 1],
    ['list page p99 (ms)', (r) => r.list.p99, 1],
    ['delete p50 (ms)', (r) => r.del.p50, 1],
    ['delete p99 (ms)', (r) => r.del.p99, 1],
    ['watch lag ADDED p50 (ms)', (r) => r.watchAdded.p50, 1],
    ['watch lag ADDED p99 (ms)', (r) => r.watchAdded.p99, 1],
    ['watch lag DELETED p50 (ms)', (r) => r.watchDeleted.p50, 1],
    ['watch lag DELETED p99 (ms)', (r) => r.watchDeleted.p99, 1],
    ['creates/s', (r) => r.createPerSecond, 0],
    ['deletes/s', (r) => r.deletePerSecond, 0],
    ['members CPU s (3 members, whole load)', (r) => r.memberCpu, 2],
    ['kube-apiserver CPU s', (r) => r.apiserverCpu, 2],
    ['generator CPU s', (r) => r.generatorCpu, 2],
    ['peak RSS, largest member (MiB)', (r) => r.memberPeakRss, 0],
    ['peak RSS, kube-apiserver (MiB)', (r) => r.apiserverPeakRss, 0],
  ];
  for (const [label, get, digits] of rows) {
    const med = kinds.map((k) => median((results.get(k) ?? []).map(get)));
    const ratio = both ? [fmt(med[kinds.indexOf('tsetcd')]! / med[kinds.indexOf('etcd36')]!, 2)] : [];
    console.log(`| ${[label, ...med.map((m) => fmt(m, digits)), ...ratio].join(' | ')} |`);
  }
  console.log('');
  for (const k of kinds) {
    const rs = results.get(k) ?? [];
    const sum = (get: (r: RunResult) => number): number => rs.reduce((s, r) => s + get(r), 0);
    const missing = rs.map((r) => r.watchMissing).filter(Boolean);
    console.log(
      `${LABELS[k]}: leader changes ${sum((r) => r.leaderChanges)}, heartbeat send failures ${sum((r) => r.heartbeatFailures)}, ` +
        `request errors ${sum((r) => r.errors)}, short listings ${sum((r) => r.shortListings)}, watch ${missing.length ? `missing: ${missing.join(' | ')}` : 'saw every event'}`,
    );
  }
}

async function main(): Promise<void> {
  ensureBinaries();
  let kinds: Kind[] = ['etcd36', 'tsetcd'];
  if (ONLY) kinds = kinds.filter((k) => k === ONLY);
  const commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']).toString().trim();
  console.log(
    `kube-apiserver bench at ${commit}, ${new Date().toISOString()}: ${PAIRS} pair(s); ${CLIENTS} clients, ${OBJECTS} ConfigMaps of ${VALUE_BYTES} B, ` +
      `${LISTS} listings of pages of ${PAGE}; ${CONTROLLERS ? 'with' : 'without'} controller manager and scheduler; load average ${loadAvg()}`,
  );
  const stopOnSignal = (): void => {
    down();
    process.exit(130);
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const results = new Map<Kind, RunResult[]>();
  for (let pair = 1; pair <= PAIRS; pair++) {
    // Alternate who goes first, so neither side always gets the cooler machine.
    const order = pair % 2 === 1 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      const started = performance.now();
      try {
        up(kind);
        console.log(`pair ${pair} ${LABELS[kind]}: control plane up in ${fmt((performance.now() - started) / 1000)} s`);
        await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
        const r = await runLoad(kind, (s) => console.log(s));
        results.set(kind, [...(results.get(kind) ?? []), r]);
        printRun(pair, kind, r);
      } finally {
        down();
      }
    }
  }
  printTable(kinds, results);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
