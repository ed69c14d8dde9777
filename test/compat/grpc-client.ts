// A gRPC client for the differential test: etcd's own .proto files, with int64 kept as decimal
// strings (IDs at or above 2^53 stay exact), enums as names and bytes as base64, and no default
// values filled in, so an answer shows exactly the fields the server put on the wire.

import { join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type Client, type ClientDuplexStream, type ServiceError, status as GrpcStatus } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoDir } from '../../node/server/proto-load.js';
import type { Observation } from './normalize.js';

type ServiceName = 'KV' | 'Lease' | 'Watch' | 'Cluster' | 'Maintenance' | 'Auth';
type Unary = (req: unknown, md: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: unknown) => void) => void;

let pkg: Record<string, new (addr: string, creds: ReturnType<typeof credentials.createInsecure>) => Client> | undefined;

function services(): NonNullable<typeof pkg> {
  if (pkg) return pkg;
  const dir = protoDir();
  const def = loadSync(join(dir, 'rpc.proto'), { keepCase: true, longs: String, enums: String, bytes: String, defaults: false, oneofs: true, includeDirs: [dir] });
  const root = loadPackageDefinition(def) as unknown as { etcdserverpb: NonNullable<typeof pkg> };
  pkg = root.etcdserverpb;
  return pkg;
}

/** Prints a value with sorted keys, so two answers compare as text. */
export function stableJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x === null || typeof x !== 'object' || Buffer.isBuffer(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sort(o[k])]));
  };
  return JSON.stringify(sort(v));
}

function errorObservation(err: ServiceError): Observation {
  return { status: `grpc ${GrpcStatus[err.code] ?? err.code}`, body: err.details };
}

export class CompatGrpc {
  private readonly clients = new Map<ServiceName, Client>();

  constructor(private readonly address: string) {}

  private client(service: ServiceName): Client {
    let c = this.clients.get(service);
    if (!c) {
      const Ctor = services()[service];
      if (!Ctor) throw new Error(`no service ${service}`);
      c = new Ctor(this.address, credentials.createInsecure());
      this.clients.set(service, c);
    }
    return c;
  }

  /** One unary call, as an observation. */
  unary(service: ServiceName, method: string, req: unknown, timeoutMs = 10_000): Promise<Observation> {
    const c = this.client(service) as unknown as Record<string, Unary>;
    const fn = c[method];
    if (typeof fn !== 'function') throw new Error(`no method ${service}.${method}`);
    return new Promise((resolve) => {
      fn.call(c, req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        resolve(err ? errorObservation(err) : { status: 'grpc OK', body: stableJson(res) });
      });
    });
  }

  /**
   * A watch stream: sends `requests` in order (each after the answer to the one before), then
   * collects answers until `until` says enough or timeoutMs passes. One answer per line.
   */
  watch(requests: readonly unknown[], until: (answers: readonly Record<string, unknown>[]) => boolean, timeoutMs = 10_000): Promise<Observation> {
    const c = this.client('Watch') as unknown as { Watch(md: Metadata): ClientDuplexStream<unknown, Record<string, unknown>> };
    const call = c.Watch(new Metadata());
    const answers: Record<string, unknown>[] = [];
    return new Promise((resolve) => {
      let done = false;
      let next = 0;
      const finish = (status: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        call.cancel();
        resolve({ status, body: answers.map(stableJson).join('\n') });
      };
      const timer = setTimeout(() => finish('watch timed out'), timeoutMs);
      const sendNext = (): void => {
        if (next < requests.length) call.write(requests[next++]);
      };
      call.on('data', (a: Record<string, unknown>) => {
        answers.push(a);
        if (until(answers)) finish('watch OK');
        else sendNext();
      });
      call.on('error', (err: ServiceError) => finish(`grpc ${GrpcStatus[err.code] ?? err.code} ${err.details}`));
      call.on('end', () => finish('watch ended'));
      sendNext();
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
