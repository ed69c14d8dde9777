// Entry point of the node agent (test infrastructure for the local control plane; see
// docs/e2e.md). Started by hack/control-plane/up.sh; stops cleanly on SIGTERM/SIGINT,
// killing every Pod process it started.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeAgent } from './agent.js';
import { parseConfig } from './config.js';
import { kubeClientFromFile } from './kube-client.js';
import { jsonLogger } from './logger.js';

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  const log = jsonLogger('node-agent', (line) => console.log(line));
  const kube = await kubeClientFromFile(cfg.kubeconfig);
  const agent = new NodeAgent(kube, {
    nodes: cfg.nodes, stateDir: cfg.stateDir, bridge: cfg.bridge, bridgeCidr: cfg.bridgeCidr, imageMap: cfg.imageMap,
    podExecScript: join(dirname(fileURLToPath(import.meta.url)), 'pod-exec.sh'),
    leaseRenewMs: cfg.leaseRenewMs, nodeStatusMs: cfg.nodeStatusMs, maxRestartBackoffMs: cfg.maxRestartBackoffMs,
  }, log);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal: sig });
    agent.stop().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await agent.start();
  log.info('started', { nodes: cfg.nodes.map((n) => n.name) });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
