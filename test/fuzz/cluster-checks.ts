// What "the cluster survived" means after hostile input: every member process still running,
// /health answers 200 on each, and all members agree: the same HashKV at the same revision.
// Waits are on conditions (a follower may apply a little later), never on time alone.

import { status } from '@grpc/grpc-js';
import type { Cluster, RunningMember } from '../integration/harness.js';
import { waitFor } from '../integration/harness.js';
import { RawClient, encode } from './raw-client.js';

const WAIT_MS = 60_000;

interface HashKvAnswer {
  hash: number;
  header: { revision: number };
}

async function hashKvAt(m: RunningMember, revision: number): Promise<number> {
  const c = new RawClient(`127.0.0.1:${m.clientPort}`);
  try {
    return await waitFor(
      `${m.name} HashKV at ${revision}`,
      async () => {
        const a = await c.call('Maintenance', 'HashKV', encode('Maintenance', 'HashKV', { revision }));
        if (a.code === status.OK) return (a.response as HashKvAnswer).hash;
        return undefined; // not applied that far yet (future revision) or busy: ask again
      },
      WAIT_MS,
      100,
    );
  } finally {
    c.close();
  }
}

async function currentRevision(m: RunningMember): Promise<number> {
  const c = new RawClient(`127.0.0.1:${m.clientPort}`);
  try {
    return await waitFor(
      `${m.name} revision`,
      async () => {
        const a = await c.call('KV', 'Range', encode('KV', 'Range', { key: Buffer.from('\0'), countOnly: true }));
        return a.code === status.OK ? (a.response as HashKvAnswer).header.revision : undefined;
      },
      WAIT_MS,
      100,
    );
  } finally {
    c.close();
  }
}

/** Problems found (empty: alive, healthy and in agreement). */
export async function clusterProblems(cluster: Cluster): Promise<string[]> {
  const problems: string[] = [];
  for (const m of cluster.members) {
    if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null) problems.push(`${m.name} exited (${m.proc?.exitCode ?? m.proc?.signalCode})`);
  }
  if (problems.length > 0) return problems;
  try {
    await cluster.waitHealthy(cluster.members, WAIT_MS);
    // A linearizable read on the first member: its revision is committed, so all reach it.
    const rev = await currentRevision(cluster.members[0]!);
    const hashes = await Promise.all(cluster.members.map((m) => hashKvAt(m, rev)));
    if (new Set(hashes).size !== 1) problems.push(`HashKV at revision ${rev} differs: ${hashes.join(', ')}`);
  } catch (e) {
    problems.push(String(e));
  }
  return problems;
}
