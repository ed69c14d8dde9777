// Decoding a committed entry for apply, made total: every byte string gives either something to
// apply or the reason it cannot be applied; nothing here throws. Every member decodes the same
// bytes the same way, so an entry that cannot be decoded takes the same path on every member
// (skipped, logged, counted), and the members keep agreeing and keep serving. Bad bytes in the
// log are bad input, not a broken invariant: they must never stop a member.

import { decodeConfChange, type ConfChange } from '../raft/index.js';
import { decodeCommand } from '../mvcc/codec.js';
import type { Command } from '../mvcc/types.js';
import { isAuthCommand, type AuthCommand, type AuthInfo } from '../mvcc/auth-store.js';
import { decodeAuthBody } from './auth-body.js';
import type { DowngradeInfo } from '../server/backend.js';
import { decodeEnvelope } from './envelope.js';
import { idFromJson } from './ids.js';
import { decodeConfContext, type ConfChangeContext, type MemberAttrs, type MemberRecord } from './membership.js';

/** Which decoding step refused an entry (the metric's label). */
export type SkipKind = 'envelope' | 'command' | 'attrs' | 'auth' | 'downgrade' | 'confChange';

export interface Skipped {
  readonly ok: false;
  readonly kind: SkipKind;
  readonly reason: string;
  /** Known when the envelope decoded: the proposer's waiter can be answered. */
  readonly proposer?: bigint;
  readonly requestId?: number;
}

export type NormalEntry =
  | {
      readonly ok: true;
      readonly kind: 'mvcc';
      readonly proposer: bigint;
      readonly requestId: number;
      readonly cmd: Command;
      /** Set for a write made as a user ('mvccAs'): checked against the auth store at apply. */
      readonly as?: { readonly ai: AuthInfo | undefined };
    }
  | { readonly ok: true; readonly kind: 'auth'; readonly proposer: bigint; readonly requestId: number; readonly cmd: AuthCommand; readonly ai: AuthInfo | undefined }
  | { readonly ok: true; readonly kind: 'attrs'; readonly proposer: bigint; readonly requestId: number; readonly attrs: MemberAttrs }
  | { readonly ok: true; readonly kind: 'downgrade'; readonly proposer: bigint; readonly requestId: number; readonly info: DowngradeInfo }
  | Skipped;

export type ConfEntry = { readonly ok: true; readonly cc: ConfChange; readonly ctx: ConfChangeContext } | Skipped;

/** What the proposer of a skipped entry is told (gRPC Internal: the request was ours to encode). */
export class SkippedEntryError extends Error {
  readonly grpcCode = 'Internal';
  readonly grpcMessage: string;
  constructor(reason: string) {
    super(`etcdserver: the entry could not be applied and was skipped: ${reason}`);
    this.name = 'SkippedEntryError';
    this.grpcMessage = this.message;
  }
}

function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const isId = (v: unknown): v is bigint => typeof v === 'bigint' && v >= 0n;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function isAttrs(v: unknown): v is MemberAttrs {
  const a = v as Partial<MemberAttrs> | null;
  return typeof a === 'object' && a !== null && isId(a.id) && typeof a.name === 'string' && isStrings(a.clientUrls);
}

function isDowngradeInfo(v: unknown): v is DowngradeInfo {
  const d = v as Partial<DowngradeInfo> | null;
  return typeof d === 'object' && d !== null && typeof d.enabled === 'boolean' && typeof d.targetVersion === 'string';
}

function isRecord(v: unknown): v is MemberRecord {
  const r = v as Partial<MemberRecord> | null;
  return typeof r === 'object' && r !== null && isId(r.id) && typeof r.name === 'string' && isStrings(r.peerUrls) && isStrings(r.clientUrls) && typeof r.isLearner === 'boolean';
}

function isContext(v: unknown): v is ConfChangeContext {
  const c = v as Partial<ConfChangeContext> | null;
  return typeof c === 'object' && c !== null && isId(c.proposer) && typeof c.requestId === 'number' && (c.member === undefined || isRecord(c.member));
}

/** A non-empty normal entry's payload (an empty one is the leader's no-op: the caller skips it). */
export function decodeNormalEntry(data: Uint8Array): NormalEntry {
  let env;
  try {
    env = decodeEnvelope(data);
  } catch (err) {
    return { ok: false, kind: 'envelope', reason: why(err) };
  }
  const { proposer, requestId } = env;
  if (env.kind === 'mvcc') {
    try {
      return { ok: true, kind: 'mvcc', proposer, requestId, cmd: decodeCommand(env.body) };
    } catch (err) {
      return { ok: false, kind: 'command', reason: why(err), proposer, requestId };
    }
  }
  if (env.kind === 'mvccAs') {
    try {
      const { ai, request } = decodeAuthBody(env.body);
      return { ok: true, kind: 'mvcc', proposer, requestId, cmd: decodeCommand(request), as: { ai } };
    } catch (err) {
      return { ok: false, kind: 'command', reason: why(err), proposer, requestId };
    }
  }
  if (env.kind === 'auth') {
    try {
      const { ai, request } = decodeAuthBody(env.body);
      const cmd: unknown = JSON.parse(Buffer.from(request).toString('utf8'));
      if (!isAuthCommand(cmd)) throw new Error('not an auth command');
      return { ok: true, kind: 'auth', proposer, requestId, cmd, ai };
    } catch (err) {
      return { ok: false, kind: 'auth', reason: why(err), proposer, requestId };
    }
  }
  if (env.kind === 'downgrade') {
    const info = parseJson(env.body, isDowngradeInfo, 'downgrade info without enabled and targetVersion');
    return info.ok ? { ok: true, kind: 'downgrade', proposer, requestId, info: info.value } : { ok: false, kind: 'downgrade', reason: info.reason, proposer, requestId };
  }
  // The id is a decimal string (a number in entries written before ids were 64-bit).
  const attrs = parseJson(env.body, isAttrs, 'member attributes without id, name and client URLs', (j) =>
    typeof j === 'object' && j !== null && (j as { id?: unknown }).id !== undefined ? { ...j, id: idFromJson((j as { id: unknown }).id, 'member id') } : j,
  );
  return attrs.ok ? { ok: true, kind: 'attrs', proposer, requestId, attrs: attrs.value } : { ok: false, kind: 'attrs', reason: attrs.reason, proposer, requestId };
}

/** A JSON body of the shape `is` checks, or why not. */
function parseJson<T>(body: Uint8Array, is: (v: unknown) => v is T, shapeError: string, prepare: (j: unknown) => unknown = (j) => j): { ok: true; value: T } | { ok: false; reason: string } {
  let v: unknown;
  try {
    v = prepare(JSON.parse(Buffer.from(body).toString('utf8')));
  } catch (err) {
    return { ok: false, reason: why(err) };
  }
  return is(v) ? { ok: true, value: v } : { ok: false, reason: shapeError };
}

export function decodeConfEntry(data: Uint8Array): ConfEntry {
  let cc: ConfChange;
  let ctx: unknown;
  try {
    cc = decodeConfChange(data);
    ctx = decodeConfContext(cc.context);
  } catch (err) {
    return { ok: false, kind: 'confChange', reason: why(err) };
  }
  if (!isContext(ctx)) return { ok: false, kind: 'confChange', reason: 'conf change context without proposer and request id' };
  return { ok: true, cc, ctx };
}
