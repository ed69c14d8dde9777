// Reading an EtcdCluster's status in the e2e suite: the shapes the tests look at, and "settled".
export interface Member { name: string; id: string; isLearner: boolean; isLeader: boolean; healthy: boolean }
export interface Cluster {
  metadata: { generation: number; finalizers?: string[] };
  status?: {
    observedGeneration?: number;
    members?: Member[];
    leader?: string;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    currentOperation?: { type: string; phase: string } | null;
  };
}

export const voters = (c: Cluster): Member[] => (c.status?.members ?? []).filter((m) => !m.isLearner);
export const condition = (c: Cluster, type: string): string | undefined => c.status?.conditions?.find((x) => x.type === type)?.status;

/** n healthy voters, no learner, a leader, Available=True, no operation running, the spec observed. */
export function isSettled(c: Cluster, n: number): boolean {
  const v = voters(c);
  return v.length === n && v.every((m) => m.healthy) && (c.status?.members ?? []).length === n &&
    v.some((m) => m.isLeader) && (c.status?.leader ?? '') !== '' && condition(c, 'Available') === 'True' &&
    !c.status?.currentOperation && c.status?.observedGeneration === c.metadata.generation;
}
