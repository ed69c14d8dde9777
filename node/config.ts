// The member's configuration: etcd's flags and their ETCD_* environment twins, parsed once
// into a frozen, validated object. Nothing else in the member reads process.env.
//
// Rules, as in etcd (server/etcdmain/config.go):
// - a flag is `--name value`, `--name=value`, or with a single dash; booleans are `--flag`
//   or `--flag=true|false` (Go's flag package does not take `--flag true`);
// - every flag has an env twin: ETCD_ + upper snake case (`--data-dir` -> ETCD_DATA_DIR);
//   a flag on the command line wins over its env twin;
// - an unknown flag, a flag without its value, or a malformed value is an error naming the
//   flag (main exits 2); an unknown ETCD_* variable is only a warning, as etcd does.
// Defaults follow etcd 3.5 (the series our Status.Version reports), except snapshot-count 10000,
// etcd 3.6's (3.5: 100000): a local snapshot names value-log offsets and costs the index, not the
// data, so the count bounds raft's in-memory log as in etcd 3.6 (docs/design-notes.md); heartbeat 100 ms, election 1000 ms (>= 5x heartbeat, <= 50 s),
// quota 2 GiB (above 8 GiB is a warning), max request 1.5 MiB, max txn ops 128.

import { DEFAULT_GRPC_SERVER, isGrpcServerKind } from './server/lean-grpc/kind.js';
import type { GrpcServerKind } from './server/lean-grpc/kind.js';
import type { LogLevel } from './log.js';
import { isLogLevel } from './log.js';
import { DEFAULT_SNAPSHOT_CATCH_UP_BYTES, DEFAULT_SNAPSHOT_LOG_BYTES } from './runtime/snapshot-policy.js';

export class ConfigError extends Error {
  readonly code = 'ErrConfig';
}

export interface InitialMember {
  readonly name: string;
  readonly peerUrls: readonly string[];
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile: string;
  readonly clientCertAuth: boolean;
}

export type AutoCompactionMode = 'periodic' | 'revision';
export type InitialClusterState = 'new' | 'existing';

export interface MemberConfig {
  readonly name: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly listenMetricsUrls: readonly string[];
  readonly initialCluster: readonly InitialMember[];
  readonly initialClusterState: InitialClusterState;
  readonly initialClusterToken: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotCount: number;
  /** Entries kept in memory behind a snapshot for slow followers (etcd 3.5: --experimental-snapshot-catchup-entries, 5000). */
  readonly snapshotCatchUpEntries: number;
  /** Ceiling of the snapshot's byte trigger (ours: runtime/snapshot-policy.ts; default 1 GiB). */
  readonly snapshotLogBytes: number;
  /** Payload bytes kept in memory behind a snapshot for slow followers (ours; default 128 MiB). */
  readonly snapshotCatchUpBytes: number;
  /** etcd's --experimental-watch-progress-notify-interval (default 10 min). */
  readonly watchProgressNotifyIntervalMs: number;
  readonly quotaBackendBytes: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly maxLearners: number;
  /** --auth-token: 'simple' (etcd's default) or jwt with its options (keys are file paths). */
  readonly authToken: { readonly kind: 'simple' } | { readonly kind: 'jwt'; readonly pubKeyFile: string; readonly privKeyFile: string; readonly signMethod: string; readonly ttlMs: number };
  /** --auth-token-ttl in seconds (simple tokens). */
  readonly authTokenTtlSec: number;
  /** --bcrypt-cost for user passwords. */
  readonly bcryptCost: number;
  readonly autoCompactionMode: AutoCompactionMode;
  /** The raw retention string as given ("0" = off). */
  readonly autoCompactionRetention: string;
  /** periodic mode: the retention window in ms (0 = off); revision mode: 0. */
  readonly autoCompactionRetentionMs: number;
  /** revision mode: keep this many revisions (0 = off); periodic mode: 0. */
  readonly autoCompactionRetentionRevisions: number;
  readonly clientTls: TlsFiles;
  readonly peerTls: TlsFiles;
  readonly logLevel: LogLevel;
  /** --force-new-cluster: drop every other member at start (bootstrap.ts, force-new-cluster.ts). */
  readonly forceNewCluster: boolean;
  /** --cors: origins the client URLs answer with CORS headers ('*': any). */
  readonly corsOrigins: readonly string[];
  /** etcd's --metrics: 'extensive' adds the per-call grpc_server_handling_seconds histogram. */
  readonly metrics: string;
  /** --experimental-grpc-server: lean-grpc/kind.ts. */
  readonly grpcServer: GrpcServerKind;
  /** Accepted for compatibility with etcd manifests, but without effect here; main logs them. */
  readonly ignoredFlags: readonly string[];
  /** Non-fatal findings (unknown ETCD_* variables, shadowed env, quota above 8 GiB); main logs them. */
  readonly warnings: readonly string[];
}

