// Observe: everything one pass needs, read fresh (not from informer caches) so decisions never act on a
// stale status or a stale member list. The member list is read linearizably (the member that answers
// confirms with the leader first): a lagging member's old list must never drive a membership step.
// "Healthy" is: Status answered, with the member's own ID, no errors, and applied close to the leader.
import type { ResolvedSpec } from '../api/defaults.js';
import type { EtcdCluster } from '../api/types.js';
import { isAuthRefusal, type EndpointStatus, type MemberApi, type MemberInfo } from '../members/member-api.js';
import {
  CLIENT_PORT,
  DATA_VOLUME,
  METRICS_PORT,
  clientURL,
  hexID,
  memberName,
  ordinalOfName,
  ordinalOfPeerURL,
  selectorString,
  statefulSetName,
  type ClusterRef,
} from '../plan/names.js';
import type { ObservedMember } from '../plan/observed.js';
import { memberCaughtUp } from '../plan/quorum.js';
import type { KubeApi, PodInfo, PvcInfo, StatefulSetInfo } from './kube-api.js';

/** How the operator reaches members: the pods' IPs (works in-cluster and with the local node agent) or DNS. */
export type EndpointMode = 'pod-ip' | 'dns';

export interface MemberObservation {
  info: MemberInfo;
  ordinal: number | null;
  status: EndpointStatus | null;
  observed: ObservedMember;
  endpoint: string | null;
  metricsURL: string | null;
}

export interface Observation {
  sts: StatefulSetInfo | null;
  pods: Array<PodInfo & { ordinal: number }>;
  pvcs: Array<PvcInfo & { ordinal: number }>;
  clusterID: string | null;
  /** null when no member answered MemberList. */
  members: MemberObservation[] | null;
  leaderID: string | null;
  memberListError: string | null;
  /** The members refused the operator's credentials (none given while auth is on, a wrong password, no root role). */
  authError: string | null;
}

/** The endpoints of the voting members that answered: where a snapshot can come from. */
export function voterEndpoints(obs: Observation): string[] {
  return (obs.members ?? []).flatMap((m) => (m.endpoint === null || m.info.isLearner ? [] : [m.endpoint]));
}

