// Starting a member from its config: identity (new cluster, joining an existing one, or a
// restart where the data dir wins over the --initial-* flags, as in etcd), storage recovery,
// transport, runtime. main.ts calls startMember(); integration tests run main.ts itself.

import { readFile } from 'node:fs/promises';
import type { Counter, LabelValues } from 'prom-client';
import { join } from 'node:path';
import type { MemberConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { MemberMetrics } from '../server/metrics.js';
import { openStorage, ValueLog, nodeSyncFileOps } from '../storage/index.js';
import { createStorageMetrics, storageHooks } from '../storage/metrics.js';
import { createRuntimeMetrics, snapshotTransportHooks } from './metrics.js';
import { TcpTransport, type PeerTlsOptions } from '../transport/tcp-transport.js';
import { hexId, idFromJson } from './ids.js';
import { CounterTally } from '../server/counter-tally.js';
import { TlsFileReloader } from '../tls/tls-file-reloader.js';
import { tlsReloadMetrics } from '../tls/metrics.js';
import { newClusterIdentity, readIdentity, writeIdentity, type Identity } from './identity.js';
import { realScheduler } from './scheduler.js';
import { Member } from './member.js';
import { planForceNewCluster } from './force-new-cluster.js';
import { removeStaleSnapshotFiles } from './etcd-snapshot-stream.js';
import { memberRecordFromJson, type MemberRecord } from './membership.js';
import { MvccStateMachine } from './mvcc-adapter.js';

export class BootstrapError extends Error {
  readonly code = 'ErrBootstrap';
}

export interface StartMemberOptions {
  readonly config: MemberConfig;
  readonly logger: Logger;
  readonly metrics?: MemberMetrics;
  readonly onFatal?: (reason: string, err?: unknown) => void;
}

/** The peer certificate files, read now and re-read while the transport runs (rotation without restart). */
async function peerTls(cfg: MemberConfig, logger: Logger, metrics: MemberMetrics | undefined): Promise<{ tls: PeerTlsOptions; reloader: TlsFileReloader } | undefined> {
  const t = cfg.peerTls;
  if (t.certFile === '') return undefined;
  const reloader = await TlsFileReloader.open({
    name: 'peer',
    files: t,
    logger: logger.child('tls'),
    ...(metrics ? { metrics: tlsReloadMetrics(metrics.registry) } : {}),
  });
  return { tls: { ...reloader.current(), requestCert: t.clientCertAuth }, reloader };
}

/** A member's clusterInfo() (member.ts) as it arrives: ids as decimal strings. */
interface ClusterInfo {
  clusterId: bigint;
  members: MemberRecord[];
}

async function joinInfo(cfg: MemberConfig, tls: PeerTlsOptions | undefined, log: Logger): Promise<ClusterInfo> {
  const own = new Set(cfg.initialAdvertisePeerUrls);
  const urls = cfg.initialCluster.filter((m) => m.name !== cfg.name).flatMap((m) => m.peerUrls).filter((u) => !own.has(u));
  if (urls.length === 0) throw new BootstrapError('--initial-cluster-state=existing needs at least one other member in --initial-cluster');
  const deadline = Date.now() + 30_000;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const info = (await TcpTransport.fetchClusterInfo(urls, tls, 3000)) as { clusterId?: unknown; members?: unknown } | null;
      if (info && info.clusterId !== undefined && Array.isArray(info.members)) {
        return { clusterId: idFromJson(info.clusterId, 'cluster id'), members: (info.members as MemberRecord[]).map(memberRecordFromJson) };
      }
      lastErr = new Error('peer gave no cluster info');
    } catch (err) {
      lastErr = err;
    }
    log.warn('cannot reach the existing cluster yet; retrying', { urls, err: lastErr });
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new BootstrapError(`cannot fetch cluster info from ${urls.join(',')}: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
}

async function resolveIdentity(cfg: MemberConfig, tls: PeerTlsOptions | undefined, log: Logger): Promise<Identity> {
  const existing = await readIdentity(cfg.dataDir);
  if (existing) {
    log.info('found member data; the data dir wins over the --initial-cluster* flags', {
      dataDir: cfg.dataDir,
      memberId: hexId(existing.memberId),
      clusterId: hexId(existing.clusterId),
    });
    if (existing.name !== cfg.name) log.warn('--name differs from the name in the data dir; keeping the member id of the data dir', { flag: cfg.name, dataDir: existing.name });
    return existing;
  }
  let id: Identity;
  if (cfg.initialClusterState === 'new') {
    id = newClusterIdentity(cfg.name, cfg.initialCluster, cfg.initialClusterToken, (why) => new BootstrapError(why));
  } else {
    const info = await joinInfo(cfg, tls, log);
    const own = new Set(cfg.initialAdvertisePeerUrls);
    const self = info.members.find((m) => m.peerUrls.some((u) => own.has(u)));
    if (!self) {
      throw new BootstrapError(
        `this member's peer URLs (${cfg.initialAdvertisePeerUrls.join(',')}) are not in the cluster's member list; add it first with "etcdctl member add"`,
      );
    }
    refuseIfBootstrapped(self);
    id = {
      version: 1,
      name: cfg.name,
      memberId: self.id,
      clusterId: info.clusterId,
      initialMembers: [],
      joined: true,
      peerHints: info.members.map((m) => ({ id: m.id, peerUrls: m.peerUrls })),
    };
    log.info('joining an existing cluster', { clusterId: hexId(info.clusterId), memberId: hexId(self.id), members: info.members.length });
  }
  await writeIdentity(cfg.dataDir, id);
  return id;
}

/**
 * An empty data dir, but the cluster lists this member as a voter that already started (it has a name):
 * its data was wiped. Rejoining as that voter would vote with a lost log, and a quorum counting it could
 * elect a leader without committed entries (a Raft safety hole). So refuse, as etcd does; the operator
 * (or a human) removes it and adds it back as a new member. A learner does not vote: it may rejoin.
 */
export function refuseIfBootstrapped(self: MemberRecord): void {
  if (self.isLearner || self.name === '') return;
  const id = hexId(self.id);
  throw new BootstrapError(
    `member ${id} has already been bootstrapped, but its data dir is empty; it will not rejoin under its old ID: remove it (etcdctl member remove ${id}) and add it again`,
  );
}

export async function startMember(opts: StartMemberOptions): Promise<Member> {
  const { config: cfg, logger, metrics } = opts;
  const runtimeMetrics = metrics ? createRuntimeMetrics(metrics.registry) : undefined;
  const peer = await peerTls(cfg, logger, metrics);
  const tls = peer?.tls;
  const identity = await resolveIdentity(cfg, tls, logger);
  const log = logger.child('runtime', { member: hexId(identity.memberId) });
  await removeStaleSnapshotFiles(join(cfg.dataDir, 'member'));
  const retainSnapshots = 2;
  // The member the storage asks (syncHere); it exists once the storage has been opened.
  let self: Member | undefined;
  const storageOpts = {
    logger: logger.child('storage'),
    // The snapshot's data is restored from its file in chunks (streamed-snapshots.ts), never loaded whole.
    snapshotData: 'stream' as const,
    // Each snapshot file holds the whole state (etcd's .snap files hold only the membership, its
    // data lives in the one bbolt file), and the byte trigger (snapshot-policy.ts) writes one per
    // GiB or so: keep the newest and the one before (recovery falls back to it while the WAL still
    // covers it), not etcd's --max-snapshots 5, which at 8 GiB would be ~30 GiB of disk per member.
    retainSnapshots,
    // A segment is sparse until written: each new 4 KiB block a record lands on is allocated in
    // its fdatasync, which then writes the allocation too. Zeros written 256 KiB ahead of the
    // records allocate the blocks once per 256 KiB instead (measured: docs/benchmarks/member.md,
    // "Fifteenth stop").
    zeroAheadBytes: 256 * 1024,
    // A quiet follower's fdatasync runs on its own thread (storage.ts, maySyncHere): -9% CPU per
    // single-client put (docs/benchmarks/member.md, "Twenty-seventh stop").
    syncHere: () => self?.quietFollower() ?? false,
    ...(metrics ? { hooks: storageHooks(createStorageMetrics(metrics.registry)) } : {}),
  };
  let { storage, recovered } = await openStorage(join(cfg.dataDir, 'member'), storageOpts);
  if (cfg.forceNewCluster) {
    const plan = planForceNewCluster(recovered, identity.memberId, identity.initialMembers.map((m) => m.id));
    if (plan) {
      log.warn('--force-new-cluster: dropping every other member; this member alone holds the cluster now', {
        removed: plan.removed.map(hexId),
        commit: recovered.hardState.commit,
        droppedUncommitted: Math.max(0, (recovered.entries.at(-1)?.index ?? 0) - recovered.hardState.commit),
      });
      await storage.save(plan.hardState, plan.entries, true);
      await storage.close();
      ({ storage, recovered } = await openStorage(join(cfg.dataDir, 'member'), storageOpts));
    } else {
      log.info('--force-new-cluster: this member is already the only one');
    }
  }
  const member = new Member({
    id: identity.memberId,
    clusterId: identity.clusterId,
    name: cfg.name,
    clientUrls: cfg.advertiseClientUrls,
    peerUrls: cfg.initialAdvertisePeerUrls,
    clusterToken: cfg.initialClusterToken,
    heartbeatIntervalMs: cfg.heartbeatIntervalMs,
    electionTimeoutMs: cfg.electionTimeoutMs,
    snapshotCount: cfg.snapshotCount,
    snapshotCatchUpEntries: cfg.snapshotCatchUpEntries,
    snapshotLogBytes: cfg.snapshotLogBytes,
    snapshotCatchUpBytes: cfg.snapshotCatchUpBytes,
    progressNotifyIntervalMs: cfg.watchProgressNotifyIntervalMs,
    authTokenTtlMs: cfg.authTokenTtlSec * 1000,
    ...(cfg.authToken.kind === 'jwt'
      ? {
          authJwt: {
            signMethod: cfg.authToken.signMethod,
            publicKeyPem: await readFile(cfg.authToken.pubKeyFile, 'utf8'),
            ...(cfg.authToken.privKeyFile !== '' ? { privateKeyPem: await readFile(cfg.authToken.privKeyFile, 'utf8') } : {}),
            ttlMs: cfg.authToken.ttlMs,
          },
        }
      : {}),
    maxLearners: cfg.maxLearners,
    quotaBackendBytes: cfg.quotaBackendBytes,
    ...(cfg.autoCompactionRetentionMs > 0 || cfg.autoCompactionRetentionRevisions > 0
      ? {
          autoCompaction: {
            mode: cfg.autoCompactionMode,
            retentionMs: cfg.autoCompactionRetentionMs,
            retentionRevisions: cfg.autoCompactionRetentionRevisions,
          },
        }
      : {}),
    logger: log,
    ...(metrics && runtimeMetrics ? { metrics, runtimeMetrics } : {}),
    storage,
    recovered,
    initialMembers: identity.joined ? [] : identity.initialMembers,
    peerHints: identity.peerHints ?? [],
    stateMachine: new MvccStateMachine({
      // Values on disk, kept across restarts: our snapshot files name their offsets (value-log.ts).
      valueLog: ValueLog.open(nodeSyncFileOps, join(cfg.dataDir, 'member', 'vlog'), { keep: { retainSnapshots } }),
      quotaBackendBytes: cfg.quotaBackendBytes,
      // etcd: the minimum lease TTL is ceil(1.5 x election timeout).
      minLeaseTtlSec: Math.ceil((1.5 * cfg.electionTimeoutMs) / 1000),
    }),
    makeTransport: (handler) =>
      new TcpTransport({
        id: identity.memberId,
        clusterId: identity.clusterId,
        listenUrls: cfg.listenPeerUrls,
        handler,
        logger: logger.child('transport'),
        // Snapshots from the leader are spooled here, then copied into member/snap by the save.
        snapshotSpoolDir: join(cfg.dataDir, 'member', 'spool'),
        ...(peer ? { tls: peer.tls, tlsUpdates: peer.reloader } : {}),
        ...(metrics && runtimeMetrics
          ? {
              hooks: {
                sentBytes: peerTally(metrics.peerSentBytes, 'To'),
                receivedBytes: peerTally(metrics.peerReceivedBytes, 'From'),
                sendFailed: (to, m) => {
                  metrics.peerSentFailures.inc({ To: hexId(to) });
                  if (m.type === 'heartbeat') metrics.heartbeatSendFailures.inc();
                },
                roundTripSeconds: (to, s) => metrics.peerRoundTripTimeSeconds.observe({ To: hexId(to) }, s),
                ...snapshotTransportHooks(runtimeMetrics),
              },
            }
          : {}),
      }),
    seed: (Date.now() ^ Number(identity.memberId % 2n ** 31n)) % 2 ** 31,
    scheduler: realScheduler,
    ...(opts.onFatal ? { onFatal: opts.onFatal } : {}),
  });
  self = member;
  await member.start();
  return member;
}

/**
 * A per-peer byte counter that costs a Map lookup and an add per message, not a hex id and
 * prom-client's label hashing (285 vs 29 ns a call, measured; several calls per put on every member).
 */
function peerTally<L extends string>(counter: Counter<L>, label: L): (id: bigint, n: number) => void {
  const tallies = new Map<bigint, CounterTally<L>>();
  return (id, n) => {
    let t = tallies.get(id);
    if (!t) {
      t = new CounterTally(counter, { [label]: hexId(id) } as LabelValues<L>);
      tallies.set(id, t);
    }
    t.inc(n);
  };
}
