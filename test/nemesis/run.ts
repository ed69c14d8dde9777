// One nemesis run on real processes: a cluster of bin/tsetcd in network namespaces, clients
// recording a history while the seed's fault schedule runs, then every fault healed and the
// checks: linearizability (hack/lincheck), durability and the event log (patch.ts), and agreement
// (HashKV equal at the final revision on every member). Every loop is bounded in count and time.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SimRng } from '../sim/rng.js';
import { NemesisCluster, REPO } from './cluster.js';
import { checkCompaction, OUT_OF_RANGE, type CompactCall, type HistoricalRead } from './compact-check.js';
import { compactor } from './compactor.js';
import { HistoryRecorder, monotonicNs, type OpInput } from './history.js';
import { KvClient, WatchCompactedError, type CallError, type Member } from './kv-client.js';
import { checkLeases, type LeaseCheckInput, type LeaseVerdict } from './lease-check.js';
import { LEASE_PREFIX, leaseClient, type LeaseRecord } from './lease-load.js';
import { checkLinearizable, type LinVerdict } from './lincheck.js';
import { NemesisNetwork } from './netns.js';
import { patchHistory } from './patch.js';
import { describeStep, drawSchedule, type Step, type Target } from './schedule.js';
import { COMPACTED_CANCEL_REASON, COMPACTED_TEXT, Watcher } from './watch-check.js';

export interface RunOptions {
  readonly seed: number;
  readonly size: number;
  readonly faults: number;
  readonly clients: number;
  readonly maxOpsPerClient: number;
  /** The load stops here even if the schedule has not finished. */
  readonly maxLoadMs: number;
  readonly keys: number;
  readonly opDeadlineMs: number;
  /** Lease clients (lease-load.ts); 0 for none. */
  readonly leaseClients?: number;
  /** Compact about this often (compactor.ts); 0 or absent for never. */
  readonly compactEveryMs?: number;
  readonly log: (line: string) => void;
  /** Keep the data and logs (always kept when a check fails). */
  readonly keep?: boolean;
}

export interface RunReport {
  readonly seed: number;
  readonly size: number;
  readonly schedule: readonly string[];
  readonly faultsInjected: number;
  /** Faults the cluster refused (a member removal that would lose quorum). */
  readonly faultsSkipped: number;
  /** Faults injected, by kind. */
  readonly faultKinds: Record<string, number>;
  /** Full disks that stopped their member (ENOSPC on a write). */
  readonly diskStops: number;
  readonly ops: number;
  readonly unknownOps: number;
  readonly resolved: { applied: number; dropped: number };
  readonly finalRev: number;
  /** Events the per-member watchers delivered during the run, and how often they reopened. */
  readonly watchEvents: number;
  readonly watchReopened: number;
  /** Watches canceled for compaction (each judged) and reads refused as compacted. */
  readonly watchCompacted: number;
  readonly readsCompacted: number;
  readonly compactions: number;
  readonly leases: LeaseVerdict;
  /** What the lease checker was given, so a test can plant a violation in it. */
  readonly leaseInput: LeaseCheckInput;
  readonly lin: LinVerdict;
  /** Durability, event log, agreement, watch, lease and compaction problems; empty when all hold. */
  readonly problems: readonly string[];
  readonly dir: string;
}

const PREFIX = 'n/';
const KV_PREFIX = 'n/k';

/** Teardowns of the runs in progress, for a signal handler (main.ts) to call before exiting. */
const teardowns = new Set<() => Promise<void>>();

