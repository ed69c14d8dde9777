// Starts the whole operator in-process: metrics server, leader election, informers, controller.
// main.ts calls it; e2e tests call it too (startOperator(parseConfig([...], env))).
import { hostname, tmpdir } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { createLogger, type Logger } from '../node/log.js';
import type { OperatorConfig } from './config.js';
import { realClock, type Clock } from './controller/clock.js';
import { Controller } from './controller/controller.js';
import { EtcdBackupReconciler } from './controller/etcd-backup-reconciler.js';
import { EtcdBackupMetrics } from './etcd-backup-metrics.js';
import { startInformers } from './controller/informers.js';
import { LeaderElector } from './controller/leader-election.js';
import { RealKubeApi } from './controller/real-kube-api.js';
import { RealLeaseApi } from './controller/real-lease-api.js';
import { Reconciler } from './controller/reconciler.js';
import { DEFAULT_QUEUE_OPTIONS, WorkQueue } from './controller/work-queue.js';
import { memberApiFactory } from './members/member-api-factory.js';
import type { MemberApi } from './members/member-api.js';
import { OperatorMetrics, serveMetrics } from './metrics.js';

export interface RunningOperator {
  /** Where /metrics is served (port resolved when 0 was asked). */
  metricsURL: string;
  metrics: OperatorMetrics;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export interface StartOverrides {
  kubeConfig?: k8s.KubeConfig;
  members?: MemberApi;
  log?: Logger;
  clock?: Clock;
  /** Called when this replica loses its Lease (main exits, so a fresh process re-joins the election). */
  onLostLeadership?: () => void;
}

export function loadKubeConfig(cfg: OperatorConfig): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (cfg.kubeconfig !== null) kc.loadFromFile(cfg.kubeconfig);
  else kc.loadFromDefault();
  return kc;
}

/** Reads etcd_server_heartbeat_send_failures_total from a member's /metrics. */
export async function scrapeHeartbeatFailures(url: string): Promise<number | null> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) return null;
  const text = await res.text();
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^etcd_server_heartbeat_send_failures_total(?:\{[^}]*\})?\s+([0-9.eE+-]+)/.exec(line);
    if (m && m[1] !== undefined) {
      total += Number(m[1]);
      found = true;
    }
  }
  return found ? total : null;
}

export async function startOperator(cfg: OperatorConfig, o: StartOverrides = {}): Promise<RunningOperator> {
  const log = o.log ?? createLogger({ component: 'tsetcd-operator', level: cfg.logLevel });
  const clock = o.clock ?? realClock;
  const kc = o.kubeConfig ?? loadKubeConfig(cfg);
  const metrics = new OperatorMetrics();
  const kube = new RealKubeApi(kc);
  const queue = new WorkQueue(clock, DEFAULT_QUEUE_OPTIONS);
  const memberApis = memberApiFactory({ requestTimeoutMs: cfg.requestTimeoutMs, endpointMode: cfg.memberEndpointMode });
  const reconciler = new Reconciler({
    kube,
    members: o.members ?? memberApis.plain,
    clock,
    log: log.child('reconciler'),
    metrics,
    memberConfig: { imageOverride: cfg.memberImage, command: cfg.memberCommand },
    learnerTimeoutMs: cfg.learnerTimeoutMs,
    endpointMode: cfg.memberEndpointMode,
    scrapeHeartbeatFailures,
    memberApiFor: (tls, credentials) => memberApis.client(tls, credentials),
    // Snapshots wait here between the member's stream and the upload (the chart mounts an emptyDir).
    backups: { tmpDir: tmpdir() },
  });
  // EtcdBackups: their own queue and one worker (a backup streams a whole snapshot; clusters keep theirs).
  const backupQueue = new WorkQueue(clock, DEFAULT_QUEUE_OPTIONS);
  const backupReconciler = new EtcdBackupReconciler({
    kube,
    members: o.members ?? memberApis.plain,
    memberApiFor: (tls, credentials) => memberApis.client(tls, credentials),
    clock,
    log: log.child('etcd-backup'),
    endpointMode: cfg.memberEndpointMode,
    backups: { tmpDir: tmpdir() },
    metrics: new EtcdBackupMetrics(metrics.registry),
  });
  const informers = startInformers(kc, cfg.namespaces, (k) => queue.add(k), log.child('informers'), clock, (k) => backupQueue.add(k));
  const clusterController = new Controller(reconciler, queue, clock, log.child('controller'), metrics, { workers: cfg.workers, resyncMs: cfg.resyncMs }, () => informers.clusterKeys());
  const backupController = new Controller(backupReconciler, backupQueue, clock, log.child('backup-controller'), null, { workers: 1, resyncMs: cfg.resyncMs }, () => informers.backupKeys());
  const controller = {
    start: (): void => { clusterController.start(); backupController.start(); },
    stop: async (): Promise<void> => { await Promise.all([clusterController.stop(), backupController.stop()]); },
  };

  let leading = false;
  let informersStarted = false;
  /** A clean stop releases the Lease on purpose: that is not "lost leadership". */
  let stopping = false;
  const server = await serveMetrics(metrics, { host: cfg.metricsHost, port: cfg.metricsPort, ready: () => informersStarted && informers.synced() });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : cfg.metricsPort;
  const metricsURL = `http://${cfg.metricsHost === '0.0.0.0' ? '127.0.0.1' : cfg.metricsHost}:${port}/metrics`;

  await informers.start();
  informersStarted = true;
  log.info('informers synced', { namespaces: cfg.namespaces.length === 0 ? 'all' : cfg.namespaces });

  const elector = cfg.leaderElect
    ? new LeaderElector(
        new RealLeaseApi(kc, cfg.leaderElectionNamespace, cfg.leaderElectionID),
        clock,
        { identity: cfg.identity || `${hostname()}`, leaseDurationMs: cfg.leaseDurationMs, renewDeadlineMs: cfg.renewDeadlineMs, retryPeriodMs: cfg.retryPeriodMs },
        log.child('leader-election'),
        {
          onStartedLeading: () => {
            leading = true;
            metrics.isLeader.set(1);
            controller.start();
          },
          onStoppedLeading: () => {
            leading = false;
            metrics.isLeader.set(0);
            // Like controller-runtime: a replica that lost its Lease stops acting at once.
            void controller.stop();
            if (!stopping) o.onLostLeadership?.();
          },
        },
      )
    : null;
  if (elector === null) {
    leading = true;
    metrics.isLeader.set(1);
    controller.start();
  } else {
    elector.start();
  }

  return {
    metricsURL,
    metrics,
    isLeader: () => leading,
    async stop() {
      stopping = true;
      await elector?.stop();
      await controller.stop();
      await informers.stop();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export { parseConfig } from './config.js';
