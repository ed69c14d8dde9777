// Helpers of the e2e suite: kubectl, bounded waits, the operator as a local process with a
// least-privilege ServiceAccount token, etcdctl through the cluster's names.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, openSync, closeSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const cpDir = join(repoRoot, '.data/cp');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(file, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** kubectl at the control plane's version (hack/control-plane/build.sh) when built, else the machine's. */
export const kubectlBin = ((): string => {
  const version = readFileSync(join(repoRoot, 'hack/control-plane/k8s/VERSION'), 'utf8').trim();
  const built = join(repoRoot, '.cache/k8s', version, 'kubectl');
  return existsSync(built) ? built : 'kubectl';
})();

export class Kubectl {
  constructor(readonly kubeconfig: string) {}

  run(args: string[], input?: string): Promise<RunResult> {
    return run(kubectlBin, args, { env: { ...process.env, KUBECONFIG: this.kubeconfig }, ...(input !== undefined ? { input } : {}) });
  }

  async ok(args: string[], input?: string): Promise<string> {
    const r = await this.run(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  async json<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.ok([...args, '-o', 'json'])) as T;
  }

  apply(doc: unknown, extra: string[] = []): Promise<RunResult> {
    return this.run(['apply', '-f', '-', ...extra], typeof doc === 'string' ? doc : JSON.stringify(doc));
  }
}

/** Polls fn until it returns a value other than undefined/false, or throws after timeoutMs. */
export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** etcdctl run on the host with the cluster's names resolvable (hack/node-agent/with-cluster-dns.sh). */
export function etcdctl(endpoints: string, args: string[], input?: string): Promise<RunResult> {
  return run('bash', [join(repoRoot, 'hack/node-agent/with-cluster-dns.sh'), 'etcdctl', `--endpoints=${endpoints}`, '--command-timeout=10s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    ...(input !== undefined ? { input } : {}),
  });
}

/**
 * An EtcdCluster spec for the local control plane's e2e files: Guaranteed resources, members only
 * on the nodes labelled and tainted dedicated=etcd, one per node. `extra` adds or overrides fields.
 */
export function memberSpec(o: { cpu: string; memory: string; retentionPolicy: 'Retain' | 'Delete'; replicas?: number; extra?: Record<string, unknown> }): Record<string, unknown> {
  return {
    replicas: o.replicas ?? 3,
    storage: { size: '1Gi', retentionPolicy: o.retentionPolicy },
    resources: { requests: { cpu: o.cpu, memory: o.memory }, limits: { cpu: o.cpu, memory: o.memory } },
    placement: {
      dedicated: { nodeSelector: { dedicated: 'etcd' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'etcd', effect: 'NoSchedule' }] },
      antiAffinity: 'required',
    },
    ...(o.extra ?? {}),
  };
}

/** Both CRDs (EtcdCluster, EtcdBackup), established: the operator watches both. */
export async function applyCrds(k: Kubectl): Promise<void> {
  await k.ok(['apply', '--server-side', '-f', join(repoRoot, 'crds/tsetcd.dev_etcdclusters.yaml'), '-f', join(repoRoot, 'crds/tsetcd.dev_etcdbackups.yaml')]);
  // Retried: on a CRD created a moment ago, kubectl wait fails at once while status.conditions is still null.
  await waitFor('the CRDs to be Established', 60_000, async () =>
    (await k.run(['wait', '--for=condition=Established', '--timeout=30s', 'crd/etcdclusters.tsetcd.dev', 'crd/etcdbackups.tsetcd.dev'])).code === 0, 500);
}

/**
 * Placement on the kubelet node of the local control plane (CP_NODE=kubelet): it is labelled and
 * tainted tsetcd.dev/node-type=kubelet; one node, so anti-affinity is only preferred.
 */
export const kubeletPlacement = {
  dedicated: { nodeSelector: { 'tsetcd.dev/node-type': 'kubelet' }, tolerations: [{ key: 'tsetcd.dev/node-type', operator: 'Equal', value: 'kubelet', effect: 'NoSchedule' }] },
  antiAffinity: 'preferred',
};