export async function tearDownRunning(): Promise<void> {
  for (const t of [...teardowns]) await t();
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Calls fn until it resolves, every 200 ms, for at most timeoutMs (then its last error, named). */
export async function retry<T>(what: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: ${(e as Error).message}`);
      await sleep(200);
    }
  }
}

function nextInput(rng: SimRng, client: number, seq: number, keys: number, maxSeenRev: number, initialRev: number): OpInput {
  const key = `${KV_PREFIX}${rng.intn(keys)}`;
  const value = `c${client}.${seq}`;
  const roll = rng.intn(100);
  if (roll < 30) return { kind: 'put', key, value };
  if (roll < 38) return { kind: 'del', key };
  if (roll < 55) {
    // Expect a value this client may have seen, or absence.
    const expect = rng.chance(0.2) ? undefined : `c${rng.intn(8)}.${Math.max(0, seq - 1 - rng.intn(3))}`;
    return { kind: 'cas', key, value, ...(expect !== undefined ? { expect } : {}) };
  }
  if (roll < 88 || maxSeenRev <= initialRev) return { kind: 'get', key };
  // Older revisions, mostly recent ones (a compacted one is refused, and that is checked too).
  const back = rng.chance(0.7) ? rng.intn(Math.min(50, maxSeenRev - initialRev)) : rng.intn(maxSeenRev - initialRev);
  return { kind: 'get', key, rev: maxSeenRev - back };
}

export async function runNemesis(o: RunOptions): Promise<RunReport> {
  const dir = join(REPO, '.data', `nemesis-${o.size}-${o.seed}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const schedule = drawSchedule(o.seed, o.size, o.faults);
  o.log(`nemesis seed ${o.seed}, ${o.size} members, data ${dir}; schedule:\n${schedule.map((s, i) => `  ${i + 1}. ${describeStep(s)}`).join('\n')}`);
  const net = await NemesisNetwork.create(o.size);
  const cluster = new NemesisCluster(net, dir, `nemesis-${o.seed}`, { heartbeatMs: 50, electionMs: 500 });
  const clients = cluster.members.map((m) => new KvClient(m.address, o.opDeadlineMs));
  let failed = true;
  let watchers: Watcher[] = [];
  let keeper: Watcher | undefined;
  // Separate clients: a watch must not share a channel with the load's deadlines.
  const watchClients = cluster.members.map((m) => new KvClient(m.address, o.opDeadlineMs));
  const keeperClients = cluster.members.map((m) => new KvClient(m.address, o.opDeadlineMs));
  const teardown = async (): Promise<void> => {
    teardowns.delete(teardown);
    for (const w of [...watchers, ...(keeper ? [keeper] : [])]) await w.stop();
    for (const c of [...clients, ...watchClients, ...keeperClients]) c.close();
    await cluster.stopAll();
    await net.destroy();
  };
  teardowns.add(teardown);
  try {
    // Each member's data dir on its own tmpfs, for the disk-full fault (room for a run's WAL).
    await cluster.mountDisks(cluster.members.map((m) => m.index), 256);
    for (let i = 0; i < o.size; i++) cluster.launch(i);
    if (!(await cluster.waitHealthy(60_000))) throw new Error(`the cluster did not become healthy:\n${cluster.members.map((m) => cluster.logTail(m.index)).join('\n')}`);
    const initialRev = await retry('initial revision', () => clients[0]!.revision(false), 30_000);
    const recorder = new HistoryRecorder(initialRev);
    watchers = watchClients.map((c, i) => new Watcher(`m${i}`, [c], PREFIX, initialRev));
    const log = new Watcher('the log keeper', keeperClients, PREFIX, initialRev);
    keeper = log;

    // The load: bounded in operations per client and in time; a client moves to the next member
    // after an error, as etcd's clients do.
    let stop = false;
    const loadEnd = Date.now() + o.maxLoadMs;
    const stopped = (): boolean => stop || Date.now() >= loadEnd;
    const reads: HistoricalRead[] = [];
    const load = Array.from({ length: o.clients }, async (_, c) => {
      const rng = new SimRng(o.seed, 1000 + c);
      let member = c % o.size;
      let maxSeenRev = initialRev;
      for (let seq = 0; seq < o.maxOpsPerClient && !stopped(); seq++) {
        const input = nextInput(rng, c, seq, o.keys, maxSeenRev, initialRev);
        const client = clients[member]!;
        let error: CallError | undefined;
        const call = monotonicNs();
        const out = await recorder.record(c, input, () => client.run(input, (e) => (error = e)));
        if (input.rev) reads.push({ rev: input.rev, call, ret: monotonicNs(), ok: out !== null, ...(error ? { error } : {}) });
        if (out) maxSeenRev = Math.max(maxSeenRev, out.rev);
        else member = (member + 1) % o.size;
      }
    });
    const leaseRecords: LeaseRecord[] = [];
    const leases = Array.from({ length: o.leaseClients ?? 0 }, (_, c) => leaseClient({ client: c, seed: o.seed, clients, maxLeases: 1000, shouldStop: stopped, out: leaseRecords }));
    const compactions: CompactCall[] = [];
    const compacting = o.compactEveryMs ? compactor({ seed: o.seed, clients, everyMs: o.compactEveryMs, kept: () => log.lastRev, shouldStop: stopped, out: compactions }) : Promise.resolve();

    const problems: string[] = [];
    const disk = { problems, stops: 0 };
    let injected = 0;
    let skipped = 0;
    const faultKinds: Record<string, number> = {};
    const nemesis = (async () => {
      for (const step of schedule) {
        if (Date.now() > loadEnd) break;
        if (await inject(cluster, clients, net, step, o.seed, o.log, disk)) {
          injected++;
          faultKinds[step.fault.kind] = (faultKinds[step.fault.kind] ?? 0) + 1;
        } else skipped++;
      }
      stop = true;
    })();
    await nemesis;
    await Promise.all([...load, ...leases, compacting]);

    // Heal everything, then let the cluster agree on where it ended.
    await net.heal();
    cluster.reviveAll();
    if (!(await cluster.waitHealthy(60_000))) throw new Error(`the healed cluster did not become healthy:\n${await cluster.describe()}\n${cluster.members.map((m) => `${m.name}:\n${cluster.logTail(m.index)}`).join('\n')}`);
    // Nobody keeps a lease alive now: every lease must end (bounded: the longest TTL is 3 s, and
    // a new leader extends by an election timeout; the rest is slack for a busy machine).
    if (o.leaseClients) {
      const left = await retry('the leases to end', async () => {
        const ids = await Promise.any(clients.map((c) => c.leaseIds()));
        if (ids.length > 0) throw new Error(`${ids.length} leases still alive: ${ids.slice(0, 5).join(', ')}`);
        return ids;
      }, 60_000).catch((e: Error) => e.message);
      if (typeof left === 'string') problems.push(`leases outlived every keep-alive by a minute: ${left}`);
    }
    // One compaction after the faults, at what the log keeper holds, so every run ends with the
    // compacted probes below.
    if (o.compactEveryMs) {
      const at = log.lastRev;
      const call = monotonicNs();
      await retry(`compaction at ${at}`, () => Promise.any(clients.map((c) => c.compact(at))), 30_000)
        .then(() => compactions.push({ rev: at, call, ret: monotonicNs(), ok: true }), (e: Error) => problems.push(e.message));
    }
    const finalRev = await retry('final revision', () => Promise.any(clients.map((c) => c.revision(false))), 30_000);
    for (const c of clients) await retry(`${c.address} to reach revision ${finalRev}`, async () => {
      const r = await c.revision(true);
      if (r < finalRev) throw new Error(`at ${r}`);
    }, 30_000);

    const hashes = await Promise.all(clients.map((c) => retry(`HashKV of ${c.address}`, () => c.hashKv(finalRev), 30_000)));
    if (new Set(hashes.map((h) => `${h.hash}@${h.compactRevision}`)).size !== 1) problems.push(`HashKV at revision ${finalRev} differs: ${hashes.map((h, i) => `m${i}=${h.hash} (compacted at ${h.compactRevision})`).join(' ')}`);
    const compactRev = Math.max(...hashes.map((h) => h.compactRevision));
    if (!(await log.reach(finalRev, 30_000))) problems.push(`the log keeper stopped at revision ${log.lastRev} of ${finalRev}`);
    await log.stop();
    const events = log.events.filter((e) => e.modRev <= finalRev);
    problems.push(...log.compare(events));
    // Each member's log after the last compaction, read from its own watch, must be the keeper's.
    const tails = await Promise.all(clients.map((c) => retry(`events of ${c.address}`, () => c.events(PREFIX, Math.max(initialRev, compactRev) + 1, finalRev, 30_000), 30_000)));
    const tailWant = JSON.stringify(events.filter((e) => e.modRev > compactRev));
    tails.forEach((t, i) => {
      if (JSON.stringify(t.filter((e) => e.modRev <= finalRev)) !== tailWant) problems.push(`m${i}'s event log after revision ${compactRev} differs from the log keeper's`);
    });
    if (compactRev > initialRev + 1) problems.push(...(await probeCompacted(clients, initialRev + 1, compactRev, finalRev)));

    for (const w of watchers) {
      if (!(await w.reach(finalRev, 30_000))) problems.push(`watch on ${w.name} stopped at revision ${w.lastRev} of ${finalRev}`);
      await w.stop();
      problems.push(...w.compare(events));
    }
    const watchEvents = watchers.reduce((n, w) => n + w.events.length, 0);
    const watchReopened = watchers.reduce((n, w) => n + w.reopened, 0);

    const raw = recorder.history();
    const kvEvents = events.filter((e) => e.key.startsWith(KV_PREFIX));
    const leaseEvents = events.filter((e) => e.key.startsWith(LEASE_PREFIX));
    const others = events.filter((e) => !e.key.startsWith(KV_PREFIX) && !e.key.startsWith(LEASE_PREFIX));
    if (others.length > 0) problems.push(`the log has ${others.length} events of keys no client writes, e.g. ${others[0]!.key}`);
    const patched = patchHistory(raw, kvEvents, finalRev, new Set(leaseEvents.map((e) => e.modRev)));
    problems.push(...patched.problems);

    const seen = new Map<number, number>();
    for (const w of [...watchers, log]) w.events.forEach((e, i) => seen.set(e.modRev, Math.min(seen.get(e.modRev) ?? Infinity, w.seenAt[i]!)));
    const answers = [
      ...raw.ops.flatMap((op) => (op.output && op.return !== null ? [{ rev: op.output.rev, ret: op.return }] : [])),
      ...leaseRecords.flatMap((l) => [...l.puts, ...(l.revoke ? [l.revoke] : [])].flatMap((c) => (c.rev !== undefined ? [{ rev: c.rev, ret: c.ret }] : []))),
    ];
    const leaseInput: LeaseCheckInput = { records: leaseRecords, events: leaseEvents, seen, answers };
    const leaseVerdict = checkLeases(leaseInput);
    problems.push(...leaseVerdict.problems);
    problems.push(...checkCompaction(compactions, reads));

    const lin = await checkLinearizable(patched.history, { visualizePath: join(dir, 'violation.html') });
    const report: RunReport = {
      seed: o.seed,
      size: o.size,
      schedule: schedule.map(describeStep),
      faultsInjected: injected,
      faultsSkipped: skipped,
      faultKinds,
      diskStops: disk.stops,
      ops: raw.ops.length,
      unknownOps: raw.ops.filter((op) => op.output === null).length,
      resolved: patched.resolved,
      finalRev,
      watchEvents,
      watchReopened,
      watchCompacted: watchers.reduce((n, w) => n + w.cancels.length, 0),
      readsCompacted: reads.filter((r) => !r.ok && r.error?.code === OUT_OF_RANGE).length,
      compactions: compactions.filter((c) => c.ok).length,
      leases: leaseVerdict,
      leaseInput,
      lin,
      problems,
      dir,
    };
    failed = lin.verdict !== 'ok' || problems.length > 0;
    if (failed) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'history.json'), JSON.stringify(raw));
      writeFileSync(join(dir, 'patched.json'), JSON.stringify(patched.history));
      writeFileSync(join(dir, 'events.json'), JSON.stringify(events));
      writeFileSync(join(dir, 'leases.json'), JSON.stringify({ leaseRecords, compactions, reads }));
    }
    return report;
  } finally {
    await teardown();
    if (!failed && !o.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * After a compaction at `compactRev`: on every member, a read at `rev` (< compactRev) gets etcd's
 * compacted error, and a watch from `rev` gets etcd's compacted cancel naming `compactRev`.
 */
async function probeCompacted(clients: readonly KvClient[], rev: number, compactRev: number, finalRev: number): Promise<string[]> {
  const out: string[] = [];
  for (const [i, c] of clients.entries()) {
    let error: CallError | undefined;
    const r = await c.run({ kind: 'get', key: `${KV_PREFIX}0`, rev }, (e) => (error = e));
    if (r !== 'failed' || error?.code !== OUT_OF_RANGE || error.details !== COMPACTED_TEXT) {
      out.push(`m${i}: a read at revision ${rev} after a compaction at ${compactRev} answered ${r === 'failed' ? `code ${error?.code} ${JSON.stringify(error?.details)}` : 'data'}, not OUT_OF_RANGE ${JSON.stringify(COMPACTED_TEXT)}`);
    }
    const w = await c.events(PREFIX, rev, finalRev, 10_000).then(() => undefined, (e: unknown) => e);
    if (!(w instanceof WatchCompactedError) || w.compactRevision !== compactRev || w.reason !== COMPACTED_CANCEL_REASON) {
      out.push(`m${i}: a watch from revision ${rev} after a compaction at ${compactRev} got ${w instanceof WatchCompactedError ? `compact_revision ${w.compactRevision}, reason ${JSON.stringify(w.reason)}` : w ? String(w) : 'events'}, not etcd's compacted cancel`);
    }
  }
  return out;
}

/**
 * Removes member t through another member, waits for it to stop (it stops by itself once it
 * learns of its removal; kill -9 after a bound), adds it back with the same peer URL, and starts
 * it on an empty data dir. A refused removal (e.g. quorum would be lost) skips the fault.
 */
async function churn(cluster: NemesisCluster, clients: readonly KvClient[], t: number, log: (s: string) => void): Promise<boolean> {
  const size = cluster.members.length;
  const others = Array.from({ length: size - 1 }, (_, k) => (t + 1 + k) % size);
  const name = cluster.members[t]!.name;
  for (const s of others) {
    try {
      const id = (await clients[s]!.memberList()).find((m) => m.name === name || m.peerURLs.includes(cluster.peerUrl(t)))?.ID;
      if (id === undefined) throw new Error(`${name} is not a member`);
      await clients[s]!.memberRemove(id);
      if (!(await cluster.exited(t, 10_000))) await cluster.kill9(t);
      break;
    } catch (e) {
      if (s === others.at(-1)) {
        log(`  churn ${t} skipped: removal failed: ${(e as Error).message}`);
        return false;
      }
    }
  }
  // An add whose answer was lost may have happened: look before adding again.
  for (let attempt = 0; attempt < 50; attempt++) {
    const s = others[attempt % others.length]!;
    try {
      let members = await clients[s]!.memberList();
      if (!members.some((m) => m.peerURLs.includes(cluster.peerUrl(t)))) members = await clients[s]!.memberAdd(cluster.peerUrl(t));
      // A member added but not started yet has no name: name it by its peer URL.
      const nameOf = (m: Member): string => m.name || cluster.members.find((c) => m.peerURLs.includes(cluster.peerUrl(c.index)))?.name || name;
      const initialCluster = members.map((m) => `${nameOf(m)}=${m.peerURLs.join(',')}`).join(',');
      cluster.launch(t, { initialCluster });
      return true;
    } catch {
      await sleep(200);
    }
  }
  throw new Error(`could not add ${name} back after removing it`);
}

async function resolveTarget(cluster: NemesisCluster, clients: readonly KvClient[], t: Target, rng: SimRng): Promise<number> {
  if (t !== 'leader') return t;
  const l = await cluster.leader(clients);
  return l >= 0 ? l : rng.intn(cluster.members.length);
}

/** Runs one step; false when its fault could not be injected (a refused member removal). */
async function inject(cluster: NemesisCluster, clients: readonly KvClient[], net: NemesisNetwork, step: Step, seed: number, log: (s: string) => void, disk: { problems: string[]; stops: number }): Promise<boolean> {
  const rng = new SimRng(seed, 0x7461);
  const f = step.fault;
  const size = cluster.members.length;
  const cut = async (a: number, b: number): Promise<void> => {
    await net.dropFrom(a, b);
    await net.dropFrom(b, a);
  };
  switch (f.kind) {
    case 'kill': {
      const ts = [...new Set(await Promise.all(f.targets.map((t) => resolveTarget(cluster, clients, t, rng))))];
      log(`  kill -9 [${ts.join(',')}]`);
      for (const t of ts) await cluster.kill9(t);
      await sleep(step.holdMs);
      for (const t of ts) cluster.launch(t);
      break;
    }
    case 'pause': {
      const ts = [...new Set(await Promise.all(f.targets.map((t) => resolveTarget(cluster, clients, t, rng))))];
      log(`  SIGSTOP [${ts.join(',')}]`);
      for (const t of ts) cluster.pause(t);
      await sleep(step.holdMs);
      for (const t of ts) cluster.resume(t);
      break;
    }
    case 'isolate': {
      const t = await resolveTarget(cluster, clients, f.targets[0]!, rng);
      log(`  isolate ${t}`);
      for (let j = 0; j < size; j++) if (j !== t) await cut(t, j);
      await sleep(step.holdMs);
      await net.heal();
      break;
    }
    case 'split': {
      log(`  split [${f.minority.join(',')}]`);
      for (const a of f.minority) for (let b = 0; b < size; b++) if (!f.minority.includes(b)) await cut(a, b);
      await sleep(step.holdMs);
      await net.heal();
      break;
    }
    case 'churn': {
      const t = await resolveTarget(cluster, clients, f.targets[0]!, rng);
      log(`  churn ${t}`);
      if (!(await churn(cluster, clients, t, log))) return false;
      await sleep(step.holdMs);
      break;
    }
    case 'disk-full': {
      const t = await resolveTarget(cluster, clients, f.targets[0]!, rng);
      const d = cluster.disks.get(t)!;
      log(`  disk of ${t} full`);
      const logBefore = cluster.logSize(t);
      d.fill();
      await sleep(step.holdMs);
      d.unfill();
      // A member that wrote meanwhile stops on ENOSPC, as etcd does (its log says "fatal"; the
      // way out may take a few seconds, bounded by main.ts's 10 s guard): then it restarts.
      const said = cluster.logSince(t, logBefore);
      if (!cluster.running(t) || /fatal/.test(said)) {
        if (!(await cluster.exited(t, 15_000))) await cluster.kill9(t);
        log(`  ${t} stopped on the full disk (exit ${cluster.members[t]!.proc?.exitCode})`);
        disk.stops++;
        if (!/ENOSPC/.test(said)) disk.problems.push(`m${t} stopped during a full disk without naming ENOSPC:\n${said.slice(-3000)}`);
        cluster.launch(t);
      }
      break;
    }
    case 'one-way': {
      const to = await resolveTarget(cluster, clients, f.to, rng);
      let from = await resolveTarget(cluster, clients, f.from, rng);
      if (from === to) from = (to + 1) % size;
      log(`  ${to} stops hearing ${from}`);
      await net.dropFrom(to, from);
      await sleep(step.holdMs);
      await net.heal();
      break;
    }
  }
  await sleep(step.settleMs);
  return true;
}
