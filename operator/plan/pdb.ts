// A quorum-aware PodDisruptionBudget.
//
// What we compute: maxUnavailable = min(1, voters - quorum(voters)), where voters is the number of
// voting members the operator observed (the desired size before bootstrap). So a 3- or 5-member
// cluster allows one voluntary disruption at a time, while a 1-member cluster, or a 2-voter moment in
// the middle of a scale-up from 1, allows none. It is re-applied every pass, so it follows scaling.
// Learners count as pods under the selector; an unready learner consumes the budget, which is the
// cautious direction.
import type { KubeObject } from './kube-object.js';
import { commonLabels, ownerReference, pdbName, selectorLabels, type ClusterRef } from './names.js';
import { quorum } from './quorum.js';

export function pdbMaxUnavailable(voters: number): number {
  return Math.max(0, Math.min(1, voters - quorum(voters)));
}

export function buildPodDisruptionBudget(ref: ClusterRef, voters: number): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: pdbName(ref), namespace: ref.namespace, labels: commonLabels(ref), ownerReferences: [ownerReference(ref) as unknown as Record<string, unknown>] },
    spec: {
      maxUnavailable: pdbMaxUnavailable(voters),
      selector: { matchLabels: selectorLabels(ref) },
      unhealthyPodEvictionPolicy: 'IfHealthyBudget',
    },
  };
}
