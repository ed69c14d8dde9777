// The tsetcd operator's entry point: parse config once, start, stop cleanly on SIGTERM/SIGINT.
import { hostname } from 'node:os';
import { ConfigError, parseConfig } from './config.js';
import { startOperator } from './operator.js';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseConfig(process.argv.slice(2), { ...process.env, PID: String(process.pid) }, hostname());
  } catch (err: unknown) {
    if (err instanceof ConfigError) {
      console.error(`tsetcd-operator: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const op = await startOperator(cfg, {
    onLostLeadership: () => {
      console.error(JSON.stringify({ level: 'error', component: 'tsetcd-operator', msg: 'lost the leader-election Lease; exiting' }));
      process.exit(1);
    },
  });
  console.error(JSON.stringify({ level: 'info', component: 'tsetcd-operator', msg: 'started', metrics: op.metricsURL }));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void op.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`tsetcd-operator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
