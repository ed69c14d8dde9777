// Reads the store's event log (every revision of the run, from a watch) against the client
// history, as etcd's robustness tests do:
// - durability: every acknowledged write is in the log at the revision its answer gave, a failed
//   compare-and-set is not, and the log holds no write that no client made;
// - resolving unknown outcomes: every value is written once, so an unknown put or compare-and-set
//   whose value is in the log happened, at that revision (it keeps no return time), and one whose
//   value is not never happened and is dropped. An unknown delete is resolved when its key has no
//   unexplained delete event (it changed nothing: dropped) or exactly one delete and one event;
//   otherwise it stays possibly-applied.
// The log is itself an observation of the store, so trusting it hides nothing: if it disagrees
// with what clients saw, the checker rejects the history.

import type { History, Op } from './history.js';
import type { WatchedEvent } from './kv-client.js';

export interface PatchResult {
  readonly history: History;
  readonly problems: string[];
  readonly resolved: { applied: number; dropped: number };
}

const show = (op: Op): string => `${op.input.kind}(${op.input.key}${op.input.value !== undefined ? `, ${op.input.value}` : ''})`;

/**
 * `events`: the log of the history's keys; `foreign`: the revisions of the run written by
 * operations outside the history (lease keys), which hold none of its keys' events.
 */
export function patchHistory(h: History, events: readonly WatchedEvent[], finalRev: number, foreign: ReadonlySet<number> = new Set()): PatchResult {
  const problems: string[] = [];
  const putByValue = new Map<string, WatchedEvent>();
  const explained = new Set<WatchedEvent>();
  for (const e of events) {
    if (e.type !== 'PUT') continue;
    if (putByValue.has(e.value)) problems.push(`value ${e.value} written twice (revisions ${putByValue.get(e.value)!.modRev} and ${e.modRev})`);
    putByValue.set(e.value, e);
  }
  const deleteAt = new Map<number, WatchedEvent>();
  for (const e of events) if (e.type === 'DELETE') deleteAt.set(e.modRev, e);

  const ops: Op[] = [];
  const unknownDeletes = new Map<string, Op[]>();
  let applied = 0;
  let dropped = 0;
  for (const op of h.ops) {
    const { kind, key } = op.input;
    const known = op.output !== null;
    if (kind === 'get') {
      ops.push(op);
      continue;
    }
    if (kind === 'del') {
      if (!known) {
        unknownDeletes.set(key, [...(unknownDeletes.get(key) ?? []), op]);
        continue;
      }
      if (op.output!.deleted) {
        const e = deleteAt.get(op.output!.rev);
        if (!e || e.key !== key) problems.push(`acknowledged ${show(op)} at revision ${op.output!.rev} is not in the log`);
        else explained.add(e);
      }
      ops.push(op);
      continue;
    }
    const e = putByValue.get(op.input.value!);
    if (e) explained.add(e);
    if (known) {
      const wrote = kind === 'put' || op.output!.succeeded === true;
      if (wrote && (!e || e.key !== key || e.modRev !== op.output!.rev)) {
        problems.push(`acknowledged ${show(op)} at revision ${op.output!.rev} is ${e ? `in the log at revision ${e.modRev} of ${e.key}` : 'not in the log'}`);
      }
      if (!wrote && e) problems.push(`failed ${show(op)} is in the log at revision ${e.modRev}`);
      ops.push(op);
      continue;
    }
    if (!e) {
      dropped++;
      continue;
    }
    applied++;
    ops.push({ ...op, output: kind === 'put' ? { rev: e.modRev } : { rev: e.modRev, succeeded: true } });
  }

  // Unknown deletes of one key are alike but for their call times, and never returned: the k
  // unexplained delete events (in revision order) go to the k earliest-called deletes (in call
  // order), the rest changed nothing and are dropped. If any assignment fits the history this one
  // does: an earlier call only loosens the constraint, and swapping two crossed assignments keeps
  // every event after its delete's call.
  for (const [key, dels] of unknownDeletes) {
    const open = events.filter((e) => e.type === 'DELETE' && e.key === key && !explained.has(e));
    const byCall = [...dels].sort((a, b) => a.call - b.call);
    open.forEach((e, i) => {
      const op = byCall[i];
      if (!op) return;
      explained.add(e);
      applied++;
      ops.push({ ...op, output: { rev: e.modRev, deleted: 1 } });
    });
    dropped += Math.max(0, byCall.length - open.length);
  }
  for (const e of events) if (!explained.has(e)) problems.push(`the log has a ${e.type} of ${e.key} at revision ${e.modRev} that no client made`);

  // One event per revision, none missing: every revision of the run that is not foreign wrote
  // exactly one of these keys.
  const revs = events.map((e) => e.modRev);
  let own = 0;
  for (let r = h.initialRev + 1, i = 0; r <= finalRev; r++) {
    if (foreign.has(r)) {
      if (revs[i] === r) {
        problems.push(`the log has a ${events[i]!.type} of ${events[i]!.key} at revision ${r}, which another writer took`);
        break;
      }
      continue;
    }
    own++;
    if (revs[i] !== r) {
      problems.push(`the log has revision ${revs[i] ?? 'none'} where ${r} belongs`);
      break;
    }
    i++;
  }
  if (revs.length !== own) problems.push(`the log has ${revs.length} events for the ${own} revisions of ${h.initialRev + 1}..${finalRev} not written by others`);

  ops.sort((a, b) => a.call - b.call);
  const foreignRevs = [...foreign].filter((r) => r > h.initialRev && r <= finalRev).sort((a, b) => a - b);
  return { history: { initialRev: h.initialRev, ops, ...(foreignRevs.length > 0 ? { foreign: foreignRevs } : {}) }, problems, resolved: { applied, dropped } };
}
