// A private network for the nemesis suite: one bridge on this host and one network namespace per
// member, joined by a veth pair (the control plane's pod network, hack/node-agent/netns.ts, does
// the same with tsp-* names). Every name here starts with tsn (netns tsn-<tag>-<i>, bridge
// tsnb<tag>, veths tsnv<tag><i>), the tag is this process's, and the subnet is 198.19.<n>.0/24
// (RFC 2544's benchmark range, never routed off this machine), so two runs, the control plane
// and other suites never share a name. The host's client traffic reaches the members over the
// bridge; faults are iptables rules inside the members' namespaces, so the host's tables are
// never touched.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(cmd, args, { encoding: 'utf8' });
  return stdout;
}

async function quiet(cmd: string, ...args: string[]): Promise<void> {
  await run(cmd, args).catch(() => undefined);
}

export interface MemberNet {
  readonly netns: string;
  readonly ip: string;
}

/** True when this machine can build the network: root, ip and iptables (CI runs as root too). */
export async function canBuildNetworks(): Promise<{ ok: boolean; why: string }> {
  if (process.getuid?.() !== 0) return { ok: false, why: 'needs root (network namespaces)' };
  for (const tool of ['ip', 'iptables']) {
    const found = await run('sh', ['-c', `command -v ${tool}`]).then(() => true, () => false);
    if (!found) return { ok: false, why: `needs ${tool}` };
  }
  return { ok: true, why: '' };
}

export class NemesisNetwork {
  readonly bridge: string;
  readonly members: MemberNet[] = [];
  private readonly veths: string[] = [];

  private constructor(readonly tag: string, readonly subnet: number) {
    this.bridge = `tsnb${tag}`;
  }

  /** Creates the bridge and `size` namespaces. The tag is 5 hex digits (interface names <= 15). */
  static async create(size: number, tag = nextTag()): Promise<NemesisNetwork> {
    const subnet = await freeSubnet(parseInt(tag, 16));
    const net = new NemesisNetwork(tag, subnet);
    try {
      await net.build(size);
    } catch (e) {
      await net.destroy();
      throw e;
    }
    return net;
  }

  get bridgeIp(): string {
    return `198.19.${this.subnet}.1`;
  }

  private async build(size: number): Promise<void> {
    await sh('ip', 'link', 'add', this.bridge, 'type', 'bridge');
    await sh('ip', 'addr', 'add', `${this.bridgeIp}/24`, 'dev', this.bridge);
    await sh('ip', 'link', 'set', this.bridge, 'up');
    for (let i = 0; i < size; i++) {
      const netns = `tsn-${this.tag}-${i}`;
      const host = `tsnv${this.tag}${i}`;
      const peer = `tsnp${this.tag}${i}`;
      const ip = `198.19.${this.subnet}.${10 + i}`;
      await quiet('ip', 'netns', 'del', netns);
      await sh('ip', 'netns', 'add', netns);
      this.members.push({ netns, ip });
      await sh('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
      this.veths.push(host);
      await sh('ip', 'link', 'set', peer, 'netns', netns);
      await sh('ip', 'link', 'set', host, 'master', this.bridge);
      await sh('ip', 'link', 'set', host, 'up');
      await sh('ip', '-n', netns, 'link', 'set', peer, 'name', 'eth0');
      await sh('ip', '-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
      await sh('ip', '-n', netns, 'link', 'set', 'eth0', 'up');
      await sh('ip', '-n', netns, 'link', 'set', 'lo', 'up');
    }
  }

  /** Member `to` stops receiving packets from member `from` (a one-way partition). */
  async dropFrom(to: number, from: number): Promise<void> {
    const dst = this.members[to]!;
    await sh('ip', 'netns', 'exec', dst.netns, 'iptables', '-w', '-A', 'INPUT', '-s', this.members[from]!.ip, '-j', 'DROP');
  }

  /** Removes every fault rule in every namespace. */
  async heal(): Promise<void> {
    for (const m of this.members) await sh('ip', 'netns', 'exec', m.netns, 'iptables', '-w', '-F', 'INPUT');
  }

  /** Removes the namespaces, veths and the bridge this network made; quiet about missing ones. */
  async destroy(): Promise<void> {
    for (const m of this.members) await quiet('ip', 'netns', 'del', m.netns);
    for (const v of this.veths) await quiet('ip', 'link', 'del', v);
    await quiet('ip', 'link', 'del', this.bridge);
  }
}

let networksMade = 0;

/** This process's pid and a count of its networks, so no two networks share a name. */
function nextTag(): string {
  return ((process.pid * 16 + networksMade++) & 0xfffff).toString(16).padStart(5, '0');
}

/** A /24 in 198.19.0.0/16 that no interface on this host uses yet, starting from a hint. */
async function freeSubnet(hint: number): Promise<number> {
  const used = await sh('ip', '-4', '-o', 'addr', 'show');
  for (let k = 0; k < 250; k++) {
    const n = 1 + ((hint + k) % 250);
    if (!used.includes(`198.19.${n}.`)) return n;
  }
  throw new Error('no free 198.19.x.0/24 subnet');
}
