// Command line of the node agent, parsed once into a frozen object.
// Test infrastructure for the local control plane.
import { resolve } from 'node:path';
import { parseNodeSpec, type NodeSpec } from './node-spec.js';
import type { ImageMapping } from './pod-process.js';

export interface NodeAgentConfig {
  kubeconfig: string;
  stateDir: string;
  bridge: string;
  bridgeCidr: string;
  nodes: NodeSpec[];
  imageMap: ImageMapping[];
  leaseRenewMs: number;
  nodeStatusMs: number;
  maxRestartBackoffMs: number;
}

export const usage = `usage: node-agent --kubeconfig FILE --state-dir DIR --node SPEC [--node SPEC]...
  [--bridge tsetcd0] [--bridge-cidr 198.18.0.1/16] [--image-map NAME=PATH]...
  [--lease-renew-ms 10000] [--node-status-ms 30000] [--max-restart-backoff-ms 10000]
SPEC: name[:label=value,...][:taint=key=value:Effect,...]`;

export function parseConfig(argv: string[]): Readonly<NodeAgentConfig> {
  const cfg: NodeAgentConfig = {
    kubeconfig: '', stateDir: '', bridge: 'tsetcd0', bridgeCidr: '198.18.0.1/16', nodes: [], imageMap: [],
    leaseRenewMs: 10_000, nodeStatusMs: 30_000, maxRestartBackoffMs: 10_000,
  };
  const num = (flag: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: not a positive integer: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value\n${usage}`);
    i++;
    switch (flag) {
      case '--kubeconfig': cfg.kubeconfig = resolve(v); break;
      case '--state-dir': cfg.stateDir = resolve(v); break;
      case '--bridge': cfg.bridge = v; break;
      case '--bridge-cidr': cfg.bridgeCidr = v; break;
      case '--node': cfg.nodes.push(parseNodeSpec(v)); break;
      case '--image-map': {
        const eq = v.indexOf('=');
        if (eq <= 0) throw new Error(`--image-map ${v}: expected NAME=PATH`);
        cfg.imageMap.push({ name: v.slice(0, eq), path: resolve(v.slice(eq + 1)) });
        break;
      }
      case '--lease-renew-ms': cfg.leaseRenewMs = num(flag, v); break;
      case '--node-status-ms': cfg.nodeStatusMs = num(flag, v); break;
      case '--max-restart-backoff-ms': cfg.maxRestartBackoffMs = num(flag, v); break;
      default: throw new Error(`unknown flag ${flag}\n${usage}`);
    }
  }
  if (cfg.kubeconfig === '' || cfg.stateDir === '' || cfg.nodes.length === 0) throw new Error(usage);
  if (new Set(cfg.nodes.map((n) => n.name)).size !== cfg.nodes.length) throw new Error('duplicate --node name');
  return Object.freeze(cfg);
}
