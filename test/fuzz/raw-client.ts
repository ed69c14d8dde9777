// A gRPC client that sends raw request bytes to any etcd RPC, the way a hostile or buggy client
// can: no typed encoder in the way, so out-of-range enums, empty oneofs and garbage all reach the
// server. encode() builds a valid message from an object (etcd's field names in camelCase) for
// tests that start from a well-formed request. Answers are decoded with our own protos.

import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { loadEtcdProtos } from '../../node/server/proto-load.js';

export type RpcKind = 'unary' | 'serverStream' | 'bidi';

export interface RpcInfo {
  readonly service: string;
  readonly method: string;
  readonly kind: RpcKind;
}

/** Every client RPC of etcd's v3 API that tsetcd serves (Auth answers "not enabled"). */
export function clientRpcs(): RpcInfo[] {
  const def = loadEtcdProtos();
  const out: RpcInfo[] = [];
  for (const [name, svc] of Object.entries(def)) {
    // Message and enum types sit beside the services; they carry a `format`.
    if (!name.startsWith('etcdserverpb.') || 'format' in svc) continue;
    for (const [method, m] of Object.entries(svc as Record<string, MethodDefinition<unknown, unknown>>)) {
      const kind: RpcKind = m.requestStream ? 'bidi' : m.responseStream ? 'serverStream' : 'unary';
      out.push({ service: name.slice('etcdserverpb.'.length), method, kind });
    }
  }
  return out;
}

export interface RawAnswer {
  /** 0 for OK. */
  readonly code: number;
  readonly details: string;
  readonly response?: unknown;
}

function method(service: string, name: string): MethodDefinition<unknown, unknown> {
  const svc = loadEtcdProtos()[`etcdserverpb.${service}`] as Record<string, MethodDefinition<unknown, unknown>> | undefined;
  const m = svc?.[name];
  if (!m) throw new Error(`no such rpc ${service}/${name}`);
  return m;
}

/** A request object encoded with the server's own message definitions. */
export function encode(service: string, name: string, req: unknown): Buffer {
  return method(service, name).requestSerialize(req);
}

export class RawClient {
  private readonly client: Client;

  constructor(address: string) {
    this.client = new Client(address, credentials.createInsecure());
  }

  /** Sends `bytes` as the request (for a stream: as its only message) and collects the answer. */
  call(service: string, name: string, bytes: Buffer, timeoutMs = 10_000): Promise<RawAnswer> {
    const m = method(service, name);
    const path = `/etcdserverpb.${service}/${name}`;
    const identity = (b: Buffer): Buffer => b;
    const decode = (b: Buffer): unknown => m.responseDeserialize(b);
    const deadline = new Date(Date.now() + timeoutMs);
    const fail = (err: ServiceError | null | undefined): RawAnswer => ({ code: err?.code ?? 2, details: err?.details ?? String(err) });
    return new Promise((resolve) => {
      if (!m.requestStream && !m.responseStream) {
        this.client.makeUnaryRequest(path, identity, decode, bytes, new Metadata(), { deadline }, (err, response) => {
          resolve(err ? fail(err) : { code: 0, details: '', response });
        });
        return;
      }
      const call = m.requestStream
        ? this.client.makeBidiStreamRequest(path, identity, decode, new Metadata(), { deadline })
        : this.client.makeServerStreamRequest(path, identity, decode, bytes, new Metadata(), { deadline });
      let first: unknown;
      let settled = false;
      const settle = (a: RawAnswer): void => {
        if (settled) return;
        settled = true;
        resolve(a);
        call.cancel();
      };
      call.on('data', (r: unknown) => {
        first ??= r;
        // One answer is enough to know the stream is served; a watch would otherwise run on.
        if (m.requestStream) settle({ code: 0, details: '', response: first });
      });
      call.on('error', (err: ServiceError) => settle(err.code === 1 && first !== undefined ? { code: 0, details: '', response: first } : fail(err)));
      call.on('end', () => settle({ code: 0, details: '', response: first }));
      if (m.requestStream) {
        const duplex = call as unknown as { write(b: Buffer): boolean; end(): void };
        duplex.write(bytes);
        // Half-close after a moment, so the server's answer to the message comes first.
        setTimeout(() => duplex.end(), 200).unref();
      }
    });
  }

  close(): void {
    this.client.close();
  }
}
