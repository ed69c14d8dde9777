// A manual conformance check of the client API's HTTP/2 servers with h2spec
// (github.com/summerwind/h2spec): a member's client servers on a memory backend, on loopback,
// plaintext (h2c with prior knowledge), and h2spec run against them. Not part of `make test`:
// h2spec's cases that need a response body to a plain `GET /` cannot pass on a gRPC server
// (grpc-js, and we, answer a non-gRPC content type with a bodiless 415).
//
//   GOPATH=$PWD/.cache/h2spec/gopath GOBIN=$PWD/.cache/h2spec/bin go install github.com/summerwind/h2spec/cmd/h2spec@latest
//   npx tsx hack/h2spec.ts [--kind=h2|lean|grpc-js] [--path=/etcdserverpb.KV/Range] [-- h2spec's cases and flags]

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../node/log.js';
import { createMemberMetrics, startServers } from '../node/server/index.js';
import { isGrpcServerKind } from '../node/server/lean-grpc/kind.js';
import { MemoryBackend } from '../node/server/testing/memory-backend.js';

const arg = (name: string, dflt: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const kind = arg('kind', 'h2');
if (!isGrpcServerKind(kind)) throw new Error(`--kind: ${kind}?`);
const bin = process.env['H2SPEC'] ?? join(process.cwd(), '.cache', 'h2spec', 'bin', 'h2spec');
if (!existsSync(bin)) throw new Error(`${bin} missing: see the install line at the top of hack/h2spec.ts`);
// Every case but http2/5.1.2: it opens one stream more than SETTINGS_MAX_CONCURRENT_STREAMS,
// which is grpc-js's 2^31 - 1 on every server here.
const EVERY_CASE_BUT_5_1_2 = ['generic', 'hpack', 'http2/3', 'http2/4', ...Array.from({ length: 13 }, (_, i) => `http2/5.1/${i + 1}`), 'http2/5.1.1', 'http2/5.3', 'http2/5.4', 'http2/5.5', 'http2/6', 'http2/7', 'http2/8'];
const extra = process.argv.includes('--') ? process.argv.slice(process.argv.indexOf('--') + 1) : EVERY_CASE_BUT_5_1_2;

const backend = new MemoryBackend({ leaseCheckMs: 100 });
const servers = await startServers({
  config: { listenClientUrls: ['http://127.0.0.1:0'], listenMetricsUrls: [], maxRequestBytes: 1.5 * 1024 * 1024, maxTxnOps: 128, grpcServer: kind },
  backend,
  metrics: createMemberMetrics(undefined, { defaultMetrics: false }),
  logger: createLogger({ component: 'h2spec', level: 'error' }),
});
const port = servers.clientListeners[0]!.port;
// Async: this process's event loop serves the member.
const code = await new Promise<number>((resolve) => {
  const p = spawn(bin, ['-h', '127.0.0.1', '-p', String(port), '-P', arg('path', '/'), ...extra], { stdio: 'inherit' });
  p.on('close', (c) => resolve(c ?? 1));
});
await servers.stop();
backend.close();
process.exit(code);
