// The real MemberApi's Status (dbSize, dbSizeInUse), Defragment and Snapshot against a real bin/tsetcd member
// (test/integration/harness.ts), and what Defragment gives back on tsetcd. The figures are printed:
// compaction frees revisions, and Defragment rewrites the value log so the disk gets them back (see docs/operator.md).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterForSuite, ctlOk, requireTools } from '../../test/integration/harness.js';
import { GatewayMemberApi } from './gateway-member-api.js';
import { MemberApiError } from './member-api.js';

const tools = requireTools();

async function gw(endpoint: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const j = (await r.json()) as Record<string, unknown>;
  if (r.status !== 200) throw new Error(`${path}: ${JSON.stringify(j)}`);
  return j;
}
const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe.skipIf(!tools.ok)('GatewayMemberApi against a real tsetcd member: Status sizes and Defragment', () => {
  const cluster = clusterForSuite({ size: 1, label: 'op-defrag' });
  const api = new GatewayMemberApi({ requestTimeoutMs: 5000 });

  it('reports dbSize and dbSizeInUse, defragments within the timeout, and says what it gave back', async () => {
    const ep = cluster().members[0]!.clientUrl;
    const value = 'x'.repeat(4096);
    // 200 keys written 5 times: 1000 revisions of 4 KiB, of which 200 stay live.
    let rev = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 200; i++) {
        const r = await gw(ep, '/v3/kv/put', { key: b64(`k${i}`), value: b64(`${round}${value}`) });
        rev = Number((r.header as Record<string, string>).revision);
      }
    }
    const before = await api.status(ep);
    expect(before.dbSize).toBeGreaterThan(1000 * 4096);
    expect(before.dbSizeInUse).not.toBeNull();
    await gw(ep, '/v3/kv/compaction', { revision: String(rev), physical: true });
    const compacted = await api.status(ep);
    await api.defragment(ep, 30_000);
    const after = await api.status(ep);
    console.log(
      `tsetcd sizes (bytes): before compaction dbSize=${before.dbSize} dbSizeInUse=${before.dbSizeInUse}; ` +
        `after Compact(physical) dbSize=${compacted.dbSize} dbSizeInUse=${compacted.dbSizeInUse}; ` +
        `after Defragment dbSize=${after.dbSize} dbSizeInUse=${after.dbSizeInUse}`,
    );
    // Compaction frees the old revisions (dbSizeInUse drops); their values stay in the member's value
    // log as dead bytes (dbSize does not) until Defragment rewrites the log and deletes the old segment.
    expect(compacted.dbSizeInUse!).toBeLessThan(before.dbSize / 3);
    expect(compacted.dbSizeInUse!).toBeGreaterThan(200 * 4096);
    expect(compacted.dbSize - compacted.dbSizeInUse!).toBeGreaterThan(800 * 4096);
    expect(after.dbSizeInUse).toBe(compacted.dbSizeInUse);
    // What is left after Defragment: a 4-byte checksum per held value.
    expect(after.dbSize - after.dbSizeInUse!).toBeLessThan(200 * 8);
  });

  it('streams Maintenance.Snapshot: the very bytes `etcdctl snapshot save` stores; an unreachable member is Unavailable', async () => {
    const ep = cluster().members[0]!.clientUrl;
    const chunks: Buffer[] = [];
    for await (const c of api.snapshot(ep, 10_000)) chunks.push(c);
    const streamed = Buffer.concat(chunks);
    const dir = mkdtempSync(join(tmpdir(), 'gw-snap-'));
    try {
      await ctlOk(ep, ['snapshot', 'save', join(dir, 's.db')]);
      expect(streamed.equals(readFileSync(join(dir, 's.db')))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(streamed.length % 512).toBe(32);
    const err = await (async () => {
      for await (const _ of api.snapshot('http://127.0.0.1:1', 1000)) void _;
    })().catch((e: unknown) => e);
    expect((err as MemberApiError).code).toBe('Unavailable');
  });

  it('bounds a Defragment call by its timeout (an unreachable member: Unavailable, never a hang)', async () => {
    const err = await api.defragment('http://127.0.0.1:1', 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemberApiError);
    expect((err as MemberApiError).code).toBe('Unavailable');
  });
});
