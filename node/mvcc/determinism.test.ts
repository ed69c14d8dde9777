// Determinism: members fed the same encoded commands end with the same hashes, whatever
// their physical compaction schedule, and a snapshot restores to the same hashes.
import { describe, expect, it } from 'vitest';
import { MvccStore, decodeCommand, encodeCommand, AlarmType } from './index.js';
import { TestRng } from './testing/rng.js';
import { randomCommand } from './testing/random-commands.js';

function log(seed: number, n: number): Uint8Array[] {
  const rng = new TestRng(seed);
  const gen = new MvccStore();
  const out: Uint8Array[] = [];
  for (let i = 1; i <= n; i++) {
    const leases = gen.leaseLeases().leases.map((l) => l.ID);
    const cmd = randomCommand(rng, { revision: gen.currentRevision(), compactRevision: gen.compactRevision(), leases });
    if (cmd.type === 'alarm' && cmd.req.action === 1 && rng.chance(0.8)) continue; // keep CORRUPT alarms rare
    const bytes = encodeCommand(cmd);
    out.push(bytes);
    gen.apply(decodeCommand(bytes), out.length);
  }
  return out;
}

describe('determinism', () => {
  for (const seed of [21, 22, 23, 24]) {
    it(`seed ${seed}: two members with different compaction schedules agree; snapshots restore the same hash`, () => {
      const entries = log(seed, 1500);
      const rng = new TestRng(seed * 7);
      const a = new MvccStore();
      let bStore = new MvccStore();
      const hashesA: number[] = [];
      entries.forEach((e, i) => {
        const ra = a.apply(decodeCommand(e), i + 1);
        const rb = bStore.apply(decodeCommand(e), i + 1);
        expect(rb, `seed ${seed} entry ${i}`).toEqual(ra);
        while (!a.compactStep(1000)); // a compacts eagerly
        if (rng.chance(0.05)) bStore.compactStep(1 + rng.int(3)); // b lazily
        if (rng.chance(0.01)) {
          const c = new MvccStore();
          c.restore(bStore.snapshotChunks(64 + rng.int(4096)));
          expect(c.hash().hash).toBe(bStore.hash().hash);
          bStore = c;
        }
        if (i % 100 === 99) {
          hashesA.push(a.hashKV().hash);
          expect(bStore.hashKV().hash, `seed ${seed} entry ${i}`).toBe(a.hashKV().hash);
          expect(bStore.hash().hash).toBe(a.hash().hash);
        }
      });
      expect(new Set(hashesA).size).toBeGreaterThan(1);
      // HashKV at an older revision agrees too.
      const mid = Math.max(a.compactRevision(), a.currentRevision() - 5);
      expect(bStore.hashKV(mid)).toEqual(a.hashKV(mid));
      expect(a.appliedIndex()).toBe(entries.length);
      // Fully compacted, both hold the same, and a restored copy counts the same size.
      while (!bStore.compactStep(1000));
      expect(bStore.sizeBytes()).toBe(a.sizeBytes());
      const c = new MvccStore();
      c.restore(a.snapshotChunks(4096));
      expect(c.sizeBytes()).toBe(a.sizeBytes());
    });
  }

  it('hashKVSteps hashes the state it started from while writes and compaction go on', () => {
    const s = new MvccStore();
    let i = 0;
    for (; i < 500; i++) s.apply({ type: 'put', req: { key: Buffer.from(`k${i % 300}`), value: Buffer.from(`v${i}`) } }, i + 1);
    const want = s.hashKV();
    const it = s.hashKVSteps(0, 17);
    let r = it.next();
    while (!r.done) {
      s.apply({ type: 'put', req: { key: Buffer.from(`k${i % 300}`), value: Buffer.from('new') } }, ++i);
      s.apply({ type: 'put', req: { key: Buffer.from(`n${i}`), value: Buffer.from('new') } }, ++i);
      s.apply({ type: 'compaction', req: { revision: s.currentRevision() } }, ++i);
      s.compactStep(100);
      r = it.next();
    }
    expect(r.value.hash).toBe(want.hash);
  });

  it('hashKV checks the revision like a read', () => {
    const s = new MvccStore();
    s.apply({ type: 'put', req: { key: Buffer.from('a'), value: Buffer.from('1') } }, 1);
    s.apply({ type: 'put', req: { key: Buffer.from('a'), value: Buffer.from('2') } }, 2);
    s.apply({ type: 'compaction', req: { revision: 3 } }, 3);
    expect(() => s.hashKV(2)).toThrow('mvcc: required revision has been compacted');
    expect(() => s.hashKV(9)).toThrow('mvcc: required revision is a future revision');
    expect(s.hashKV(3).hashRevision).toBe(3);
  });

  it('snapshot restore rejects corruption and keeps leases, alarms and revision', () => {
    const s = new MvccStore();
    const g = s.apply({ type: 'leaseGrant', req: { TTL: 30 } }, 1);
    expect(g.ok).toBe(true);
    const id = g.ok ? (g.response as { ID: bigint }).ID : 0n;
    s.apply({ type: 'put', req: { key: Buffer.from('k'), value: Buffer.from('v'), lease: id } }, 2);
    s.apply({ type: 'alarm', req: { action: 1, memberID: 9n, alarm: AlarmType.NOSPACE } }, 3);
    const chunks = [...s.snapshotChunks(16)];
    const whole = Buffer.concat(chunks);
    const t = new MvccStore();
    // Re-split differently: restore must not depend on chunk boundaries.
    t.restore([whole.subarray(0, 7), whole.subarray(7, 100), whole.subarray(100)]);
    expect(t.hash().hash).toBe(s.hash().hash);
    expect(t.currentRevision()).toBe(2);
    expect(t.appliedIndex()).toBe(3);
    expect(t.sizeBytes()).toBe(s.sizeBytes());
    expect(t.alarms()).toEqual([{ memberID: 9n, alarm: AlarmType.NOSPACE }]);
    expect(t.leaseTimeToLive({ ID: id, keys: true }, 0).keys.map((k) => Buffer.from(k).toString())).toEqual(['k']);
    const bad = Buffer.from(whole);
    bad[bad.length - 10] = bad[bad.length - 10]! ^ 0xff;
    expect(() => new MvccStore().restore([bad])).toThrow(/invalid snapshot/);
    expect(() => new MvccStore().restore([whole.subarray(0, whole.length - 3)])).toThrow(/invalid snapshot/);
  });
});