export type ParseResult =
  | { readonly kind: 'run'; readonly config: MemberConfig }
  | { readonly kind: 'version' }
  | { readonly kind: 'help'; readonly text: string };

export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;
export const MAX_QUOTA_BACKEND_BYTES = 8 * 1024 * 1024 * 1024;
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
const MAX_ELECTION_TIMEOUT_MS = 50_000;

type Kind = 'string' | 'int' | 'bool' | 'urls' | 'string-ignored' | 'bool-ignored';

interface FlagSpec {
  readonly name: string;
  readonly kind: Kind;
  readonly help: string;
  readonly defaultText?: string;
}

const FLAGS: readonly FlagSpec[] = [
  { name: 'name', kind: 'string', help: 'Human-readable name for this member.', defaultText: 'default' },
  { name: 'data-dir', kind: 'string', help: 'Path to the data directory.', defaultText: '${name}.etcd' },
  { name: 'listen-client-urls', kind: 'urls', help: 'URLs to listen on for client traffic.', defaultText: 'http://localhost:2379' },
  { name: 'advertise-client-urls', kind: 'urls', help: "This member's client URLs to advertise.", defaultText: 'http://localhost:2379' },
  { name: 'listen-peer-urls', kind: 'urls', help: 'URLs to listen on for peer traffic.', defaultText: 'http://localhost:2380' },
  { name: 'initial-advertise-peer-urls', kind: 'urls', help: "This member's peer URLs to advertise.", defaultText: 'http://localhost:2380' },
  { name: 'listen-metrics-urls', kind: 'urls', help: 'Extra URLs serving /metrics and /health.', defaultText: '' },
  { name: 'metrics', kind: 'string', help: "Set level of detail for exported metrics, specify 'extensive' to include server side grpc histogram metrics.", defaultText: 'basic' },
  { name: 'initial-cluster', kind: 'string', help: 'Initial cluster: name=peerURL,name=peerURL,...', defaultText: '${name}=<initial-advertise-peer-urls>' },
  { name: 'initial-cluster-state', kind: 'string', help: "Initial cluster state ('new' or 'existing').", defaultText: 'new' },
  { name: 'initial-cluster-token', kind: 'string', help: 'Initial cluster token, part of the cluster id.', defaultText: 'etcd-cluster' },
  { name: 'heartbeat-interval', kind: 'int', help: 'Time (in milliseconds) of a heartbeat interval.', defaultText: '100' },
  { name: 'election-timeout', kind: 'int', help: 'Time (in milliseconds) for an election to timeout.', defaultText: '1000' },
  { name: 'snapshot-count', kind: 'int', help: 'Number of committed entries to trigger a snapshot.', defaultText: '10000' },
  { name: 'experimental-snapshot-catchup-entries', kind: 'int', help: 'Entries kept behind a snapshot for slow followers to catch up.', defaultText: '5000' },
  {
    name: 'experimental-snapshot-log-bytes',
    kind: 'int',
    help: 'Most bytes of entries applied since the last snapshot before the next (below it, half the data size, at least 64 MiB, triggers one).',
    defaultText: String(DEFAULT_SNAPSHOT_LOG_BYTES),
  },
  { name: 'experimental-snapshot-catchup-bytes', kind: 'int', help: 'Most bytes of entries kept behind a snapshot for slow followers to catch up.', defaultText: String(DEFAULT_SNAPSHOT_CATCH_UP_BYTES) },
  { name: 'quota-backend-bytes', kind: 'int', help: 'Raise alarms when the backend size exceeds this quota (0 = default).', defaultText: '0 (2 GiB)' },
  { name: 'max-request-bytes', kind: 'int', help: 'Maximum client request size in bytes.', defaultText: '1572864' },
  { name: 'max-txn-ops', kind: 'int', help: 'Maximum number of operations per txn.', defaultText: '128' },
  { name: 'max-learners', kind: 'int', help: 'Maximum number of learners in the cluster.', defaultText: '1' },
  { name: 'auth-token', kind: 'string', help: "'simple', or 'jwt,pub-key=<file>,priv-key=<file>,sign-method=<RS256|PS256|ES256|...>,ttl=<duration>'.", defaultText: 'simple' },
  { name: 'auth-token-ttl', kind: 'int', help: 'Time (in seconds) a simple token lives after its last use.', defaultText: '300' },
  { name: 'bcrypt-cost', kind: 'int', help: 'Cost of the bcrypt hash of user passwords (4 to 31).', defaultText: '10' },
  { name: 'auto-compaction-mode', kind: 'string', help: "'periodic' or 'revision'.", defaultText: 'periodic' },
  { name: 'auto-compaction-retention', kind: 'string', help: 'periodic: hours or a duration (5m); revision: a count. 0 = off.', defaultText: '0' },
  { name: 'cert-file', kind: 'string', help: 'Client server TLS cert file.' },
  { name: 'key-file', kind: 'string', help: 'Client server TLS key file.' },
  { name: 'trusted-ca-file', kind: 'string', help: 'Client server TLS trusted CA file.' },
  { name: 'client-cert-auth', kind: 'bool', help: 'Require client certificates signed by the trusted CA.', defaultText: 'false' },
  { name: 'peer-cert-file', kind: 'string', help: 'Peer server TLS cert file.' },
  { name: 'peer-key-file', kind: 'string', help: 'Peer server TLS key file.' },
  { name: 'peer-trusted-ca-file', kind: 'string', help: 'Peer server TLS trusted CA file.' },
  { name: 'peer-client-cert-auth', kind: 'bool', help: 'Require peer client certificates signed by the peer CA.', defaultText: 'false' },
  { name: 'log-level', kind: 'string', help: 'debug, info, warn or error.', defaultText: 'info' },
  { name: 'force-new-cluster', kind: 'bool', help: "Recover from this member's data as a new one-member cluster (quorum lost for good; see docs/operator.md).", defaultText: 'false' },
  // Every pod of a StatefulSet shares one template: the operator names the one member to force through an
  // optional ConfigMap key (ETCD_FORCE_NEW_CLUSTER_FOR), and only the member of that --name acts on it.
  { name: 'force-new-cluster-for', kind: 'string', help: 'Act as --force-new-cluster when this equals --name (tsetcd only; the operator sets it through the env).', defaultText: '' },
  { name: 'cors', kind: 'string', help: 'Comma-separated origins allowed for CORS on the client URLs (empty or * allows all).', defaultText: '*' },
  // Accepted so that manifests written for etcd (kubeadm, operators) start unchanged; no effect.
  { name: 'logger', kind: 'string-ignored', help: '(ignored) etcd logger choice.' },
  { name: 'log-outputs', kind: 'string-ignored', help: '(ignored) logs go to stderr.' },
  { name: 'enable-v2', kind: 'bool-ignored', help: '(ignored) v2 API is not served.' },
  { name: 'enable-pprof', kind: 'bool-ignored', help: '(ignored)' },
  { name: 'strict-reconfig-check', kind: 'bool-ignored', help: '(ignored) reconfiguration is always checked.' },
  { name: 'max-snapshots', kind: 'string-ignored', help: '(ignored)' },
  { name: 'max-wals', kind: 'string-ignored', help: '(ignored)' },
  { name: 'auto-tls', kind: 'bool-ignored', help: '(ignored)' },
  { name: 'peer-auto-tls', kind: 'bool-ignored', help: '(ignored)' },
  { name: 'cipher-suites', kind: 'string-ignored', help: '(ignored)' },
  { name: 'experimental-initial-corrupt-check', kind: 'bool-ignored', help: '(ignored)' },
  { name: 'experimental-grpc-server', kind: 'string', help: "gRPC server for client calls: 'lean' (our calls on node:http2), 'h2' (our calls on our own HTTP/2 framer) or 'grpc-js'.", defaultText: DEFAULT_GRPC_SERVER },
  { name: 'experimental-watch-progress-notify-interval', kind: 'string', help: 'Interval of watch progress notifications (a duration, e.g. 5s).', defaultText: '10m' },
  { name: 'experimental-peer-skip-client-san-verification', kind: 'bool-ignored', help: '(ignored)' },
];

