// The compaction flags the operator gives its members (operator/plan/statefulset.ts memberArgs, from
// spec.compaction) make a real bin/tsetcd member compact: revision mode keeping 10 revisions.
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../operator/api/defaults.js';
import { memberArgs } from '../../operator/plan/statefulset.js';
import { clusterForSuite, ctlOk, etcdctl, requireTools, waitFor } from './harness.js';

const tools = requireTools();
const flags = memberArgs({ name: 'c', namespace: 'ns', uid: 'u' }, resolveSpec({ compaction: { mode: 'revision', retention: '10' } })).filter((a) => a.startsWith('--auto-compaction-'));

describe.skipIf(!tools.ok)('spec.compaction on a real member', () => {
  const cluster = clusterForSuite({ size: 1, label: 'op-compaction', flags });

  it('compacts away revisions older than the retention (revision mode, every 5 s)', async () => {
    expect(flags).toEqual(['--auto-compaction-mode=revision', '--auto-compaction-retention=10']);
    const ep = cluster().endpoints();
    let first = 0;
    for (let i = 0; i < 30; i++) {
      const out = JSON.parse(await ctlOk(ep, ['put', '/compact/k', `v${i}`, '-w', 'json'])) as { header: { revision: number } };
      if (i === 0) first = out.header.revision;
    }
    await waitFor(
      `revision ${first} compacted`,
      async () => {
        const r = await etcdctl(ep, ['get', '/compact/k', `--rev=${first}`]);
        return r.code !== 0 && /required revision has been compacted/.test(r.stderr) ? true : undefined;
      },
      30_000,
      500,
    );
    // The latest revisions are kept.
    const latest = await ctlOk(ep, ['get', '/compact/k', '--print-value-only']);
    expect(latest.trim()).toBe('v29');
  });
});
