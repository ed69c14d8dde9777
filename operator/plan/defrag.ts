// Scheduled defragmentation: from the schedule, the recorded run and what is observed now, the next step.
// Pure, like the membership planner it sits under: it runs only when that planner has nothing to do (no
// membership operation in flight, sizes agree, no pod to roll), one member per step, the leader last,
// and never while any member is unhealthy, a learner, or its pod is not ready.
//
// Per member it takes two passes: `record-defrag` writes the member into status.defragmentation.run.current
// (intent), then `defragment` calls Defragment on it and, when that returns, moves it to run.done. A crash
// between the two, or after the call and before the status write, leaves `current` recorded: the next pass
// calls Defragment again (harmless: a second defrag finds nothing to do). Failed calls are counted; after
// MAX_ATTEMPTS the run ends Failed and the next scheduled minute starts afresh.
import type { DefragRun, DefragResult, DefragmentationStatus } from '../api/types.js';
import type { Plan } from './action.js';
import { latestScheduledMinute, parseCron, utcIso } from './cron.js';
import { ordinalOf } from './member-match.js';
import { hexID } from './names.js';
import type { ObservedCluster, ObservedMember } from './observed.js';

/** A scheduled minute missed by more than this (operator down, cluster unhealthy) is skipped, as a CronJob's startingDeadlineSeconds. */
export const DEFRAG_STARTING_DEADLINE_MS = 3_600_000;
/** Defragment calls per member before the run gives up. */
export const DEFRAG_MAX_ATTEMPTS = 3;
/** A run that could not finish within this (the cluster stayed unhealthy) is given up. */
export const DEFRAG_RUN_DEADLINE_MS = 24 * 3_600_000;

export function planDefrag(o: ObservedCluster, members: ObservedMember[], base: Plan): Plan {
  const st = o.defragStatus;
  const run = st.run ?? null;
  const spec = o.defragmentation;
  const parsed = spec === null ? null : parseCron(spec.schedule);
  const schedule = parsed !== null && parsed.ok ? parsed.schedule : null;

  if (run === null) {
    if (spec === null || schedule === null) return base;
    const slot = latestScheduledMinute(schedule, o.nowMs, DEFRAG_STARTING_DEADLINE_MS);
    if (slot === null) return base;
    if (st.lastScheduleTime !== undefined && Date.parse(st.lastScheduleTime) >= slot) return base;
    // An unhealthy cluster is not defragmented; the scheduled minute stays due until its deadline.
    if (degraded(o, members) !== null) return base;
    const slotIso = isoOf(o, slot);
    const fresh: DefragRun = { scheduleTime: slotIso, startTime: o.nowIso, done: [] };
    const next = nextMember(o, members, fresh);
    if (next === undefined) {
      return finishRun(base, { ...st, lastScheduleTime: slotIso }, fresh, o.nowIso, 'NothingToDo', `no member has ${spec.minFreePercent}% of its backend free and a size of at least ${spec.minDbSizeBytes} bytes`);
    }
    return record(o, base, { ...st, lastScheduleTime: slotIso }, fresh, next);
  }

  if (spec === null || schedule === null) return finishRun(base, st, run, o.nowIso, 'Cancelled', 'spec.defragmentation.schedule was removed');
  if (o.nowMs - Date.parse(run.startTime) > DEFRAG_RUN_DEADLINE_MS) {
    return finishRun(base, st, run, o.nowIso, 'Failed', `gave up after ${DEFRAG_RUN_DEADLINE_MS / 3_600_000}h: the cluster was not healthy long enough to finish (${run.done.length} member(s) done)`);
  }
  const why = degraded(o, members);
  if (why !== null) return { ...base, action: { kind: 'wait', reason: 'DefragmentationWaiting', message: `defragmentation paused: ${why}` } };

  const current = run.current ?? null;
  if (current !== null) {
    const m = members.find((x) => x.id === current.memberID);
    const leaderLast = m !== undefined && m.isLeader && nextMember(o, members, run, m.id) !== undefined;
    // Gone, or became the leader while others wait: pick again (nothing was called on it that matters).
    if (m === undefined || leaderLast) {
      const again: DefragRun = { ...run, current: null };
      const next = nextMember(o, members, again);
      if (next === undefined) return finishRun(base, st, again, o.nowIso, 'Succeeded', summary(again));
      return record(o, base, st, again, next);
    }
    if (current.attempts >= DEFRAG_MAX_ATTEMPTS) {
      return finishRun(base, st, run, o.nowIso, 'Failed', `Defragment of ${current.memberName} failed ${current.attempts} times; the next scheduled run tries again`);
    }
    return {
      ...base,
      action: { kind: 'defragment', memberID: m.id, memberName: current.memberName, timeoutMs: spec.timeoutMs },
      defrag: { ...st, run: { ...run, done: [...run.done, m.id], current: null } },
      defragOnFailure: { ...st, run: { ...run, current: { ...current, attempts: current.attempts + 1 } } },
    };
  }
  const next = nextMember(o, members, run);
  if (next === undefined) return finishRun(base, st, run, o.nowIso, 'Succeeded', summary(run));
  return record(o, base, st, run, next);
}

