// A put load against a running cluster (e.g. `make run`), for profiling the member runtime:
//   npx tsx hack/bench-member-put.ts --endpoints 127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 --clients 200 --seconds 10
// Each client awaits its put (1 KiB value) before the next; prints throughput and p50/p99.
// Bounded in time; sends traffic only to the endpoints given (loopback in our runs).
import { Etcd3 } from 'etcd3';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const endpoints = arg('endpoints', '127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379').split(',');
  const clients = Number(arg('clients', '100'));
  const seconds = Number(arg('seconds', '10'));
  const conns = Math.min(clients, Number(arg('conns', '8')));
  const etcds = Array.from({ length: conns }, (_, i) => new Etcd3({ hosts: `http://${endpoints[i % endpoints.length]}` }));
  const value = Buffer.alloc(1024, 'v');
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const e = etcds[c % conns]!;
      for (let n = 0; Date.now() < end; n++) {
        const t = performance.now();
        try {
          await e.put(`bench/${c}/${n % 1000}`).value(value);
          lat.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  console.log(
    `put 1KiB: clients=${clients} conns=${conns} ${(lat.length / secs).toFixed(0)} ops/s p50=${q(0.5).toFixed(1)}ms p99=${q(0.99).toFixed(1)}ms max=${q(1).toFixed(1)}ms errors=${errors}`,
  );
  for (const e of etcds) e.close();
}

void main();
