// Real crashes: a child process appends and acknowledges records on a real disk and is killed
// with SIGKILL at a seeded random moment, many times over the same data directory. After each
// kill the parent recovers and checks: every acknowledged entry is present, byte for byte;
// nothing is there that the child did not write; the log is contiguous; the hard state is at
// least the last acknowledged one. Reproduce: STORAGE_TEST_SEED=<seed> npx vitest run test/storage/crash.test.ts

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStorage } from '../../node/storage/storage.js';
import { childEntrySize, childSnapshotData, CHILD_SEGMENT_SIZE_BYTES } from './child-shared.js';
import { collectingLogger, payload, seedFromEnv, TestRng } from './helpers.js';

const root = resolve(import.meta.dirname, '../..');
const CHILD = join(root, 'test/storage/crash-child.ts');

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

interface ChildRun {
  acked: number;
  ackedCommit: number;
  ready: number;
  snaps: number;
}

function runChild(dir: string, seed: number, killAfterMs: number): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(seed)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: ChildRun = { acked: -1, ackedCommit: 0, ready: -1, snaps: 0 };
    let buf = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    // Bounded: if the child never gets ready, give up after 30 s.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [kind, a, b] = line.split(' ');
        if (kind === 'READY') {
          run.ready = Number(a);
          run.acked = Number(a);
          timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        } else if (kind === 'ACK') {
          run.acked = Number(a);
          run.ackedCommit = Number(b);
        } else if (kind === 'SNAP') {
          run.snaps++;
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code ?? signal}: ${stderr}`));
      else if (run.ready < 0) reject(new Error(`child was killed before it was ready: ${stderr}`));
      else resolvePromise(run);
    });
  });
}

describe('storage: real SIGKILL crashes', () => {
  it('every acknowledged record survives kill -9, many times over one data dir', async () => {
    const seed = seedFromEnv(Number(process.env['STORAGE_CRASH_SEED'] ?? 42));
    const iterations = Number(process.env['STORAGE_CRASH_ITERATIONS'] ?? 10);
    console.log(`crash test seed ${seed}, ${iterations} kills`);
    const rng = new TestRng(seed);
    const dir = mkdtempSync(join(tmpdir(), 'tsetcd-crash-'));
    let tornCuts = 0;
    let totalAcked = 0;
    let snaps = 0;
    try {
      for (let it = 0; it < iterations; it++) {
        const killAfterMs = 20 + rng.intn(400);
        const run = await runChild(dir, seed * 1000 + it, killAfterMs);
        snaps += run.snaps;
        const { logger, lines } = collectingLogger();
        // Every other recovery reads in 40-byte pieces (chunk boundaries inside every record) and
        // streams the snapshot back instead of loading it.
        const small = it % 2 === 1;
        const { storage, recovered } = await openStorage(dir, {
          segmentSizeBytes: CHILD_SEGMENT_SIZE_BYTES,
          retainSegments: 1,
          retainSnapshots: 2,
          logger,
          ...(small ? { readChunkBytes: 40, snapshotData: 'stream' as const } : {}),
        });
        await storage.close();
        if (small && recovered.snapshotReader) {
          const parts: Uint8Array[] = [];
          for await (const c of recovered.snapshotReader.chunks()) parts.push(c);
          expect(sameBytes(Buffer.concat(parts), childSnapshotData(recovered.snapshot!.metadata.index))).toBe(true);
        }
        tornCuts += lines.filter((l) => l['msg'] === 'truncated a torn record at the WAL tail').length;
        const what = `seed ${seed} kill ${it} after ${killAfterMs} ms (acked ${run.acked})`;
        const snapIndex = recovered.snapshot?.metadata.index ?? 0;
        if (recovered.snapshot && !small) expect(sameBytes(recovered.snapshot.data, childSnapshotData(snapIndex)), what).toBe(true);
        // Contiguous after the snapshot, every byte as written.
        recovered.entries.forEach((e, i) => {
          expect(e.index, what).toBe(snapIndex + 1 + i);
          expect(e.term, what).toBe(1);
          expect(sameBytes(e.data, payload(e.index, 1, childEntrySize(e.index))), `${what} entry ${e.index}`).toBe(true);
        });
        const last = recovered.entries[recovered.entries.length - 1]?.index ?? snapIndex;
        expect(last, `${what}: acknowledged entries lost`).toBeGreaterThanOrEqual(run.acked);
        expect(recovered.hardState.commit, what).toBeGreaterThanOrEqual(run.ackedCommit);
        expect(recovered.hardState.commit, what).toBeLessThanOrEqual(last);
        totalAcked += run.acked - run.ready;
      }
      console.log(`crash test: ${iterations} kills, ${totalAcked} entries acknowledged, ${snaps} snapshots, ${tornCuts} torn tails cut`);
      expect(totalAcked).toBeGreaterThan(iterations);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
