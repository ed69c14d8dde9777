// Who a request runs as, and the checks etcd's server makes before it serves a request
// locally (etcdserver/v3_server.go doSerialize, v3rpc's watch and maintenance auth wrappers).
// Writes are checked again at apply (node/mvcc/auth-gate.ts) against the auth revision seen here.
//
// Cost with auth off: one boolean read per request (authInfoOf returns at once).

import { AuthError } from '../mvcc/auth-errors.js';
import type { AuthInfo } from '../mvcc/auth-store.js';
import { checkTxn } from '../mvcc/auth-gate.js';
import type { TxnRequest } from '../mvcc/types.js';
import { skeyOf } from '../mvcc/bytes.js';
import type { ServerContext } from './rpc-context.js';

const sk = (b: Uint8Array | undefined): string => (b === undefined || b.length === 0 ? '' : skeyOf(b));

/** What the checks read of a call's metadata (grpc-js's Metadata, the lean calls' HeaderMetadata). */
export interface CallMetadata {
  get(key: string): (string | Buffer)[];
}

/** A call as the checks need it: its metadata and, over TLS, its peer's certificate. */
export interface Caller {
  readonly metadata: CallMetadata;
  /** grpc-js's auth context: the peer certificate of a TLS connection. */
  getAuthContext?(): { readonly sslPeerCertificate?: { readonly subject?: { readonly CN?: string | string[] } } };
}

/**
 * etcd's AuthInfoFromCtx: the `token` metadata (or the gateway's `authorization`); a token
 * that names no live session fails with "invalid auth token". No token: with
 * --client-cert-auth, the Common Name of the client's verified certificate is the user
 * (etcd's AuthInfoFromTLS; never for the gateway's own calls); else no user (a check that
 * needs one then fails with "user name is empty").
 */
export function authInfoOf(ctx: ServerContext, call: Caller): AuthInfo | undefined {
  const auth = ctx.backend.auth;
  if (!auth.store.enabled) return undefined;
  const md = call.metadata;
  let v = md.get('token');
  if (v.length === 0) v = md.get('authorization');
  if (v.length > 0) {
    const ai = auth.tokenInfo(String(v[0]));
    if (!ai) throw new AuthError('invalidAuthToken');
    return ai;
  }
  if (ctx.auth?.clientCertAuth && call.getAuthContext) {
    // The listener verified the chain (rejectUnauthorized with --client-cert-auth).
    const cn = call.getAuthContext().sslPeerCertificate?.subject?.CN;
    if (typeof cn === 'string' && cn !== '') return { username: cn, revision: auth.store.revision() };
  }
  return undefined;
}


/** A local read over [key, rangeEnd): etcd's doSerialize check, before the read. */
export function checkRead(ctx: ServerContext, call: Caller, key: Uint8Array, rangeEnd: Uint8Array | undefined): AuthInfo | undefined {
  if (!ctx.backend.auth.store.enabled) return undefined;
  const ai = authInfoOf(ctx, call);
  const e = ctx.backend.auth.store.checkRange(ai, false, sk(key), sk(rangeEnd));
  if (e) throw e;
  return ai;
}

/** A read-only txn served locally: etcd's CheckTxnAuth (read on every compare and range), before the read. */
export function checkTxnRead(ctx: ServerContext, call: Caller, t: TxnRequest): AuthInfo | undefined {
  if (!ctx.backend.auth.store.enabled) return undefined;
  const ai = authInfoOf(ctx, call);
  const e = checkTxn(ctx.backend.auth.store, ai, t);
  if (e) throw e;
  return ai;
}

/** After a local read: the auth state moved while it ran, so its check may no longer hold. */
export function checkReadStillValid(ctx: ServerContext, ai: AuthInfo | undefined): void {
  if (ai && ai.revision !== ctx.backend.auth.store.revision()) throw new AuthError('authOldRevision');
}

/**
 * Calls any authenticated user may make with auth on, but not an anonymous one: Status,
 * MemberList and Alarm (what etcd 3.6.16 answers: "user name is empty" without a user, and the
 * call served for a user of any role).
 */
export function checkUser(ctx: ServerContext, call: Caller): void {
  if (!ctx.backend.auth.store.enabled) return;
  if (authInfoOf(ctx, call) === undefined) throw new AuthError('userEmpty');
}

/** Calls only root may make with auth on (maintenance, membership changes). */
export function checkAdmin(ctx: ServerContext, call: Caller): void {
  if (!ctx.backend.auth.store.enabled) return;
  const e = ctx.backend.auth.store.checkAdmin(authInfoOf(ctx, call));
  if (e) throw e;
}

/** LeaseTimeToLive: with auth on, the caller must be able to read every key of the lease. */
export function checkLeaseRead(ctx: ServerContext, call: Caller, leaseId: bigint): void {
  const auth = ctx.backend.auth;
  if (!auth.store.enabled) return;
  const ai = authInfoOf(ctx, call);
  if (!ai) throw new AuthError('userEmpty');
  for (const k of auth.leaseKeys(leaseId) ?? []) {
    const e = auth.store.checkRange(ai, false, k, '');
    if (e) throw e;
  }
}

/**
 * A watch create (etcd's isWatchPermitted, after its key normalization: an empty key is "\0",
 * a range end of "\0" becomes empty, so a from-key watch is checked as its first key alone).
 * Returns the cancel reason etcd sends on the stream, or undefined when allowed.
 */
export function watchRefusal(ctx: ServerContext, call: Caller, key: Uint8Array | undefined, rangeEnd: Uint8Array | undefined): string | undefined {
  if (!ctx.backend.auth.store.enabled) return undefined;
  let k = sk(key);
  if (k === '') k = '\u0000';
  let end = sk(rangeEnd);
  if (end === '\u0000') end = '';
  let err: AuthError | undefined;
  try {
    err = ctx.backend.auth.store.checkRange(authInfoOf(ctx, call), false, k, end);
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    err = e;
  }
  if (!err) return undefined;
  // etcd formats the reason with the gRPC status's Error(): "rpc error: code = ... desc = ...".
  const shown = err.code === 'invalidAuthToken' || err.code === 'authOldRevision' || err.code === 'userEmpty' ? err : new AuthError('permissionDenied');
  return `rpc error: code = ${shown.grpcCode} desc = ${shown.grpcMessage}`;
}