/**
 * The set-up of an e2e file that runs its own operator (local control plane): the CRD, the chart's
 * RBAC, the operator process (ready), and the file's namespace. beforeStart sees the process first.
 */
export async function startLocalOperator(k: Kubectl, namespace: string, beforeStart: (op: OperatorProcess) => void = () => {}): Promise<OperatorProcess> {
  await applyCrds(k);
  const op = new OperatorProcess(await installOperatorRbac(k), await freePort());
  beforeStart(op);
  op.start();
  await waitFor('the operator to serve /readyz', 60_000, async () => (await fetch(op.metricsUrl.replace('/metrics', '/readyz'))).ok);
  await k.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  return op;
}

export interface ClientTlsFiles {
  /** etcdctl flags: --cacert, --cert, --key. */
  readonly flags: string[];
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * A TLS cluster's client material, as any client would get it: the operator-issued client Secret
 * (`<name>-operator-client-tls`: ca.crt, tls.crt, tls.key), written to files for etcdctl. Waits for
 * the Secret (the operator creates it on its first pass).
 */
export async function clientTls(k: Kubectl, namespace: string, name: string, secret = `${name}-operator-client-tls`): Promise<ClientTlsFiles> {
  const data = await waitFor(`Secret ${namespace}/${secret}`, 120_000, async () => {
    const r = await k.run(['get', 'secret', secret, '-n', namespace, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as { data: Record<string, string> }).data : undefined;
  });
  const dir = join(repoRoot, '.data', 'e2e-tls', `${namespace}-${secret}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const file = (k2: string): { path: string; buf: Buffer } => {
    const buf = Buffer.from(data[k2] ?? '', 'base64');
    const path = join(dir, k2);
    writeFileSync(path, buf);
    return { path, buf };
  };
  const ca = file('ca.crt');
  const cert = file('tls.crt');
  const key = file('tls.key');
  return { flags: [`--cacert=${ca.path}`, `--cert=${cert.path}`, `--key=${key.path}`], ca: ca.buf, cert: cert.buf, key: key.buf };
}

/**
 * `kubectl port-forward` to a Service, for clusters whose Pod addresses the test process cannot
 * reach (kind). The local control plane does not need it (Pods sit on a host bridge) and cannot
 * serve it (the node agent has no streaming API).
 */
export async function portForward(kubeconfig: string, namespace: string, target: string, remotePort: number): Promise<{ port: number; stop: () => void }> {
  const port = await freePort();
  const child = spawn(kubectlBin, ['port-forward', '-n', namespace, target, `${port}:${remotePort}`], { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  await waitFor(`port-forward to ${target}`, 30_000, async () => {
    if (child.exitCode !== null) throw new Error(`kubectl port-forward exited: ${out}`);
    return out.includes('Forwarding from') ? true : undefined;
  }, 200);
  return { port, stop: () => { child.kill('SIGTERM'); } };
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

export interface OperatorInstall {
  namespace: string;
  serviceAccount: string;
  kubeconfig: string;
}

/**
 * Installs the operator's RBAC exactly as the Helm chart renders it (ServiceAccount, roles and
 * bindings; not the Deployment), then writes a kubeconfig holding a token of that
 * ServiceAccount, so the operator runs with least privilege and RBAC gaps show up.
 */
export async function installOperatorRbac(k: Kubectl, namespace = 'tsetcd-system'): Promise<OperatorInstall> {
  const helm = join(repoRoot, '.cache/bin/helm');
  if (!existsSync(helm)) {
    const r = await run('bash', [join(repoRoot, 'hack/ensure-helm.sh')], { timeoutMs: 1_800_000 });
    if (r.code !== 0) throw new Error(`hack/ensure-helm.sh failed: ${r.stderr}`);
  }
  const rendered = await run(helm, ['template', 'tsetcd-operator', join(repoRoot, 'charts/tsetcd-operator'), '--namespace', namespace]);
  if (rendered.code !== 0) throw new Error(`helm template failed: ${rendered.stderr}`);
  const wanted = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  const docs = yaml.loadAll(rendered.stdout).filter((d): d is { kind: string; metadata: { name: string } } =>
    typeof d === 'object' && d !== null && wanted.has((d as { kind?: string }).kind ?? ''));
  const sa = docs.find((d) => d.kind === 'ServiceAccount');
  if (!sa) throw new Error('the chart renders no ServiceAccount');
  await k.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  const applied = await k.apply({ apiVersion: 'v1', kind: 'List', items: docs }, ['-n', namespace]);
  if (applied.code !== 0) throw new Error(`applying RBAC failed: ${applied.stderr}`);
  const token = (await k.ok(['create', 'token', sa.metadata.name, '-n', namespace, '--duration=6h'])).trim();
  const admin = yaml.load(readFileSync(k.kubeconfig, 'utf8')) as { clusters: Array<{ cluster: Record<string, string> }> };
  const cluster = admin.clusters[0]?.cluster ?? {};
  const kubeconfig = join(cpDir, 'operator.kubeconfig');
  mkdirSync(cpDir, { recursive: true });
  writeFileSync(kubeconfig, yaml.dump({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'local', cluster }],
    users: [{ name: 'tsetcd-operator', user: { token } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: 'tsetcd-operator', namespace } }],
    'current-context': 'local',
  }), { mode: 0o600 });
  return { namespace, serviceAccount: sa.metadata.name, kubeconfig };
}

/**
 * The operator (operator/main.ts) as a local process, as the chart's Deployment would run it: one that
 * exits on its own (e.g. it lost its Lease while the storage stalled on a busy machine) is started
 * again, as the Deployment's restartPolicy Always would, at most MAX_RESTARTS times.
 */
export class OperatorProcess {
  static readonly MAX_RESTARTS = 10;
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Times the operator exited on its own and was started again. */
  private restarts = 0;
  readonly logPath: string;

  constructor(private readonly install: OperatorInstall, readonly metricsPort: number, private readonly extraArgs: string[] = []) {
    this.logPath = join(cpDir, 'logs', 'operator.log');
  }

  get metricsUrl(): string {
    return `http://127.0.0.1:${this.metricsPort}/metrics`;
  }

  start(): void {
    mkdirSync(join(cpDir, 'logs'), { recursive: true });
    const fd = openSync(this.logPath, 'a');
    this.child = spawn(process.execPath, [
      '--import', 'tsx', join(repoRoot, 'operator/main.ts'),
      `--kubeconfig=${this.install.kubeconfig}`,
      `--metrics-addr=127.0.0.1:${this.metricsPort}`,
      `--leader-election-namespace=${this.install.namespace}`,
      '--lease-duration-ms=4000', '--renew-deadline-ms=3000', '--retry-period-ms=1000',
      '--resync-ms=5000',
      ...this.extraArgs,
    ], { cwd: repoRoot, stdio: ['ignore', fd, fd], env: { ...process.env, POD_NAMESPACE: this.install.namespace } });
    closeSync(fd);
    const child = this.child;
    child.once('exit', (code, signal) => {
      if (this.stopping || this.child !== child || this.restarts >= OperatorProcess.MAX_RESTARTS) return;
      this.restarts++;
      appendFileSync(this.logPath, `[e2e harness] the operator exited on its own (${signal ?? `code ${code}`}); started again as its Deployment would (restart ${this.restarts})\n`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopping && this.child === child) this.start();
      }, 1000);
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops the operator: SIGTERM (clean) or SIGKILL (a crash). Returns its exit code (null: killed by a signal). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<number | null> {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child || !this.running) {
      this.child = undefined;
      return null;
    }
    this.stopping = true;
    try {
      return await new Promise<number | null>((res) => {
        child.once('exit', (c) => res(c));
        child.kill(signal);
        setTimeout(() => { if (this.running) child.kill('SIGKILL'); }, 10_000).unref();
      });
    } finally {
      this.child = undefined;
      this.stopping = false;
    }
  }

  logTail(lines = 40): string {
    if (!existsSync(this.logPath)) return '';
    return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
  }
}