/** Why no member may be defragmented now, or null. */
function degraded(o: ObservedCluster, members: ObservedMember[]): string | null {
  if (!members.some((m) => m.isLeader)) return 'the cluster has no leader';
  const bad = members.filter((m) => !m.healthy || m.isLearner);
  if (bad.length > 0) return `${bad.map((m) => m.name || hexID(m.id)).join(', ')} not healthy (or a learner)`;
  const unready = o.pods.filter((p) => !p.ready || p.deleting);
  if (unready.length > 0 || o.pods.length !== members.length) return 'not every member pod is ready';
  return null;
}

/** The next member to defragment: one over the threshold and not done yet; non-leaders by ordinal, the leader last. */
function nextMember(o: ObservedCluster, members: ObservedMember[], run: DefragRun, exclude?: string): ObservedMember | undefined {
  const spec = o.defragmentation;
  if (spec === null) return undefined;
  const due = members.filter((m) => !run.done.includes(m.id) && m.id !== exclude && overThreshold(m, spec.minFreePercent, spec.minDbSizeBytes));
  return due.sort((a, b) => Number(a.isLeader) - Number(b.isLeader) || (ordinalOf(o, a) ?? 0) - (ordinalOf(o, b) ?? 0))[0];
}

/** dbSize - dbSizeInUse is at least minFreePercent of dbSize, and dbSize at least minDbSizeBytes (as etcd-defrag's rule). */
export function overThreshold(m: ObservedMember, minFreePercent: number, minDbSizeBytes: number): boolean {
  if (m.dbSizeBytes === null || m.dbSizeInUseBytes === null) return false;
  if (m.dbSizeBytes < minDbSizeBytes) return false;
  return (m.dbSizeBytes - m.dbSizeInUseBytes) * 100 >= minFreePercent * m.dbSizeBytes;
}

function record(o: ObservedCluster, base: Plan, st: DefragmentationStatus, run: DefragRun, m: ObservedMember): Plan {
  const name = m.name || hexID(m.id);
  const free = m.dbSizeBytes !== null && m.dbSizeInUseBytes !== null ? m.dbSizeBytes - m.dbSizeInUseBytes : 0;
  return {
    ...base,
    action: {
      kind: 'record-defrag',
      memberID: m.id,
      memberName: name,
      message: `defragmenting ${name}${m.isLeader ? ' (the leader, last)' : ''} next: dbSize ${m.dbSizeBytes ?? '?'} bytes, ${free} free`,
    },
    defrag: { ...st, run: { ...run, current: { memberID: m.id, memberName: name, attempts: 0 } } },
  };
}

function finishRun(base: Plan, st: DefragmentationStatus, run: DefragRun, nowIso: string, result: DefragResult, message: string): Plan {
  return {
    ...base,
    action: { kind: 'finish-defrag', result, message },
    defrag: { ...st, run: null, lastRun: { scheduleTime: run.scheduleTime, finishTime: nowIso, result, message } },
  };
}

function summary(run: DefragRun): string {
  return `defragmented ${run.done.length} member(s)`;
}

/** RFC 3339 of an instant the planner computed (no Date objects in this room). */
function isoOf(o: ObservedCluster, ms: number): string {
  return ms === o.nowMs ? o.nowIso : utcIso(ms);
}
