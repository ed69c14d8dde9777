// spec.version: the etcd API version the members speak, and how it picks the member image.
//
// tsetcd releases are tagged by their own version (ghcr.io/tsetcd/tsetcd:0.1.0, package.json's), and each
// release reports one etcd server version (node/server/version.ts). So spec.version selects the release
// that speaks it, through RELEASES; spec.image, when set, wins, and spec.version then declares what that
// image speaks (the operator checks the upgrade path against it). A version no release speaks, without
// spec.image, is refused as bad input (UnknownVersion).
//
// The upgrade path (etcd's rules, https://etcd.io/docs/v3.5/upgrades/): one minor version at a time,
// patch versions freely within a minor; never below the cluster version (the lowest minor the members
// run: what the data has been written by). etcd goes down a minor only through its downgrade API,
// which tsetcd does not implement (Maintenance.Downgrade is refused).
/**
 * The release of tsetcd this operator belongs to: package.json's version, which tags the images
 * `make images` builds (hack/images/images.test.ts keeps the copies of it in step).
 */
export const TSETCD_RELEASE = '0.1.0';
export const DEFAULT_IMAGE_REPOSITORY = 'ghcr.io/tsetcd/tsetcd';

/** etcd server version -> the tsetcd release (image tag) whose members report it. */
export const RELEASES: Readonly<Record<string, string>> = { '3.5.17': TSETCD_RELEASE };

export const VERSION_PATTERN = /^([0-9]+)\.([0-9]+)\.([0-9]+)$/;

export interface Semver {
  major: number;
  minor: number;
  patch: number;
}

export function parseVersion(v: string): Semver | null {
  const m = VERSION_PATTERN.exec(v.trim());
  return m === null ? null : { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function compareVersions(a: Semver, b: Semver): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** The member image for a version when spec.image is not set; null when no release speaks it. */
export function imageForVersion(version: string): string | null {
  const tag = RELEASES[version];
  return tag === undefined ? null : `${DEFAULT_IMAGE_REPOSITORY}:${tag}`;
}

/** etcd's cluster version (major.minor.0) of members running these server versions: the lowest minor; null when none is known. */
export function clusterVersionOf(running: readonly string[]): string | null {
  const lowest = lowestVersion(running);
  return lowest === null ? null : `${lowest.major}.${lowest.minor}.0`;
}

function lowestVersion(running: readonly string[]): Semver | null {
  const have = running.map(parseVersion).filter((v): v is Semver => v !== null);
  return have.length === 0 ? null : have.reduce((a, b) => (compareVersions(a, b) <= 0 ? a : b));
}

/**
 * Why moving the members from what they run to `desired` is not allowed, or null. `running` are the
 * server versions the members report (unreadable ones ignored); with none known there is nothing to check.
 */
export function versionChangeProblem(running: readonly string[], desired: string): string | null {
  const want = parseVersion(desired);
  const lowest = lowestVersion(running);
  if (want === null || lowest === null) return null;
  const cluster = `${lowest.major}.${lowest.minor}`;
  if (want.major !== lowest.major) return `version ${desired} changes the major version of a cluster at ${cluster}; etcd supports no such change`;
  if (want.minor > lowest.minor + 1) {
    return `version ${desired} skips a minor version: the cluster version is ${cluster} (the lowest a member runs), and etcd upgrades one minor version at a time; set ${lowest.major}.${lowest.minor + 1}.x first`;
  }
  if (want.minor < lowest.minor) {
    return `version ${desired} is below the cluster version ${cluster}: the data was written by ${cluster}, and going down a minor version needs etcd's downgrade API, which tsetcd does not implement; set a ${cluster}.x version`;
  }
  return null;
}
