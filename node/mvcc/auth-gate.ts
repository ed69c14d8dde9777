// The permission checks etcd's authApplierV3 makes when it applies a key-value write
// (server/etcdserver/apply/apply_auth.go, txn.CheckTxnAuth), and the ones its server makes
// before a local read. Run at apply against the auth revision the request's credentials were
// checked at, so a permission revoked between the check and the apply cannot be used.
// Pure: the auth store, the request and the lease's keys are all it reads.

import type { AuthError } from './auth-errors.js';
import type { AuthInfo, AuthStore } from './auth-store.js';
import { skeyOf } from './bytes.js';
import type { Command, LeaseId, RequestOp, TxnRequest } from './types.js';

/** What the checks of keys ask of the auth store. */
type RangeChecker = Pick<AuthStore, 'checkRange'>;

/** The live keys (skeys) attached to a lease; empty or undefined when it has none. */
export type LeaseKeys = (leaseId: LeaseId) => Iterable<string> | undefined;

const sk = (b: Uint8Array | undefined): string => (b === undefined || b.length === 0 ? '' : skeyOf(b));

/** A write to every key of a lease is needed to attach more keys to it or to revoke it. */
function checkLeasePuts(auth: RangeChecker, ai: AuthInfo | undefined, leaseId: LeaseId | undefined, leaseKeys: LeaseKeys): AuthError | undefined {
  if (!leaseId) return undefined;
  for (const k of leaseKeys(leaseId) ?? []) {
    const e = auth.checkRange(ai, true, k, '');
    if (e) return e;
  }
  return undefined;
}

function checkOps(auth: RangeChecker, ai: AuthInfo | undefined, ops: readonly RequestOp[] | undefined): AuthError | undefined {
  for (const op of ops ?? []) {
    let e: AuthError | undefined;
    if ('requestRange' in op) e = auth.checkRange(ai, false, sk(op.requestRange.key), sk(op.requestRange.rangeEnd));
    else if ('requestPut' in op) e = auth.checkRange(ai, true, sk(op.requestPut.key), '');
    else if ('requestDeleteRange' in op) {
      const d = op.requestDeleteRange;
      if (d.prevKv) e = auth.checkRange(ai, false, sk(d.key), sk(d.rangeEnd));
      e ??= auth.checkRange(ai, true, sk(d.key), sk(d.rangeEnd));
    } else e = checkTxn(auth, ai, op.requestTxn);
    if (e) return e;
  }
  return undefined;
}

/** etcd's CheckTxnAuth: read on every compare, then every op of both branches, nested txns too. */
export function checkTxn(auth: RangeChecker, ai: AuthInfo | undefined, t: TxnRequest): AuthError | undefined {
  for (const c of t.compare ?? []) {
    const e = auth.checkRange(ai, false, sk(c.key), sk(c.rangeEnd));
    if (e) return e;
  }
  return checkOps(auth, ai, t.success) ?? checkOps(auth, ai, t.failure);
}

/** The check for one write command at apply; undefined: allowed (always, with auth off). */
export function checkCommand(auth: AuthStore, ai: AuthInfo | undefined, cmd: Command, leaseKeys: LeaseKeys): AuthError | undefined {
  if (!auth.enabled) return undefined;
  switch (cmd.type) {
    case 'put': {
      const p = cmd.req;
      const key = sk(p.key);
      return auth.checkRange(ai, true, key, '') ?? checkLeasePuts(auth, ai, p.lease, leaseKeys) ?? (p.prevKv ? auth.checkRange(ai, false, key, '') : undefined);
    }
    case 'deleteRange': {
      const d = cmd.req;
      return auth.checkRange(ai, true, sk(d.key), sk(d.rangeEnd)) ?? (d.prevKv ? auth.checkRange(ai, false, sk(d.key), sk(d.rangeEnd)) : undefined);
    }
    case 'txn':
      return checkTxn(auth, ai, cmd.req);
    case 'leaseRevoke':
      return checkLeasePuts(auth, ai, cmd.req.ID, leaseKeys);
    case 'compaction':
      // etcd 3.6 lets only root compact.
      return auth.checkAdmin(ai);
    case 'leaseGrant':
    case 'leaseCheckpoint':
    case 'alarm':
      return undefined;
    default: {
      const never: never = cmd;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}
