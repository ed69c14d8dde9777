// Maintenance.Downgrade (VALIDATE, ENABLE, CANCEL), with etcd 3.6's rules and errors
// (server/etcdserver/v3_server.go, version/version.go, cluster_util.go convertToClusterVersion).
// The cluster version here is the one tsetcd reports (CLUSTER_VERSION, 3.5), so the only valid
// target is 3.4. The downgrade state is etcd's DowngradeInfo: it goes through Raft (every member
// applies it, and it travels in snapshots) and Status.downgradeInfo shows it. Unlike etcd, the
// cluster version is not lowered while a downgrade is enabled: every tsetcd member keeps serving
// the 3.5 API, and no tsetcd member ever runs 3.4, so the downgrade stays enabled until canceled
// (docs/design-notes.md, "Downgrade").

import type { DowngradeInfo, MemberBackend } from './backend.js';
import { EtcdError } from './errors.js';
import { CLUSTER_VERSION } from './version.js';

export const DowngradeAction = { VALIDATE: 0, ENABLE: 1, CANCEL: 2 } as const;

export interface DowngradeRequest {
  readonly action?: number;
  readonly version?: string;
}

interface MajorMinor {
  readonly major: bigint;
  readonly minor: bigint;
}

// go-semver's identifiers for pre-release and build metadata.
const IDENTIFIER = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
// Go's strconv.ParseInt(s, 10, 64): an optional sign, then decimal digits, within int64.
const INT = /^[+-]?[0-9]+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function parseInt64(s: string): bigint | undefined {
  if (!INT.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/** coreos/go-semver's NewVersion: "MAJOR.MINOR.PATCH[-pre][+meta]"; undefined where it errs. */
export function parseSemver(version: string): MajorMinor | undefined {
  let v = version;
  const plus = v.indexOf('+');
  const meta = plus >= 0 ? v.slice(plus + 1) : '';
  if (plus >= 0) v = v.slice(0, plus);
  const dash = v.indexOf('-');
  const pre = dash >= 0 ? v.slice(dash + 1) : '';
  if (dash >= 0) v = v.slice(0, dash);
  const dot1 = v.indexOf('.');
  const dot2 = dot1 < 0 ? -1 : v.indexOf('.', dot1 + 1);
  if (dot2 < 0) return undefined; // not dotted-tri
  if ((pre !== '' && !IDENTIFIER.test(pre)) || (meta !== '' && !IDENTIFIER.test(meta))) return undefined;
  const major = parseInt64(v.slice(0, dot1));
  const minor = parseInt64(v.slice(dot1 + 1, dot2));
  const patch = parseInt64(v.slice(dot2 + 1));
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  return { major, minor };
}

/** etcd's convertToClusterVersion: "X.Y.Z" or "X.Y", kept as X.Y; else the wrong-format error. */
export function downgradeTarget(version: string): MajorMinor {
  const v = parseSemver(version) ?? parseSemver(`${version}.0`);
  if (!v) throw new EtcdError('wrongDowngradeVersionFormat');
  return v;
}

const CLUSTER = parseSemver(CLUSTER_VERSION)!;
/** What DowngradeResponse.version carries: etcd's version.Cluster(), "major.minor". */
export const CLUSTER_MAJOR_MINOR = `${CLUSTER.major}.${CLUSTER.minor}`;

/** The one target etcd allows: the previous minor of the cluster version. */
function allowedTarget(cluster: MajorMinor): MajorMinor {
  return { major: cluster.major, minor: cluster.minor - 1n };
}

/** How the state records a target (etcd's semver.Version{Major, Minor}.String()). */
export function targetVersionString(t: MajorMinor): string {
  return `${t.major}.${t.minor}.0`;
}

/** etcd's Manager.DowngradeValidate, after the linearizable read. */
function validate(target: MajorMinor, info: DowngradeInfo): void {
  const allowed = allowedTarget(CLUSTER);
  if (target.major !== allowed.major || target.minor !== allowed.minor) throw new EtcdError('invalidDowngradeTargetVersion');
  if (info.enabled) throw new EtcdError('downgradeInProcess');
}

/** Serves one Downgrade request; resolves with the response's version (the cluster version). */
export async function serveDowngrade(b: Pick<MemberBackend, 'linearizableBarrier' | 'downgradeInfo' | 'setDowngrade'>, req: DowngradeRequest): Promise<string> {
  const action = req.action ?? DowngradeAction.VALIDATE;
  switch (action) {
    case DowngradeAction.VALIDATE:
    case DowngradeAction.ENABLE: {
      const target = downgradeTarget(req.version ?? '');
      await b.linearizableBarrier();
      validate(target, b.downgradeInfo());
      if (action === DowngradeAction.ENABLE) await b.setDowngrade({ enabled: true, targetVersion: targetVersionString(target) });
      return CLUSTER_MAJOR_MINOR;
    }
    case DowngradeAction.CANCEL:
      // etcd 3.6 logs a failed cancel (no downgrade in progress) and still answers success.
      await b.linearizableBarrier();
      if (b.downgradeInfo().enabled) await b.setDowngrade({ enabled: false, targetVersion: '' });
      return CLUSTER_MAJOR_MINOR;
    default:
      throw new EtcdError('unknownMethod');
  }
}
