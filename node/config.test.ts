import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, parseRetentionMs, type MemberConfig } from './config.js';

function run(argv: string[], env: Record<string, string> = {}): MemberConfig {
  const r = parseConfig(argv, env);
  if (r.kind !== 'run') throw new Error(`expected run, got ${r.kind}`);
  return r.config;
}
function fails(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseConfig(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it("has etcd 3.5's defaults", () => {
    const c = run([]);
    expect(c).toMatchObject({
      name: 'default',
      dataDir: 'default.etcd',
      listenClientUrls: ['http://localhost:2379'],
      advertiseClientUrls: ['http://localhost:2379'],
      listenPeerUrls: ['http://localhost:2380'],
      initialAdvertisePeerUrls: ['http://localhost:2380'],
      listenMetricsUrls: [],
      initialCluster: [{ name: 'default', peerUrls: ['http://localhost:2380'] }],
      initialClusterState: 'new',
      initialClusterToken: 'etcd-cluster',
      heartbeatIntervalMs: 100,
      electionTimeoutMs: 1000,
      snapshotCount: 10000,
      quotaBackendBytes: 2 * 1024 ** 3,
      maxRequestBytes: 1.5 * 1024 * 1024,
      maxTxnOps: 128,
      autoCompactionMode: 'periodic',
      autoCompactionRetentionMs: 0,
      logLevel: 'info',
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.initialCluster[0])).toBe(true);
  });

  it('takes --flag value, --flag=value and single-dash forms; the data dir follows the name', () => {
    const c = run([
      '--name', 'm1',
      '-heartbeat-interval=50',
      '--election-timeout', '500',
      '--initial-cluster=m1=http://127.0.0.1:2380,m2=http://127.0.0.1:22380',
      '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
      '--listen-client-urls=http://127.0.0.1:2379,http://127.0.0.2:2379',
      '--client-cert-auth', '--trusted-ca-file', 'ca.pem',
    ]);
    expect(c.name).toBe('m1');
    expect(c.dataDir).toBe('m1.etcd');
    expect(c.heartbeatIntervalMs).toBe(50);
    expect(c.electionTimeoutMs).toBe(500);
    expect(c.initialCluster.map((m) => m.name)).toEqual(['m1', 'm2']);
    expect(c.listenClientUrls).toEqual(['http://127.0.0.1:2379', 'http://127.0.0.2:2379']);
    expect(c.clientTls.clientCertAuth).toBe(true);
  });

  it('forces a new cluster only in the member whose --name ETCD_FORCE_NEW_CLUSTER_FOR names', () => {
    expect(run(['--name=e-0'], { ETCD_FORCE_NEW_CLUSTER_FOR: 'e-0' }).forceNewCluster).toBe(true);
    expect(run(['--name=e-1'], { ETCD_FORCE_NEW_CLUSTER_FOR: 'e-0' }).forceNewCluster).toBe(false);
    expect(run(['--name=e-1'], { ETCD_FORCE_NEW_CLUSTER_FOR: '' }).forceNewCluster).toBe(false);
    expect(run(['--name=e-1', '--force-new-cluster']).forceNewCluster).toBe(true);
    expect(run(['--name=default']).forceNewCluster).toBe(false);
  });

  it('reads ETCD_* env, and a flag wins over its env twin', () => {
    const c = run(['--snapshot-count=7'], { ETCD_NAME: 'e1', ETCD_SNAPSHOT_COUNT: '9', ETCD_DATA_DIR: '/d', ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://a:1', ETCD_SOMETHING_ODD: 'x', HOME: '/root' });
    expect(c.name).toBe('e1');
    expect(c.dataDir).toBe('/d');
    expect(c.snapshotCount).toBe(7);
    expect(c.initialCluster).toEqual([{ name: 'e1', peerUrls: ['http://a:1'] }]);
    expect(c.warnings.some((w) => w.includes('ETCD_SNAPSHOT_COUNT is shadowed'))).toBe(true);
    expect(c.warnings.some((w) => w.includes('unrecognized environment variable ETCD_SOMETHING_ODD'))).toBe(true);
  });

  it('groups repeated names in --initial-cluster', () => {
    const c = run(['--name=a', '--initial-advertise-peer-urls=http://h:1,http://h:2', '--initial-cluster=a=http://h:1,b=http://g:1,a=http://h:2']);
    expect(c.initialCluster).toEqual([
      { name: 'a', peerUrls: ['http://h:1', 'http://h:2'] },
      { name: 'b', peerUrls: ['http://g:1'] },
    ]);
  });

  it('parses auto-compaction retention as etcd does', () => {
    expect(parseRetentionMs('0')).toBe(0);
    expect(parseRetentionMs('1')).toBe(3_600_000);
    expect(parseRetentionMs('30m')).toBe(1_800_000);
    expect(parseRetentionMs('1h30m')).toBe(5_400_000);
    expect(parseRetentionMs('500ms')).toBe(500);
    expect(parseRetentionMs('5x')).toBeUndefined();
    const c = run(['--auto-compaction-mode=revision', '--auto-compaction-retention=1000']);
    expect(c.autoCompactionRetentionRevisions).toBe(1000);
  });

  it('answers --version and --help', () => {
    expect(parseConfig(['--version'], {}).kind).toBe('version');
    const h = parseConfig(['--help'], {});
    expect(h.kind).toBe('help');
    if (h.kind === 'help') expect(h.text).toContain('--initial-cluster-state');
  });

  it('accepts (and lists) flags of etcd manifests that have no effect here', () => {
    const k = run(['--experimental-watch-progress-notify-interval=5s', '--experimental-snapshot-catchup-entries=50']);
    expect(k.watchProgressNotifyIntervalMs).toBe(5000);
    expect(k.snapshotCatchUpEntries).toBe(50);
    const c = run(['--experimental-initial-corrupt-check=true', '--logger=zap', '--enable-v2=false']);
    expect(c.ignoredFlags).toEqual(['experimental-initial-corrupt-check', 'logger', 'enable-v2']);
  });

  it("takes the raft log's byte bounds from flags and ETCD_ twins", () => {
    const b = run(['--experimental-snapshot-log-bytes=1048576'], { ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_BYTES: '65536' });
    expect([b.snapshotLogBytes, b.snapshotCatchUpBytes]).toEqual([1 << 20, 1 << 16]);
    expect([run([]).snapshotLogBytes, run([]).snapshotCatchUpBytes]).toEqual([2 ** 30, 128 * 2 ** 20]);
  });

  it('rejects bad input with a message naming the flag', () => {
    expect(fails(['--bogus'])).toBe('unknown flag: --bogus');
    expect(fails(['--bogus=1'])).toBe('unknown flag: --bogus');
    expect(fails(['--name'])).toBe('flag needs an argument: --name');
    expect(fails(['--heartbeat-interval', 'fast'])).toContain('--heartbeat-interval');
    expect(fails(['--heartbeat-interval=-5'])).toContain('not a non-negative integer');
    expect(fails([], { ETCD_MAX_TXN_OPS: 'many' })).toContain('environment variable ETCD_MAX_TXN_OPS');
    expect(fails(['--election-timeout=400'])).toContain('at least as 5 times as --heartbeat-interval[100ms]');
    expect(fails(['--election-timeout=60000'])).toContain('too long');
    expect(fails(['--initial-cluster-state=old'])).toContain("'new' or 'existing'");
    expect(fails(['--listen-client-urls=localhost:2379'])).toContain('--listen-client-urls');
    expect(fails(['--listen-client-urls=http://localhost'])).toContain('host:port');
    expect(fails(['--initial-cluster=x=http://h:1'])).toContain('couldn\'t find local name "default"');
    expect(fails(['--initial-cluster=default=http://h:1'])).toContain('missing from --initial-advertise-peer-urls');
    expect(fails(['--initial-cluster=default'])).toContain('not name=peerURL');
    expect(fails(['--client-cert-auth=maybe'])).toContain('not a boolean');
    expect(fails(['--cert-file=a.pem'])).toContain('must be given together');
    expect(fails(['--listen-client-urls=https://h:1'])).toContain('https');
    expect(fails(['--log-level=loud'])).toContain('--log-level');
    expect(fails(['--name=a', '--name=b'])).toContain('more than once');
    expect(fails(['positional'])).toContain('unexpected argument');
    expect(fails(['--auto-compaction-retention=soon'])).toContain('--auto-compaction-retention');
    expect(fails(['--experimental-grpc-server=fast'])).toContain("--experimental-grpc-server");
  });

  it('serves gRPC with our own HTTP/2 server unless told lean or grpc-js (flag or env)', () => {
    expect(run([]).grpcServer).toBe('h2');
    expect(run(['--experimental-grpc-server=lean']).grpcServer).toBe('lean');
    expect(run(['--experimental-grpc-server=grpc-js']).grpcServer).toBe('grpc-js');
    expect(run([], { ETCD_EXPERIMENTAL_GRPC_SERVER: 'grpc-js' }).grpcServer).toBe('grpc-js');
  });

  it("takes etcd's --metrics level (basic by default; etcd does not validate it)", () => {
    expect(run([]).metrics).toBe('basic');
    expect(run(['--metrics=extensive']).metrics).toBe('extensive');
    expect(run([], { ETCD_METRICS: 'extensive' }).metrics).toBe('extensive');
    expect(run(['--metrics=whatever']).metrics).toBe('whatever');
  });
});
