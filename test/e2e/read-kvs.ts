// Every key under a prefix with its revisions, and the store revision, read through a cluster's client
// Service with its operator-issued client certificate (etcdctl -w json); retried while the Service finds
// no ready member. Shared by the restore and recovery e2e files, which compare such reads before and after.
import { clientTls, etcdctl, type Kubectl, waitFor } from './harness.js';

export interface Kv { key: string; value: string; create_revision: number; mod_revision: number; version: number }

export async function readAllKvs(k: Kubectl, ns: string, name: string, prefix = ''): Promise<{ kvs: Kv[]; revision: number }> {
  const flags = (await clientTls(k, ns, name)).flags;
  return waitFor(`a read of every key of ${name}`, 60_000, async () => {
    const r = await etcdctl(`https://${name}-client.${ns}.svc:2379`, [...flags, 'get', prefix, '--prefix', '-w', 'json']);
    if (r.code !== 0) return undefined;
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