export async function observe(
  kube: KubeApi,
  api: MemberApi,
  cluster: EtcdCluster,
  ref: ClusterRef,
  spec: ResolvedSpec,
  mode: EndpointMode,
): Promise<Observation> {
  const sel = selectorString(ref);
  const [sts, rawPods, rawPvcs] = await Promise.all([
    kube.getStatefulSet(ref.namespace, statefulSetName(ref)),
    kube.listPods(ref.namespace, sel),
    kube.listPvcs(ref.namespace, sel),
  ]);
  const pods = rawPods.flatMap((p) => {
    const ordinal = ordinalOfName(ref, p.name);
    return ordinal === null ? [] : [{ ...p, ordinal }];
  });
  const pvcs = rawPvcs.flatMap((p) => {
    const prefix = `${DATA_VOLUME}-`;
    const ordinal = p.name.startsWith(prefix) ? ordinalOfName(ref, p.name.slice(prefix.length)) : null;
    return ordinal === null ? [] : [{ ...p, ordinal }];
  });
  const tls = spec.tls.clientSecretName !== null;
  const endpointOf = (ordinal: number): string | null => memberEndpoint(ref, pods, ordinal, mode, tls);
  const metricsOf = (ordinal: number): string | null => {
    if (mode === 'dns') return `http://${memberName(ref, ordinal)}.${ref.name}-peer.${ref.namespace}.svc:${METRICS_PORT}/metrics`;
    const pod = pods.find((p) => p.ordinal === ordinal && !p.deleting);
    return pod?.podIP ? `http://${hostPort(pod.podIP, METRICS_PORT)}/metrics` : null;
  };

  // Ask ready pods first; any member can answer MemberList.
  const ordinals = [...new Set(pods.map((p) => p.ordinal))].sort(
    (a, b) => Number(podReady(pods, b)) - Number(podReady(pods, a)) || a - b,
  );
  const endpoints = ordinals.flatMap((o) => {
    const e = endpointOf(o);
    return e === null ? [] : [e];
  });
  let list: { clusterID: string; members: MemberInfo[] } | null = null;
  let memberListError: string | null = null;
  let authError: string | null = null;
  if (endpoints.length > 0) {
    try {
      list = await api.list(endpoints, { linearizable: true });
    } catch (err: unknown) {
      memberListError = err instanceof Error ? err.message : String(err);
      if (isAuthRefusal(err)) authError = err.message;
    }
  } else {
    memberListError = 'no member pod has an address yet';
  }
  if (list === null) return { sts, pods, pvcs, clusterID: null, members: null, leaderID: null, memberListError, authError };

  const withOrd = list.members.map((info) => {
    let ordinal: number | null = null;
    for (const u of info.peerURLs) ordinal ??= ordinalOfPeerURL(ref, u);
    return { info, ordinal };
  });
  const statuses = await Promise.all(
    withOrd.map(async ({ ordinal }) => {
      const ep = ordinal === null ? null : endpointOf(ordinal);
      if (ep === null) return null;
      try {
        return await api.status(ep);
      } catch (err: unknown) {
        // MemberList needs no user, Status needs root: a refused user shows here first.
        if (isAuthRefusal(err)) authError ??= err.message;
        return null;
      }
    }),
  );
  // The leader: what the members that answered agree on (the leader's own word first).
  const votes = new Map<string, number>();
  for (const s of statuses) if (s !== null && s.leaderID !== '0') votes.set(s.leaderID, (votes.get(s.leaderID) ?? 0) + 1);
  const selfClaim = statuses.find((s) => s !== null && s.leaderID === s.memberID && s.leaderID !== '0');
  const leaderID = selfClaim?.leaderID ?? [...votes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;

  const recorded = cluster.status?.members ?? [];
  const leaderStatus = statuses.find((s) => s !== null && leaderID !== null && s.memberID === leaderID) ?? null;
  const members: MemberObservation[] = withOrd.map(({ info, ordinal }, i) => {
    const status = statuses[i] ?? null;
    const pvc = ordinal === null ? undefined : pvcs.find((p) => p.ordinal === ordinal && !p.terminating);
    const pod = ordinal === null ? undefined : pods.find((p) => p.ordinal === ordinal);
    const prev = recorded.find((r) => sameMemberID(r.id, info.id));
    const otherIdentity = status !== null && status.memberID !== info.id;
    const newVolume = prev?.pvcUID !== undefined && pvc !== undefined && pvc.uid !== prev.pvcUID;
    // The member refused to start as itself on an empty data dir (node/runtime/bootstrap.ts).
    const refusedEmpty = info.name !== '' && pod?.lastTerminationMessage != null && ALREADY_BOOTSTRAPPED.test(pod.lastTerminationMessage);
    const answered = status !== null && !otherIdentity && status.errors.length === 0;
    // Without the leader's index there is nothing to compare with: answering is all we can tell.
    const caughtUp = status === null || leaderStatus === null || info.id === leaderID || memberCaughtUp(status.raftAppliedIndex ?? status.raftIndex, leaderStatus.raftIndex);
    const observed: ObservedMember = {
      id: info.id,
      name: info.name,
      peerURLs: info.peerURLs,
      isLearner: info.isLearner,
      healthy: answered && caughtUp,
      isLeader: leaderID !== null && info.id === leaderID,
      raftIndex: status === null || otherIdentity ? null : status.raftIndex,
      dataLost: !info.isLearner && (otherIdentity || newVolume || refusedEmpty),
      dbSizeBytes: answered ? status.dbSize : null,
      dbSizeInUseBytes: answered ? status.dbSizeInUse : null,
      version: answered && status.version !== '' ? status.version : null,
    };
    return {
      info,
      ordinal,
      status,
      observed,
      endpoint: ordinal === null ? null : endpointOf(ordinal),
      metricsURL: ordinal === null ? null : metricsOf(ordinal),
    };
  });
  return { sts, pods, pvcs, clusterID: list.clusterID, members, leaderID, memberListError: null, authError };
}

/** Where the operator reaches one member's client port; null when its pod has no address (pod-ip mode). */
export function memberEndpoint(ref: ClusterRef, pods: ReadonlyArray<PodInfo & { ordinal: number }>, ordinal: number, mode: EndpointMode, tls: boolean): string | null {
  if (mode === 'dns') return clientURL(ref, ordinal, tls);
  const pod = pods.find((p) => p.ordinal === ordinal && !p.deleting);
  return pod?.podIP ? `${tls ? 'https' : 'http'}://${hostPort(pod.podIP, CLIENT_PORT)}` : null;
}

/** What a member logs (and the kubelet keeps as its termination message) when it refuses an empty data dir. */
export const ALREADY_BOOTSTRAPPED = /has already been bootstrapped/;

/** status.members[].id is hex (as etcdctl prints it); older operators wrote decimal. */
export function sameMemberID(recordedID: string, decimalID: string): boolean {
  return recordedID === hexID(decimalID) || recordedID === decimalID;
}

function podReady(pods: Array<PodInfo & { ordinal: number }>, ordinal: number): boolean {
  return pods.some((p) => p.ordinal === ordinal && p.ready);
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
