// Size-limited folder volumes: a PVC of a StorageClass with parameters.sizeLimit "enforced" gets a tmpfs
// of exactly its requested size mounted on its folder, so that a claim too small for what is written
// fails with ENOSPC as a real volume does (the plain folders have no limit). Test infrastructure for
// the local control plane; tmpfs lives in memory, so keep such claims small.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SIZE_LIMIT_PARAMETER = 'sizeLimit';

/** Bytes of a storage quantity as PVCs use them ("64Ki", "1Mi", "2Gi", "1000"); null when not one of those. */
export function quantityBytes(q: string): number | null {
  const m = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(q);
  if (m === null) return null;
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1000, M: 1000 ** 2, G: 1000 ** 3 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

export async function mountSizeLimited(path: string, bytes: number): Promise<void> {
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0777`, 'tmpfs', path]);
}

/** Lazily: a pod may still have it bound. */
export async function unmountIfMounted(path: string): Promise<void> {
  await run('umount', ['-l', path]).catch(() => {});
}
