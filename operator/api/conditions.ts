// metav1.Condition helpers. Pure: the caller passes the time.
import type { Condition, ConditionType } from './types.js';

export function getCondition(conds: readonly Condition[] | undefined, type: ConditionType): Condition | undefined {
  return conds?.find((c) => c.type === type);
}

/** Sets a condition; keeps lastTransitionTime when the status did not change. Returns a new array. */
export function setCondition(
  conds: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  nowIso: string,
): Condition[] {
  const prev = getCondition(conds, next.type);
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : nowIso;
  const others = (conds ?? []).filter((c) => c.type !== next.type);
  const order: ConditionType[] = ['Available', 'Progressing', 'Degraded'];
  return [...others, { ...next, lastTransitionTime }].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}
