// The operator's own check of a spec: the same rules the CRD's CEL enforces, plus what CEL cannot see.
// A spec that fails here is reported in a Degraded condition and an Event; the running cluster is left alone.
import { COMPACTION_RETENTION_MESSAGE, compactionRetentionValid } from './compaction.js';
import { MAX_REPLICAS, MIN_ELECTION_TO_HEARTBEAT_RATIO, MIN_REPLICAS, type ResolvedSpec } from './defaults.js';
import { parseQuantity } from './quantity.js';
import { tlsProblems } from './tls.js';
import { RELEASES, imageForVersion, parseVersion } from './versions.js';
import type { EtcdClusterSpec } from './types.js';

export interface SpecProblem {
  field: string;
  /** A CamelCase reason for the Degraded condition. */
  reason: string;
  message: string;
}

export const ODD_REPLICAS_MESSAGE =
  'replicas must be odd (1, 3, 5, 7 or 9): a cluster of 2n members tolerates no more failures than one of 2n-1, ' +
  'yet needs one more vote for every write';

export function validateSpec(
  spec: EtcdClusterSpec,
  resolved: ResolvedSpec,
  previousStorageSize: string | null,
): SpecProblem[] {
  const out: SpecProblem[] = [];
  const r = resolved.replicas;
  if (!Number.isInteger(r) || r < MIN_REPLICAS || r > MAX_REPLICAS) {
    out.push({ field: 'spec.replicas', reason: 'InvalidReplicas', message: `replicas must be between ${MIN_REPLICAS} and ${MAX_REPLICAS}, got ${r}` });
  } else if (r % 2 === 0) {
    out.push({ field: 'spec.replicas', reason: 'EvenReplicas', message: ODD_REPLICAS_MESSAGE });
  }
  for (const res of ['cpu', 'memory'] as const) {
    const req = spec.resources?.requests?.[res];
    const lim = spec.resources?.limits?.[res];
    if (req !== undefined && parseQuantity(req) === null) {
      out.push({ field: `spec.resources.requests.${res}`, reason: 'InvalidQuantity', message: `requests.${res} "${req}" is not a quantity` });
    }
    if (lim !== undefined && parseQuantity(lim) === null) {
      out.push({ field: `spec.resources.limits.${res}`, reason: 'InvalidQuantity', message: `limits.${res} "${lim}" is not a quantity` });
    }
    if (req !== undefined && lim !== undefined && parseQuantity(req) !== parseQuantity(lim)) {
      out.push({
        field: `spec.resources`,
        reason: 'NotGuaranteed',
        message: `requests.${res} (${req}) must equal limits.${res} (${lim}) so members get Guaranteed QoS`,
      });
    }
  }
  const hb = resolved.heartbeatIntervalMs;
  const et = resolved.electionTimeoutMs;
  if (!(hb > 0) || !(et > 0) || et < MIN_ELECTION_TO_HEARTBEAT_RATIO * hb) {
    out.push({
      field: 'spec.electionTimeoutMs',
      reason: 'InvalidTimeouts',
      message: `electionTimeoutMs (${et}) must be at least ${MIN_ELECTION_TO_HEARTBEAT_RATIO} x heartbeatIntervalMs (${hb})`,
    });
  }
  const size = parseQuantity(resolved.storage.size);
  if (size === null || size <= 0) {
    out.push({ field: 'spec.storage.size', reason: 'InvalidStorageSize', message: `storage.size "${resolved.storage.size}" is not a positive quantity` });
  } else if (previousStorageSize !== null) {
    const before = parseQuantity(previousStorageSize);
    if (before !== null && size < before) {
      out.push({
        field: 'spec.storage.size',
        reason: 'StorageShrink',
        message: `storage.size cannot shrink from ${previousStorageSize} to ${resolved.storage.size}: volumes only grow; set it back to ${previousStorageSize} or larger`,
      });
    }
  }
  out.push(...tlsProblems(spec.tls));
  const c = resolved.compaction;
  if (c.mode !== 'periodic' && c.mode !== 'revision') {
    out.push({ field: 'spec.compaction.mode', reason: 'InvalidCompaction', message: `compaction.mode must be periodic or revision, got "${String(c.mode)}"` });
  } else if (!compactionRetentionValid(c.mode, c.retention)) {
    out.push({ field: 'spec.compaction.retention', reason: 'InvalidCompaction', message: `${COMPACTION_RETENTION_MESSAGE}; got "${c.retention}" (mode ${c.mode})` });
  }
  const dg = resolved.defragmentation;
  if (!Number.isInteger(dg.minFreePercent) || dg.minFreePercent < 0 || dg.minFreePercent > 100) {
    out.push({ field: 'spec.defragmentation.minFreePercent', reason: 'InvalidDefragmentation', message: `defragmentation.minFreePercent must be a whole number from 0 to 100, got ${dg.minFreePercent}` });
  }
  if (parseQuantity(dg.minDbSize) === null) {
    out.push({ field: 'spec.defragmentation.minDbSize', reason: 'InvalidDefragmentation', message: `defragmentation.minDbSize "${dg.minDbSize}" is not a quantity (e.g. 100Mi)` });
  }
  if (!Number.isInteger(dg.timeoutSeconds) || dg.timeoutSeconds < 1 || dg.timeoutSeconds > 3600) {
    out.push({ field: 'spec.defragmentation.timeoutSeconds', reason: 'InvalidDefragmentation', message: `defragmentation.timeoutSeconds must be from 1 to 3600, got ${dg.timeoutSeconds}` });
  }
  if (parseVersion(resolved.version) === null) {
    out.push({ field: 'spec.version', reason: 'InvalidVersion', message: `version "${resolved.version}" is not a version like 3.5.17` });
  } else if (spec.image === undefined && imageForVersion(resolved.version) === null) {
    out.push({
      field: 'spec.version',
      reason: 'UnknownVersion',
      message: `no tsetcd release speaks etcd ${resolved.version} (known: ${Object.keys(RELEASES).join(', ')}); pick one of those, or set spec.image to an image that does`,
    });
  }
  if (resolved.image.trim() === '') {
    out.push({ field: 'spec.image', reason: 'InvalidImage', message: 'image must not be empty' });
  }
  return out;
}
