// `make bench` (tls part): what TLS costs. A 3-member cluster on loopback, with and without client
// and peer mutual TLS, for tsetcd and for etcd 3.6 (hack/ensure-etcd36.sh), the same load each time:
// puts (1 KiB values) and serializable single-key ranges, C clients over a few gRPC connections.
// Rounds alternate plain and TLS so a change in the machine's load hits both; prints the median of
// the rounds, the TLS/plain ratio per system, and the load average (the machine is shared).
// Certificates: openssl (test/testing/openssl-ca.ts), EC P-256, as the operator issues them.
// Every load is bounded in count and time.
//
//   npx tsx hack/bench-tls.ts [--rounds=3] [--ops=5000] [--clients=32] [--conns=4] [--max-seconds=30] [--etcd=PATH]
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { issueLeaf, makeCa } from '../test/testing/openssl-ca.js';
import { etcd36Binary, fmt, keyOf, load, put, range, startCluster, stopCluster, VALUE, type BenchTls, type LoadResult } from './bench-cluster.js';

const REPO = resolve(import.meta.dirname, '..');
const arg = (name: string, dflt: string): string => process.argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const ROUNDS = Number(arg('rounds', '3'));
const bounds = { ops: Number(arg('ops', '5000')), clients: Number(arg('clients', '32')), conns: Number(arg('conns', '4')), maxSeconds: Number(arg('max-seconds', '30')) };

function makeTls(dir: string): BenchTls {
  const ca = makeCa(dir, 'ca');
  const leaves = new Map<string, { certFile: string; keyFile: string }>();
  for (const m of ['m1', 'm2', 'm3']) leaves.set(m, issueLeaf(ca, dir, m, { cn: m, serial: `${m.slice(1)}0` }));
  const client = issueLeaf(ca, dir, 'client', { cn: 'bench', serial: 'C0' });
  return {
    memberFlags: (name) => {
      const l = leaves.get(name)!;
      return [
        `--cert-file=${l.certFile}`, `--key-file=${l.keyFile}`, `--trusted-ca-file=${ca.certFile}`, '--client-cert-auth',
        `--peer-cert-file=${l.certFile}`, `--peer-key-file=${l.keyFile}`, `--peer-trusted-ca-file=${ca.certFile}`, '--peer-client-cert-auth',
      ];
    },
    ca: readFileSync(ca.certFile),
    cert: readFileSync(client.certFile),
    key: readFileSync(client.keyFile),
  };
}

interface Round { put: LoadResult; ser: LoadResult }

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const root = join(REPO, '.data', `bench-tls-${Date.now()}`);
  mkdirSync(root, { recursive: true });
  const tls = makeTls(join(root, 'certs'));
  const systems: Array<{ label: string; kind: 'tsetcd' | 'etcd'; bin?: string }> = [{ label: 'tsetcd', kind: 'tsetcd' }];
  const bin36 = etcd36Binary(arg('etcd', ''));
  if (existsSync(bin36)) systems.push({ label: 'etcd 3.6', kind: 'etcd', bin: bin36 });
  else console.log(`no etcd 3.6 at ${bin36}: tsetcd only`);
  const results = new Map<string, Round[]>();
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${bounds.ops} ops, ${bounds.clients} clients, ${bounds.conns} conns, ${ROUNDS} rounds)`);
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const sys of systems) {
        for (const secure of [false, true]) {
          const key = `${sys.label}|${secure ? 'tls' : 'plain'}`;
          const t = await startCluster(sys.kind, join(root, `${sys.kind}-${secure ? 'tls' : 'plain'}-${r}`), { ...(sys.bin ? { bin: sys.bin } : {}), ...(secure ? { tls } : {}) });
          try {
            const p = await load(t, put, (i) => ({ key: keyOf(i), value: VALUE }), bounds);
            const s = await load(t, range, (i) => ({ key: keyOf(i), serializable: true }), bounds);
            console.log(`round ${r + 1} ${key}: put ${fmt(p.perSecond, 0)}/s p50 ${fmt(p.p50Ms, 2)} ms (errors ${p.errors}); serializable range ${fmt(s.perSecond, 0)}/s p50 ${fmt(s.p50Ms, 2)} ms (errors ${s.errors})`);
            results.set(key, [...(results.get(key) ?? []), { put: p, ser: s }]);
          } finally {
            await stopCluster(t);
          }
        }
      }
    }
  } finally {
    if (!process.env['KEEP_DATA']) rmSync(root, { recursive: true, force: true });
  }
  console.log(`\nload average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('\n| system | measure | plain (median) | TLS (median) | TLS/plain |\n|---|---|---|---|---|');
  const rows: Array<[string, (r: Round) => number, number]> = [
    ['put (ops/s)', (r) => r.put.perSecond, 0],
    ['put p50 (ms)', (r) => r.put.p50Ms, 2],
    ['put p99 (ms)', (r) => r.put.p99Ms, 2],
    ['serializable range (ops/s)', (r) => r.ser.perSecond, 0],
    ['serializable range p50 (ms)', (r) => r.ser.p50Ms, 2],
  ];
  for (const sys of systems) {
    for (const [name, get, digits] of rows) {
      const a = median((results.get(`${sys.label}|plain`) ?? []).map(get));
      const b = median((results.get(`${sys.label}|tls`) ?? []).map(get));
      console.log(`| ${sys.label} | ${name} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${fmt(b / a, 2)} |`);
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
