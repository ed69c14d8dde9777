// On a graceful stop a leader first hands leadership to its most caught-up voter, as etcd
// does on shutdown, so a rolling restart or a SIGTERM costs no election timeout and no
// client request is stranded on a leader that is going away.
import type { Logger } from '../log.js';
import type { Member } from './member.js';

/** The voter (not this member, not a learner) whose log matches the leader's furthest. */
export function pickTransferee(member: Pick<Member, 'raftStatus'>): bigint | undefined {
  const st = member.raftStatus();
  let best: bigint | undefined;
  let bestMatch = -1;
  for (const id of st.confState.voters) {
    if (id === st.id) continue;
    const match = st.progress?.get(id)?.match ?? -1;
    if (match > bestMatch) {
      best = id;
      bestMatch = match;
    }
  }
  return best;
}

/** Best effort, bounded by `timeoutMs`: a failed hand-over only means the usual election. */
export async function handOverLeadership(
  member: Pick<Member, 'raftStatus' | 'roleNow' | 'moveLeader'>,
  log: Logger,
  timeoutMs: number,
): Promise<void> {
  if (member.roleNow() !== 'leader') return;
  const target = pickTransferee(member);
  if (target === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const r = await Promise.race([member.moveLeader(target).then(() => 'moved' as const), expired]);
    log.info(r === 'moved' ? 'leadership handed over before stopping' : 'leadership hand-over timed out; stopping anyway', { to: target.toString(16) });
  } catch (err) {
    log.warn('leadership hand-over failed; stopping anyway', { to: target.toString(16), err });
  } finally {
    clearTimeout(timer);
  }
}
