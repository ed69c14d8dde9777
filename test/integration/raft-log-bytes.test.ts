// Raft's in-memory log stays bounded in bytes as the data grows (issue 11), with real member
// processes. Three members with a 1 MiB byte trigger and 256 KiB of catch-up bytes
// (--experimental-snapshot-log-bytes, --experimental-snapshot-catchup-bytes; entry count far
// away) take 24 MiB of 64 KiB values in three rounds. After each round, once a member's gauges show
// the round's last revision (and its trigger has had a put to check on after its last snapshot),
// its log holds no more than the trigger plus the catch-up bytes plus an entry
// (tsetcd_raft_log_bytes), while the data it serves
// grew by 8 MiB: the log (and the memory it pins) stops growing with the data. The entry count
// alone (snapshot-count 100,000) would keep all 384 entries, 24 MiB. Resident sets are printed, not
// asserted (the collector decides when a freed Buffer goes back).
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, requireTools, waitFor } from './harness.js';

const tools = requireTools();
const LOG_BYTES = 1 << 20;
const CATCH_UP_BYTES = 256 << 10;
const VALUE_BYTES = 64 << 10;
/** A put's entry carries the value, the key and the envelope: well under this much more. */
const ENTRY_SLACK = VALUE_BYTES + 4096;

function rssMiB(pid: number | undefined): string {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? (Number(m[1]) / 1024).toFixed(0) : '?';
  } catch {
    return '?';
  }
}

describe.skipIf(!tools.ok)("raft's in-memory log bounded in bytes (real members)", () => {
  let cluster: Cluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('holds at most the byte trigger plus the catch-up bytes, however much is loaded', async () => {
    cluster = await Cluster.start({
      size: 3,
      label: 'raft-log-bytes',
      flags: [`--experimental-snapshot-log-bytes=${LOG_BYTES}`, `--experimental-snapshot-catchup-bytes=${CATCH_UP_BYTES}`],
    });
    const c = cluster;
    const client = new Etcd3({ hosts: c.members.map((m) => m.clientUrl) });
    try {
      const value = Buffer.alloc(VALUE_BYTES, 7);
      let key = 0;
      for (let round = 1; round <= 3; round++) {
        // 8 MiB per round, 8 puts at a time.
        for (let i = 0; i < 128; i += 8) {
          await Promise.all(Array.from({ length: 8 }, () => client.put(`k${String(key++).padStart(6, '0')}`).value(value)));
        }
        const rev = Number((await client.get('k000000').exec()).header.revision);
        for (const m of c.members) {
          // The gauges are set together once a second. Wait for a scrape that shows this round's
          // revision and the bound. What a member applies while a snapshot is written is held until
          // the next one, which the trigger checks for as it applies: so while the bound is not
          // met, a one-byte put lets it check again. A log that kept growing would never meet it.
          const bound = LOG_BYTES + CATCH_UP_BYTES + ENTRY_SLACK;
          const g = await waitFor(
            `${m.name}'s raft log at revision ${rev} within ${bound} bytes`,
            async () => {
              const last = await c.metrics(m, ['etcd_debugging_mvcc_current_revision', 'tsetcd_raft_log_bytes', 'tsetcd_raft_log_entries', 'etcd_debugging_snap_save_total_duration_seconds_count']);
              if (last['etcd_debugging_mvcc_current_revision']! >= rev && last['tsetcd_raft_log_bytes']! <= bound) return last;
              if (last['etcd_debugging_mvcc_current_revision']! >= rev) await client.put('nudge').value('x');
              return undefined;
            },
            60_000,
            500,
          );
          const held = g['tsetcd_raft_log_bytes']!;
          console.log(
            `round ${round}, ${m.name}: ${(key * VALUE_BYTES) / 2 ** 20} MiB loaded; raft log ${g['tsetcd_raft_log_entries']} entries, ${(held / 1024).toFixed(0)} KiB; ` +
              `${g['etcd_debugging_snap_save_total_duration_seconds_count']} snapshots; RSS ${rssMiB(m.proc?.pid)} MiB`,
          );
          expect(held, `${m.name} round ${round}`).toBeLessThanOrEqual(bound);
          expect(g['etcd_debugging_snap_save_total_duration_seconds_count'], `${m.name} round ${round}`).toBeGreaterThanOrEqual(round * 5);
        }
      }
    } finally {
      client.close();
    }
  }, 180_000);
});
