// The member's identity on disk: who it is and which cluster it belongs to. Written once, at
// the first start, next to the WAL; on every later start it wins over the --initial-* flags,
// as etcd's data dir does (etcd keeps the same facts in its WAL metadata).

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { NodeId } from '../raft/types.js';
import { clusterIdOf, idFromJson, memberIdOf, stringifyWithIds } from './ids.js';
import { memberRecordFromJson, type MemberRecord } from './membership.js';

export interface Identity {
  readonly version: 1;
  readonly name: string;
  readonly memberId: NodeId;
  readonly clusterId: NodeId;
  /** The membership the cluster started with (index 0 snapshot), for a member bootstrapped with 'new'. */
  readonly initialMembers: readonly MemberRecord[];
  /** true: this member joined an existing cluster and learns membership from the leader. */
  readonly joined: boolean;
  /** For a joined member: the members it found when it joined (whom to talk to first). */
  readonly peerHints?: ReadonlyArray<{ readonly id: NodeId; readonly peerUrls: readonly string[] }>;
}

/**
 * The identity of a member of a new cluster: --initial-cluster-state=new, or `tsetcd snapshot
 * restore`. Member ids come from the peer URLs and the token, so every member computes the same.
 */
export function newClusterIdentity(
  name: string,
  initialCluster: ReadonlyArray<{ readonly name: string; readonly peerUrls: readonly string[] }>,
  clusterToken: string,
  bad: (why: string) => Error,
): Identity {
  const members: MemberRecord[] = initialCluster.map((m) => ({
    id: memberIdOf(m.peerUrls, clusterToken),
    name: m.name,
    peerUrls: [...m.peerUrls],
    clientUrls: [],
    isLearner: false,
  }));
  const ids = new Set(members.map((m) => m.id));
  if (ids.size !== members.length) throw bad('two members of --initial-cluster have the same peer URLs');
  const self = members.find((m) => m.name === name);
  if (!self) throw bad(`couldn't find local name "${name}" in the initial cluster configuration`);
  return { version: 1, name, memberId: self.id, clusterId: clusterIdOf(members.map((m) => m.id)), initialMembers: members, joined: false };
}

export function identityPath(dataDir: string): string {
  return join(dataDir, 'member', 'identity.json');
}

export async function readIdentity(dataDir: string): Promise<Identity | undefined> {
  let text: string;
  try {
    text = await readFile(identityPath(dataDir), 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  const j = JSON.parse(text) as Identity;
  try {
    if (j.version !== 1) throw new Error(`version ${String(j.version)}`);
    // Ids are decimal strings; a file written when ids were numbers holds numbers.
    return {
      ...j,
      memberId: idFromJson(j.memberId, 'memberId'),
      clusterId: idFromJson(j.clusterId, 'clusterId'),
      initialMembers: (j.initialMembers ?? []).map(memberRecordFromJson),
      ...(j.peerHints ? { peerHints: j.peerHints.map((h) => ({ id: idFromJson(h.id, 'peer hint id'), peerUrls: [...h.peerUrls] })) } : {}),
    };
  } catch (err) {
    throw new Error(`unreadable member identity file ${identityPath(dataDir)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Writes atomically: tmp file, fsync, rename, fsync the directory. */
export async function writeIdentity(dataDir: string, id: Identity): Promise<void> {
  const path = identityPath(dataDir);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = path + '.tmp';
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(stringifyWithIds(id, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
