// The operator's configuration: flags (and TSETCD_OPERATOR_* env), parsed once into a frozen object.
// Nothing else in the operator reads process.env.

export interface OperatorConfig {
  /** Path to a kubeconfig; null: KUBECONFIG, then in-cluster, then ~/.kube/config. */
  kubeconfig: string | null;
  /** Namespaces to watch; empty: all. */
  namespaces: string[];
  metricsHost: string;
  metricsPort: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionID: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Image for member pods, overriding spec.image (e.g. a local build); null: the spec's. */
  memberImage: string | null;
  /** Command for member containers (e.g. /repo/bin/tsetcd for the local node agent). */
  memberCommand: string[];
  memberEndpointMode: 'pod-ip' | 'dns';
  learnerTimeoutMs: number;
  resyncMs: number;
  workers: number;
  requestTimeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Kind = 'string' | 'int' | 'bool';
const FLAGS: Record<string, { kind: Kind; env: string; help: string }> = {
  kubeconfig: { kind: 'string', env: 'KUBECONFIG', help: 'path to a kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)' },
  namespaces: { kind: 'string', env: 'TSETCD_OPERATOR_NAMESPACES', help: 'comma-separated namespaces to watch (default: all)' },
  'metrics-addr': { kind: 'string', env: 'TSETCD_OPERATOR_METRICS_ADDR', help: 'host:port for /metrics, /healthz, /readyz (default 0.0.0.0:8080)' },
  'leader-elect': { kind: 'bool', env: 'TSETCD_OPERATOR_LEADER_ELECT', help: 'use a Lease so only one replica acts (default true)' },
  'leader-election-namespace': { kind: 'string', env: 'TSETCD_OPERATOR_LEADER_ELECTION_NAMESPACE', help: 'namespace of the Lease (default: $POD_NAMESPACE or default)' },
  'leader-election-id': { kind: 'string', env: 'TSETCD_OPERATOR_LEADER_ELECTION_ID', help: 'name of the Lease (default tsetcd-operator)' },
  identity: { kind: 'string', env: 'TSETCD_OPERATOR_IDENTITY', help: 'holder identity (default: $POD_NAME or host-pid)' },
  'lease-duration-ms': { kind: 'int', env: 'TSETCD_OPERATOR_LEASE_DURATION_MS', help: 'default 15000' },
  'renew-deadline-ms': { kind: 'int', env: 'TSETCD_OPERATOR_RENEW_DEADLINE_MS', help: 'default 10000' },
  'retry-period-ms': { kind: 'int', env: 'TSETCD_OPERATOR_RETRY_PERIOD_MS', help: 'default 2000' },
  'member-image': { kind: 'string', env: 'TSETCD_OPERATOR_MEMBER_IMAGE', help: 'override the member image' },
  'member-command': { kind: 'string', env: 'TSETCD_OPERATOR_MEMBER_COMMAND', help: 'member command, space-separated (default "tsetcd"; "" = image entrypoint)' },
  'member-endpoint-mode': { kind: 'string', env: 'TSETCD_OPERATOR_MEMBER_ENDPOINT_MODE', help: 'pod-ip or dns (default pod-ip)' },
  'learner-timeout-ms': { kind: 'int', env: 'TSETCD_OPERATOR_LEARNER_TIMEOUT_MS', help: 'a learner not caught up by then is removed (default 300000)' },
  'resync-ms': { kind: 'int', env: 'TSETCD_OPERATOR_RESYNC_MS', help: 'periodic resync (default 30000)' },
  workers: { kind: 'int', env: 'TSETCD_OPERATOR_WORKERS', help: 'concurrent reconciles (default 2)' },
  'request-timeout-ms': { kind: 'int', env: 'TSETCD_OPERATOR_REQUEST_TIMEOUT_MS', help: 'member API request timeout (default 5000)' },
  'log-level': { kind: 'string', env: 'TSETCD_OPERATOR_LOG_LEVEL', help: 'debug, info, warn, error (default info)' },
};

export function usage(): string {
  return Object.entries(FLAGS)
    .map(([f, d]) => `  --${f}${d.kind === 'bool' ? '[=true|false]' : '=...'}\t${d.help} [$${d.env}]`)
    .join('\n');
}

/** Parses flags, then env for anything the flags did not set. Throws ConfigError with a clear message. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, hostname = 'operator'): Readonly<OperatorConfig> {
  const raw = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m || m[1] === undefined) throw new ConfigError(`unexpected argument "${arg}" (flags look like --name=value)`);
    const def = FLAGS[m[1]];
    if (def === undefined) throw new ConfigError(`unknown flag --${m[1]}\n${usage()}`);
    if (m[2] === undefined && def.kind !== 'bool') throw new ConfigError(`flag --${m[1]} needs a value (--${m[1]}=...)`);
    raw.set(m[1], m[2] ?? 'true');
  }
  for (const [flag, def] of Object.entries(FLAGS)) {
    const v = env[def.env];
    if (!raw.has(flag) && v !== undefined && v !== '') raw.set(flag, v);
  }
  const str = (f: string, d: string): string => raw.get(f) ?? d;
  const int = (f: string, d: number, min: number): number => {
    const v = raw.get(f);
    if (v === undefined) return d;
    if (!/^[0-9]+$/.test(v)) throw new ConfigError(`--${f} must be a whole number, got "${v}"`);
    const n = Number(v);
    if (n < min) throw new ConfigError(`--${f} must be at least ${min}, got ${n}`);
    return n;
  };
  const bool = (f: string, d: boolean): boolean => {
    const v = raw.get(f);
    if (v === undefined) return d;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new ConfigError(`--${f} must be true or false, got "${v}"`);
  };

  const addr = str('metrics-addr', '0.0.0.0:8080');
  const am = /^(.*):([0-9]+)$/.exec(addr);
  if (!am || am[1] === undefined || am[2] === undefined || Number(am[2]) > 65535) throw new ConfigError(`--metrics-addr must be host:port, got "${addr}"`);
  const mode = str('member-endpoint-mode', 'pod-ip');
  if (mode !== 'pod-ip' && mode !== 'dns') throw new ConfigError(`--member-endpoint-mode must be pod-ip or dns, got "${mode}"`);
  const level = str('log-level', 'info');
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') throw new ConfigError(`--log-level must be debug, info, warn or error, got "${level}"`);
  const cfg: OperatorConfig = {
    kubeconfig: raw.get('kubeconfig') ?? null,
    namespaces: str('namespaces', '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    metricsHost: am[1].replace(/^\[(.*)\]$/, '$1'),
    metricsPort: Number(am[2]),
    leaderElect: bool('leader-elect', true),
    leaderElectionNamespace: str('leader-election-namespace', env.POD_NAMESPACE ?? 'default'),
    leaderElectionID: str('leader-election-id', 'tsetcd-operator'),
    identity: str('identity', env.POD_NAME ?? `${hostname}-${env.PID ?? '0'}`),
    leaseDurationMs: int('lease-duration-ms', 15_000, 1000),
    renewDeadlineMs: int('renew-deadline-ms', 10_000, 500),
    retryPeriodMs: int('retry-period-ms', 2_000, 100),
    memberImage: raw.get('member-image') ?? null,
    memberCommand: str('member-command', 'tsetcd').split(/\s+/).filter((s) => s !== ''),
    memberEndpointMode: mode,
    learnerTimeoutMs: int('learner-timeout-ms', 300_000, 1000),
    resyncMs: int('resync-ms', 30_000, 1000),
    workers: int('workers', 2, 1),
    requestTimeoutMs: int('request-timeout-ms', 5_000, 100),
    logLevel: level,
  };
  if (cfg.renewDeadlineMs >= cfg.leaseDurationMs) throw new ConfigError('--renew-deadline-ms must be below --lease-duration-ms');
  if (cfg.retryPeriodMs >= cfg.renewDeadlineMs) throw new ConfigError('--retry-period-ms must be below --renew-deadline-ms');
  return Object.freeze(cfg);
}