const SPEC_BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

export function envNameOf(flag: string): string {
  return 'ETCD_' + flag.toUpperCase().replace(/-/g, '_');
}
const ENV_TO_FLAG = new Map(FLAGS.map((f) => [envNameOf(f.name), f.name]));
/** ETCD_* variables that are not flags but are commonly set (etcdctl's, or the etcd image's). */
const ENV_NOT_FLAGS = new Set(['ETCD_UNSUPPORTED_ARCH', 'ETCD_VERSION', 'ETCDCTL_API']);

export function helpText(): string {
  const lines = ['Usage: tsetcd [flags]', '       tsetcd snapshot restore <file> [flags]   (seed a new member from an etcd snapshot; docs/snapshots.md)', '', 'A TypeScript etcd member. Flags (each also read from ETCD_<FLAG_NAME>):', ''];
  for (const f of FLAGS) {
    const d = f.defaultText !== undefined && f.defaultText !== '' ? ` (default ${f.defaultText})` : '';
    lines.push(`  --${f.name}`.padEnd(48) + f.help + d);
  }
  lines.push('  --version'.padEnd(48) + 'Print the version and exit.');
  lines.push('  --help'.padEnd(48) + 'Print this help and exit.');
  return lines.join('\n') + '\n';
}

/** Parses argv (without node and script) and env. Throws ConfigError on any bad input. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const fromFlags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      throw new ConfigError(`unexpected argument "${arg}": tsetcd takes only flags (see --help)`);
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === 'version') return { kind: 'version' };
    if (name === 'help' || name === 'h') return { kind: 'help', text: helpText() };
    const spec = SPEC_BY_NAME.get(name);
    if (!spec) throw new ConfigError(`unknown flag: --${name}`);
    let value: string;
    if (eq >= 0) {
      value = body.slice(eq + 1);
    } else if (spec.kind === 'bool' || spec.kind === 'bool-ignored') {
      value = 'true';
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new ConfigError(`flag needs an argument: --${name}`);
      }
      value = next;
      i++;
    }
    if (fromFlags.has(name)) throw new ConfigError(`flag given more than once: --${name}`);
    fromFlags.set(name, value);
  }

  const warnings: string[] = [];
  const raw = new Map<string, { value: string; source: string }>();
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('ETCD_') || v === undefined) continue;
    const flag = ENV_TO_FLAG.get(k);
    if (!flag) {
      if (!ENV_NOT_FLAGS.has(k)) warnings.push(`unrecognized environment variable ${k}=${v}`);
      continue;
    }
    if (fromFlags.has(flag)) {
      warnings.push(`environment variable ${k} is shadowed by flag --${flag}`);
      continue;
    }
    raw.set(flag, { value: v, source: `environment variable ${k}` });
  }
  for (const [k, v] of fromFlags) raw.set(k, { value: v, source: `flag --${k}` });

  const ignoredFlags: string[] = [];
  for (const [k] of raw) {
    const kind = SPEC_BY_NAME.get(k)!.kind;
    if (kind === 'string-ignored' || kind === 'bool-ignored') ignoredFlags.push(k);
  }

  const str = (name: string, dflt: string): string => raw.get(name)?.value ?? dflt;
  const bad = (name: string, why: string): ConfigError => {
    const r = raw.get(name);
    return new ConfigError(`invalid value "${r?.value ?? ''}" for ${r?.source ?? `--${name}`}: ${why}`);
  };
  const int = (name: string, dflt: number, min: number): number => {
    const r = raw.get(name);
    if (!r) return dflt;
    if (!/^[0-9]+$/.test(r.value.trim())) throw bad(name, 'not a non-negative integer');
    const n = Number(r.value.trim());
    if (!Number.isSafeInteger(n)) throw bad(name, 'too large');
    if (n < min) throw bad(name, `must be at least ${min}`);
    return n;
  };
  const bool = (name: string): boolean => {
    const r = raw.get(name);
    if (!r) return false;
    const v = r.value.trim().toLowerCase();
    if (v === 'true' || v === '1' || v === 't') return true;
    if (v === 'false' || v === '0' || v === 'f' || v === '') return false;
    throw bad(name, 'not a boolean (true or false)');
  };
  const urls = (name: string, dflt: string, allowEmpty: boolean): string[] => {
    const text = str(name, dflt).trim();
    if (text === '') {
      if (allowEmpty) return [];
      throw bad(name, 'at least one URL is required');
    }
    return text.split(',').map((u) => checkUrl(u.trim(), (why) => bad(name, why)));
  };
  for (const [k] of raw) {
    if (SPEC_BY_NAME.get(k)!.kind === 'bool-ignored') bool(k);
  }

  const name = str('name', 'default');
  if (name === '') throw bad('name', 'must not be empty');
  const dataDir = str('data-dir', `${name}.etcd`);
  if (dataDir === '') throw bad('data-dir', 'must not be empty');

  const listenClientUrls = urls('listen-client-urls', 'http://localhost:2379', false);
  const advertiseClientUrls = urls('advertise-client-urls', 'http://localhost:2379', false);
  const listenPeerUrls = urls('listen-peer-urls', 'http://localhost:2380', false);
  const initialAdvertisePeerUrls = urls('initial-advertise-peer-urls', 'http://localhost:2380', false);
  const listenMetricsUrls = urls('listen-metrics-urls', '', true);
  // As etcd: any value but 'extensive' is basic (etcd does not validate it).
  const metrics = str('metrics', 'basic');
  const grpcServer = str('experimental-grpc-server', DEFAULT_GRPC_SERVER);
  if (!isGrpcServerKind(grpcServer)) throw bad('experimental-grpc-server', "must be 'lean', 'h2' or 'grpc-js'");
  const corsOrigins = str('cors', '*').split(',').map((o) => o.trim()).filter((o) => o !== '');

  const initialClusterText = raw.get('initial-cluster')?.value ?? initialAdvertisePeerUrls.map((u) => `${name}=${u}`).join(',');
  const initialCluster = parseInitialCluster(initialClusterText, (why) => bad('initial-cluster', why));

  const stateText = str('initial-cluster-state', 'new');
  if (stateText !== 'new' && stateText !== 'existing') throw bad('initial-cluster-state', "must be 'new' or 'existing'");
  const initialClusterState: InitialClusterState = stateText;
  const self = initialCluster.find((m) => m.name === name);
  if (!self) {
    throw new ConfigError(`couldn't find local name "${name}" in the initial cluster configuration (--initial-cluster=${initialClusterText})`);
  }
  const advSorted = [...initialAdvertisePeerUrls].map(normalizeUrl).sort().join(',');
  const selfSorted = [...self.peerUrls].map(normalizeUrl).sort().join(',');
  if (advSorted !== selfSorted) {
    throw new ConfigError(
      `--initial-cluster has ${name}=${self.peerUrls.join(',')} but missing from --initial-advertise-peer-urls=${initialAdvertisePeerUrls.join(',')}`,
    );
  }
  const initialClusterToken = str('initial-cluster-token', 'etcd-cluster');
  if (initialClusterToken === '') throw bad('initial-cluster-token', 'must not be empty');

  const heartbeatIntervalMs = int('heartbeat-interval', 100, 1);
  const electionTimeoutMs = int('election-timeout', 1000, 1);
  if (electionTimeoutMs < 5 * heartbeatIntervalMs) {
    throw new ConfigError(
      `--election-timeout[${electionTimeoutMs}ms] should be at least as 5 times as --heartbeat-interval[${heartbeatIntervalMs}ms]`,
    );
  }
  if (electionTimeoutMs > MAX_ELECTION_TIMEOUT_MS) {
    throw new ConfigError(`--election-timeout[${electionTimeoutMs}ms] is too long, and should be set less than ${MAX_ELECTION_TIMEOUT_MS}ms`);
  }
  const snapshotCount = int('snapshot-count', 10_000, 1);
  const snapshotCatchUpEntries = int('experimental-snapshot-catchup-entries', 5000, 1);
  const snapshotLogBytes = int('experimental-snapshot-log-bytes', DEFAULT_SNAPSHOT_LOG_BYTES, 1);
  const snapshotCatchUpBytes = int('experimental-snapshot-catchup-bytes', DEFAULT_SNAPSHOT_CATCH_UP_BYTES, 0);
  const progressText = str('experimental-watch-progress-notify-interval', '10m').trim();
  const watchProgressNotifyIntervalMs = /^[0-9]+$/.test(progressText) ? undefined : parseRetentionMs(progressText);
  if (watchProgressNotifyIntervalMs === undefined || watchProgressNotifyIntervalMs < 100) {
    throw bad('experimental-watch-progress-notify-interval', 'expected a duration of at least 100ms, e.g. 5s or 10m');
  }
  let quotaBackendBytes = int('quota-backend-bytes', 0, 0);
  if (quotaBackendBytes === 0) quotaBackendBytes = DEFAULT_QUOTA_BACKEND_BYTES;
  if (quotaBackendBytes > MAX_QUOTA_BACKEND_BYTES) {
    warnings.push(`quota-backend-bytes ${quotaBackendBytes} exceeds the recommended maximum ${MAX_QUOTA_BACKEND_BYTES}`);
  }
  const maxRequestBytes = int('max-request-bytes', DEFAULT_MAX_REQUEST_BYTES, 1);
  const maxTxnOps = int('max-txn-ops', 128, 1);
  const maxLearners = int('max-learners', 1, 0);
  const authToken = parseAuthToken(str('auth-token', 'simple').trim());
  if (authToken === undefined) throw bad('auth-token', "expected 'simple' or 'jwt,pub-key=...,sign-method=...[,priv-key=...][,ttl=...]'");
  const authTokenTtlSec = int('auth-token-ttl', 300, 1);
  let bcryptCost = int('bcrypt-cost', 10, 0);
  if (bcryptCost < 4 || bcryptCost > 31) {
    // etcd: an out-of-range cost falls back to bcrypt.DefaultCost with a warning.
    warnings.push(`bcrypt-cost ${bcryptCost} is outside 4..31; using 10`);
    bcryptCost = 10;
  }

  const modeText = str('auto-compaction-mode', 'periodic');
  if (modeText !== 'periodic' && modeText !== 'revision') throw bad('auto-compaction-mode', "must be 'periodic' or 'revision'");
  const autoCompactionMode: AutoCompactionMode = modeText;
  const autoCompactionRetention = str('auto-compaction-retention', '0').trim();
  let autoCompactionRetentionMs = 0;
  let autoCompactionRetentionRevisions = 0;
  if (autoCompactionMode === 'revision') {
    if (!/^[0-9]+$/.test(autoCompactionRetention)) throw bad('auto-compaction-retention', 'revision mode needs a whole number of revisions');
    autoCompactionRetentionRevisions = Number(autoCompactionRetention);
  } else {
    const ms = parseRetentionMs(autoCompactionRetention);
    if (ms === undefined) throw bad('auto-compaction-retention', 'expected hours (e.g. 1) or a duration (e.g. 30m, 1h30m)');
    autoCompactionRetentionMs = ms;
  }

  const tls = (prefix: '' | 'peer-'): TlsFiles => {
    const t = {
      certFile: str(`${prefix}cert-file`, ''),
      keyFile: str(`${prefix}key-file`, ''),
      trustedCaFile: str(`${prefix}trusted-ca-file`, ''),
      clientCertAuth: bool(`${prefix}client-cert-auth`),
    };
    if ((t.certFile === '') !== (t.keyFile === '')) {
      throw new ConfigError(`--${prefix}cert-file and --${prefix}key-file must be given together`);
    }
    if (t.clientCertAuth && t.trustedCaFile === '') {
      throw new ConfigError(`--${prefix}client-cert-auth needs --${prefix}trusted-ca-file`);
    }
    return t;
  };
  const clientTls = tls('');
  const peerTls = tls('peer-');
  const needTls = (list: readonly string[], flag: string, files: TlsFiles, certFlag: string): void => {
    if (list.some((u) => u.startsWith('https:')) && files.certFile === '') {
      throw new ConfigError(`${flag} uses https but --${certFlag} is not set`);
    }
  };
  needTls(listenClientUrls, '--listen-client-urls', clientTls, 'cert-file');
  needTls(listenPeerUrls, '--listen-peer-urls', peerTls, 'peer-cert-file');

  const levelText = str('log-level', 'info');
  if (!isLogLevel(levelText)) throw bad('log-level', 'must be debug, info, warn or error');

  const config: MemberConfig = deepFreeze({
    name,
    dataDir,
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    listenMetricsUrls,
    initialCluster,
    initialClusterState,
    initialClusterToken,
    heartbeatIntervalMs,
    electionTimeoutMs,
    snapshotCount,
    snapshotCatchUpEntries,
    snapshotLogBytes,
    snapshotCatchUpBytes,
    watchProgressNotifyIntervalMs,
    quotaBackendBytes,
    maxRequestBytes,
    maxTxnOps,
    maxLearners,
    authToken,
    authTokenTtlSec,
    bcryptCost,
    autoCompactionMode,
    autoCompactionRetention,
    autoCompactionRetentionMs,
    autoCompactionRetentionRevisions,
    clientTls,
    peerTls,
    logLevel: levelText,
    forceNewCluster: bool('force-new-cluster') || (str('force-new-cluster-for', '') !== '' && str('force-new-cluster-for', '') === name),
    corsOrigins: corsOrigins.length === 0 ? ['*'] : corsOrigins,
    metrics,
    grpcServer,
    ignoredFlags,
    warnings,
  });
  return { kind: 'run', config };
}

function checkUrl(text: string, bad: (why: string) => ConfigError): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw bad(`"${text}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(`URL scheme must be http or https: ${text}`);
  if (u.hostname === '') throw bad(`URL has no host: ${text}`);
  if (u.port === '') throw bad(`URL address does not have the form "host:port": ${text}`);
  if (u.pathname !== '/' && u.pathname !== '') throw bad(`URL must not have a path: ${text}`);
  return `${u.protocol}//${u.host}`;
}

function normalizeUrl(u: string): string {
  return u.replace(/\/+$/, '');
}

/** `a=http://h1:2380,a=http://h1b:2380,b=http://h2:2380`: a name may repeat to give several URLs. */
export function parseInitialCluster(text: string, bad: (why: string) => ConfigError): InitialMember[] {
  const byName = new Map<string, string[]>();
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) throw bad(`"${p}" is not name=peerURL`);
    const name = p.slice(0, eq);
    const url = checkUrl(p.slice(eq + 1), bad);
    const list = byName.get(name) ?? [];
    if (list.includes(url)) throw bad(`duplicate URL ${url} for ${name}`);
    list.push(url);
    byName.set(name, list);
  }
  if (byName.size === 0) throw bad('empty initial cluster');
  const seen = new Map<string, string>();
  for (const [n, list] of byName) {
    for (const u of list) {
      const other = seen.get(u);
      if (other !== undefined) throw bad(`peer URL ${u} is used by both ${other} and ${n}`);
      seen.set(u, n);
    }
  }
  return [...byName].map(([n, list]) => ({ name: n, peerUrls: list }));
}

