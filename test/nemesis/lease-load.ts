// The lease workload: clients grant leases, attach keys to them, keep them alive, revoke some and
// let the others expire, recording every call and answer with the history's clock. A put to a
// lease already revoked is tried too (etcd refuses it). Lease keys are n/l<client>.<lease>.<j>,
// valued L<client>.<lease>.<j>, each written once; lease-check.ts judges the record against the
// store's event log. Bounded in leases and by `shouldStop`.

import { SimRng } from '../sim/rng.js';
import { monotonicNs } from './history.js';
import { callError, type CallError, type KvClient } from './kv-client.js';

export const LEASE_PREFIX = 'n/l';

/** One call: when it was sent and answered; a failed call has its error (and its outcome is unknown unless the error says). */
export interface Timed {
  readonly call: number;
  readonly ret: number;
  readonly error?: CallError;
}

export interface LeasePut extends Timed {
  readonly key: string;
  readonly value: string;
  readonly rev?: number;
}

export interface LeaseRecord {
  readonly name: string;
  /** 'revoke': kept alive, then revoked; 'expire': kept alive a while, then left to expire. */
  readonly plan: 'revoke' | 'expire';
  readonly grant: Timed & { readonly id: string; readonly ttl: number };
  /** ttl 0: the member answered that the lease is gone. */
  readonly keepAlives: Array<Timed & { readonly ttl?: number }>;
  readonly puts: LeasePut[];
  revoke?: Timed & { readonly rev?: number };
  /** A put to the lease after its revoke was acknowledged: must be refused. */
  lateput?: LeasePut;
}

/** The key prefix of one lease's keys (so n/l1.2. never matches n/l1.20.). */
export const leaseKeyPrefix = (client: number, seq: number): string => `${LEASE_PREFIX}${client}.${seq}.`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function timed<T>(fn: () => Promise<T>): Promise<{ call: number; ret: number; value?: T; error?: CallError }> {
  const call = monotonicNs();
  try {
    const value = await fn();
    return { call, ret: monotonicNs(), value };
  } catch (e) {
    return { call, ret: monotonicNs(), error: callError(e) };
  }
}

/**
 * One lease client: leases one after another until `shouldStop` or `maxLeases`. A call that fails
 * moves the client to the next member. TTLs are 2 or 3 s (etcd's minimum is 1.5 election timeouts).
 */
export async function leaseClient(o: {
  readonly client: number;
  readonly seed: number;
  readonly clients: readonly KvClient[];
  readonly maxLeases: number;
  readonly shouldStop: () => boolean;
  readonly out: LeaseRecord[];
}): Promise<void> {
  const rng = new SimRng(o.seed, 2000 + o.client);
  let member = o.client % o.clients.length;
  const next = (): void => {
    member = (member + 1) % o.clients.length;
  };
  for (let seq = 0; seq < o.maxLeases && !o.shouldStop(); seq++) {
    const ttl = 2 + rng.intn(2);
    const g = await timed(() => o.clients[member]!.leaseGrant(ttl));
    if (!g.value) {
      // Unknown: a lease may exist with no keys; it expires unseen (the end check waits for it).
      next();
      await sleep(100);
      continue;
    }
    const plan = rng.chance(0.5) ? 'revoke' : 'expire';
    const rec: LeaseRecord = { name: `lease ${g.value.id} (${o.client}.${seq})`, plan, grant: { call: g.call, ret: g.ret, id: g.value.id, ttl: g.value.ttl }, keepAlives: [], puts: [] };
    o.out.push(rec);
    const prefix = leaseKeyPrefix(o.client, seq);
    const keys = 1 + rng.intn(3);
    for (let j = 0; j < keys; j++) {
      const key = `${prefix}${j}`;
      const value = `L${o.client}.${seq}.${j}`;
      const p = await timed(() => o.clients[member]!.putWithLease(key, value, rec.grant.id));
      rec.puts.push({ key, value, call: p.call, ret: p.ret, ...(p.value ? { rev: p.value.rev } : {}), ...(p.error ? { error: p.error } : {}) });
      if (!p.value) next();
    }
    // Keep-alives a third of the TTL apart, as etcd's clients send them.
    const renewals = plan === 'expire' && rng.chance(0.3) ? 0 : rng.intn(4);
    for (let k = 0; k < renewals && !o.shouldStop(); k++) {
      await sleep((rec.grant.ttl * 1000) / 3);
      const ka = await timed(() => o.clients[member]!.leaseKeepAlive(rec.grant.id));
      rec.keepAlives.push({ call: ka.call, ret: ka.ret, ...(ka.value !== undefined ? { ttl: ka.value } : {}), ...(ka.error ? { error: ka.error } : {}) });
      if (ka.value === undefined) next();
    }
    if (plan === 'revoke') {
      const r = await timed(() => o.clients[member]!.leaseRevoke(rec.grant.id));
      rec.revoke = { call: r.call, ret: r.ret, ...(r.value ? { rev: r.value.rev } : {}), ...(r.error ? { error: r.error } : {}) };
      if (!r.value) next();
      else if (rng.chance(0.4)) {
        const key = `${prefix}late`;
        const value = `L${o.client}.${seq}.late`;
        const p = await timed(() => o.clients[member]!.putWithLease(key, value, rec.grant.id));
        rec.lateput = { key, value, call: p.call, ret: p.ret, ...(p.value ? { rev: p.value.rev } : {}), ...(p.error ? { error: p.error } : {}) };
      }
    }
  }
}
