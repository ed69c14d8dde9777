// One network namespace per Pod, joined to the host bridge by a veth pair, and the command
// line that runs a process inside it. Test infrastructure for the local control plane.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PodNetwork {
  netns: string;
  hostVeth: string;
  ip: string;
}

/** Names derived from the Pod's uid: netns `tsp-<10 hex>`, host veth `tsv<10 hex>` (<= 15 chars). */
export function podNetworkNames(uid: string): { netns: string; hostVeth: string; peerVeth: string } {
  const h = createHash('sha256').update(uid).digest('hex').slice(0, 10);
  return { netns: `tsp-${h}`, hostVeth: `tsv${h}`, peerVeth: `tsq${h}` };
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

export async function createPodNetwork(uid: string, podIp: string, prefixLength: number, gateway: string, bridge: string): Promise<PodNetwork> {
  const { netns, hostVeth, peerVeth } = podNetworkNames(uid);
  await deletePodNetwork(netns);
  await ip('netns', 'add', netns);
  try {
    await ip('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', peerVeth);
    await ip('link', 'set', peerVeth, 'netns', netns);
    await ip('link', 'set', hostVeth, 'master', bridge);
    await ip('link', 'set', hostVeth, 'up');
    await ip('-n', netns, 'link', 'set', peerVeth, 'name', 'eth0');
    await ip('-n', netns, 'addr', 'add', `${podIp}/${prefixLength}`, 'dev', 'eth0');
    await ip('-n', netns, 'link', 'set', 'eth0', 'up');
    await ip('-n', netns, 'link', 'set', 'lo', 'up');
    await ip('-n', netns, 'route', 'add', 'default', 'via', gateway);
  } catch (err) {
    await deletePodNetwork(netns);
    throw err;
  }
  return { netns, hostVeth, ip: podIp };
}

/** Removes the namespace (its veth pair goes with it). Quiet when it does not exist. */
export async function deletePodNetwork(netns: string): Promise<void> {
  try {
    await ip('netns', 'del', netns);
  } catch {
    /* already gone */
  }
}

/**
 * argv that runs `file args` inside the Pod's network namespace, in a private mount and UTS
 * namespace where the agent's hosts file is bound on /etc/hosts and each volume folder on
 * its mount path (see pod-exec.sh).
 */
export function podExecArgv(opts: {
  netns: string;
  podExecScript: string;
  hostsFile: string;
  hostname: string;
  binds: Array<{ source: string; target: string }>;
  workingDir?: string;
  file: string;
  args: string[];
}): string[] {
  const argv = ['ip', 'netns', 'exec', opts.netns, 'unshare', '--uts', '--', 'bash', opts.podExecScript, opts.hostsFile, opts.hostname, opts.workingDir ?? '/'];
  for (const b of opts.binds) argv.push('-b', b.source, b.target);
  argv.push('--', opts.file, ...opts.args);
  return argv;
}