/** "0" -> 0; "1" -> 1 h (etcd: a bare number is hours); Go-style durations "30m", "1h30m", "90s", "500ms". */
export function parseRetentionMs(text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) return Number(text) * 3_600_000;
  if (text === '') return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  return Math.round(total);
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/** etcd's --auth-token: a type, then comma-separated key=value options (decomposeOpts). */
function parseAuthToken(text: string): MemberConfig['authToken'] | undefined {
  const [kind, ...rest] = text.split(',');
  const opts = new Map<string, string>();
  for (const o of rest) {
    const kv = o.split('=');
    if (kv.length !== 2 || opts.has(kv[0]!)) return undefined;
    opts.set(kv[0]!, kv[1]!);
  }
  if (kind === 'simple') return { kind: 'simple' };
  if (kind !== 'jwt') return undefined;
  const pubKeyFile = opts.get('pub-key') ?? '';
  const signMethod = opts.get('sign-method') ?? '';
  if (pubKeyFile === '' || signMethod === '') return undefined;
  const ttlMs = opts.has('ttl') ? parseRetentionMs(opts.get('ttl')!) : 300_000;
  if (ttlMs === undefined) return undefined;
  return { kind: 'jwt', pubKeyFile, privKeyFile: opts.get('priv-key') ?? '', signMethod, ttlMs };
}
