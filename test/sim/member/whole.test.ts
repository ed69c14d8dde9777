// The whole-member simulator in CI: short seeded runs of real members (runtime, MVCC, storage on
// MemoryFs) under every fault kind, exact replay of a seed, and proof that the checks catch
// planted bugs. No timing bounds: everything runs on simulated time.
import { describe, expect, it } from 'vitest';
import { runWhole } from './run.js';

describe('whole-member simulation', () => {
  it.each([
    { seed: 11, size: 3 },
    { seed: 12, size: 5 },
  ])('seed $seed, $size members: crashes, torn and corrupt writes, ENOSPC/EIO, partitions, pauses, skew, loss: no violation', async ({ seed, size }) => {
    const r = await runWhole({ seed, size, faultMs: 12_000 });
    console.log(`whole-member seed=${seed} size=${size} ops=${r.ops} watch_events=${r.watchEvents} leases_expired=${r.leasesExpired} faults=${JSON.stringify(r.faults)} lin=${r.lin}`);
    expect(r.violations).toEqual([]);
    expect(r.lin.startsWith('ok')).toBe(true);
    expect(r.ops).toBeGreaterThan(50);
    expect(r.watchEvents).toBeGreaterThan(0);
  });

  it('a seed replays exactly: same seed, same fingerprint; another seed, another', async () => {
    const a = await runWhole({ seed: 21, faultMs: 6000, linearizability: false });
    const b = await runWhole({ seed: 21, faultMs: 6000, linearizability: false });
    const c = await runWhole({ seed: 22, faultMs: 6000, linearizability: false });
    console.log(`replay: seed 21 -> ${a.fingerprint} twice; seed 22 -> ${c.fingerprint}`);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.ops).toBe(a.ops);
    expect(b.steps).toBe(a.steps);
    expect(c.fingerprint).not.toBe(a.fingerprint);
  });

  it('the checks catch planted bugs: stale linearizable reads, a dropped watch event, a disk whose fsync lies', async () => {
    const stale = await runWhole({ seed: 1, faultMs: 8000, plant: 'stale-reads' });
    expect(stale.lin.startsWith('illegal')).toBe(true);
    const dropped = await runWhole({ seed: 1, faultMs: 8000, plant: 'drop-watch-event', linearizability: false });
    expect(dropped.violations.some((v) => v.startsWith('watch '))).toBe(true);
    let lying = 0;
    for (const seed of [1, 2]) if ((await runWhole({ seed, faultMs: 8000, plant: 'lying-disk', linearizability: false })).violations.length > 0) lying++;
    expect(lying).toBeGreaterThan(0);
  });

  it('catches a leader that applies entries it has not handed to its storage yet (its snapshot then fails and the member stops)', async () => {
    let caught = 0;
    for (const seed of [45, 67]) {
      const r = await runWhole({ seed, faultMs: 20_000, plant: 'apply-held-entries', linearizability: false });
      if (r.violations.some((v) => v.includes('stopped itself without a disk fault'))) caught++;
    }
    expect(caught).toBeGreaterThan(0);
  });
});
