// A put waiting for its proposal to be applied does not hold its request (the value, and the
// request buffer it is a view of): held that long, they are promoted and wait for a full GC.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { createMemberMetrics, startServers } from './index.js';
import type { RunningServers } from './index.js';
import { MemoryBackend } from './testing/memory-backend.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A backend whose puts are applied at once but answered only when `release` is called. */
class HeldPuts extends MemoryBackend {
  requests: Array<WeakRef<object>> = [];
  private gate: Promise<void> | undefined;
  release: () => void = () => undefined;
  arrived: Promise<void> = Promise.resolve();
  private onArrive: () => void = () => undefined;
  hold(): void {
    this.gate = new Promise<void>((r) => (this.release = r));
    this.arrived = new Promise<void>((r) => (this.onArrive = r));
  }
  override put(...args: Parameters<MemoryBackend['put']>): ReturnType<MemoryBackend['put']> {
    this.requests.push(new WeakRef(args[0]));
    const applied = super.put(...args);
    this.onArrive();
    const gate = this.gate;
    return gate ? gate.then(() => applied) : applied;
  }
}

let backend: HeldPuts;
let servers: RunningServers;
let client: Etcd3;

beforeAll(async () => {
  backend = new HeldPuts({ leaseCheckMs: 100 });
  servers = await startServers({
    config: { listenClientUrls: ['http://127.0.0.1:0'], listenMetricsUrls: [], maxRequestBytes: 1.5 * 1024 * 1024, maxTxnOps: 128, leaderCheckIntervalMs: 50 },
    backend,
    metrics: createMemberMetrics(undefined, { level: 'basic' }),
    logger: createLogger({ component: 'test', level: 'error' }),
  });
  client = new Etcd3({ hosts: `127.0.0.1:${servers.clientListeners[0]!.port}` });
});

afterAll(async () => {
  client?.close();
  await servers?.stop();
  backend?.close();
});

describe('Put in flight', () => {
  it('keeps no reference to its request while it waits; the value put reads back unchanged', async () => {
    const value = Buffer.alloc(1024, 'v');
    await client.put('warm').value('up');
    backend.requests = [];
    backend.hold();
    const put = client.put('held').value(value).exec();
    await backend.arrived;
    // A WeakRef holds its target until the current task ends: look in the next one.
    await new Promise<void>((r) => setImmediate(r));
    gc();
    expect(backend.requests).toHaveLength(1);
    expect(backend.requests[0]!.deref()).toBeUndefined();
    backend.release();
    await put;
    expect(await client.get('held').buffer()).toEqual(value);
  });
});
