// The keys a backup-and-restore e2e writes and compares: random puts and deletes from a seed (so that
// revisions differ from key to key), written over gRPC with the cluster's client certificate, and every
// key with its revisions read back with etcdctl through the client Service.
import { Etcd3 } from 'etcd3';
import { TestRng } from '../../node/mvcc/testing/rng.js';
import { clientTls, etcdctl, waitFor, type Kubectl } from './harness.js';

export interface Kv { key: string; value: string; create_revision: number; mod_revision: number; version: number }

/** `count` puts (one in ten a delete instead) of keys under `prefix`, chosen from the seed. */
export async function writeRandomKeys(k: Kubectl, ns: string, name: string, podIPs: readonly string[], seed: number, prefix: string, count = 300): Promise<void> {
  const rng = new TestRng(seed);
  const tls = await clientTls(k, ns, name);
  const client = new Etcd3({
    hosts: podIPs.map((ip) => `https://${ip}:2379`),
    credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
    grpcOptions: { 'grpc.ssl_target_name_override': `${name}-client.${ns}.svc` },
  });
  try {
    for (let i = 0; i < count; i++) {
      const key = `${prefix}${String(rng.int(200)).padStart(3, '0')}`;
      if (rng.int(10) === 0) await client.delete().key(key);
      else await client.put(key).value(`v${i}-${rng.int(1_000_000)}`);
    }
  } finally {
    client.close();
  }
}

/** Every key (under `prefix`) with its revisions, and the store revision, through the client Service with the cluster's client certificate. */
export async function readAll(k: Kubectl, ns: string, name: string, prefix = ''): Promise<{ kvs: Kv[]; revision: number }> {
  const flags = (await clientTls(k, ns, name)).flags;
  return waitFor(`a read of every key of ${name}`, 60_000, async () => {
    const r = await etcdctl(`https://${name}-client.${ns}.svc:2379`, [...flags, 'get', prefix, '--prefix', '-w', 'json']);
    if (r.code !== 0) throw new Error(`etcdctl get: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { header: { revision: number }; kvs?: Array<Record<string, unknown>> };
    const kvs = (out.kvs ?? []).map((x) => ({
      key: Buffer.from(String(x['key']), 'base64').toString(),
      value: Buffer.from(String(x['value']), 'base64').toString(),
      create_revision: Number(x['create_revision']),
      mod_revision: Number(x['mod_revision']),
      version: Number(x['version']),
    }));
    return { kvs, revision: Number(out.header.revision) };
  }, 1000);
}
