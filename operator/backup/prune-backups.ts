// Retention, the I/O: list the cluster's folder, let plan/backup.ts choose, delete those.
import { backupsToPrune, type Retention } from '../plan/backup.js';
import type { ObjectStore } from './object-store.js';
import { storeCall } from './take-backup.js';

/** Deletes the backups retention no longer keeps; returns their keys. */
export async function pruneBackups(store: ObjectStore, folder: string, retention: Retention, nowMs: number): Promise<string[]> {
  const stored = await storeCall(() => store.list(folder));
  const doomed = backupsToPrune(stored, folder, retention, nowMs);
  if (doomed.length > 0) await storeCall(() => store.delete(doomed));
  return doomed;
}
