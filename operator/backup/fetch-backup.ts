// The restore side: download a stored backup to a local file and refuse it unless it is whole: the
// object exists, its size is what the store says, its sha256 is the one recorded at upload (when
// recorded), and etcd's own trailer and database check pass (snapshot-file.ts). The caller then
// runs `tsetcd snapshot restore` on the file.
import type { Readable } from 'node:stream';
import type { ObjectStore } from './object-store.js';
import { SnapshotCorruptError, writeCheckedSnapshot, type CheckedSnapshot } from './snapshot-file.js';
import { BackupError, META_SHA256, storeCall } from './take-backup.js';

export async function fetchBackup(store: ObjectStore, key: string, path: string): Promise<CheckedSnapshot> {
  const where = store.locationOf(key);
  const head = await storeCall(() => store.head(key));
  if (head === null) throw new BackupError('NotFound', `${where}: no such backup`);
  let snap: CheckedSnapshot;
  try {
    const body: Readable = await storeCall(() => store.read(key));
    snap = await writeCheckedSnapshot(body, path);
  } catch (err: unknown) {
    if (err instanceof SnapshotCorruptError) throw new BackupError('SnapshotCorrupt', `${where}: ${err.message}`);
    throw err;
  }
  const recorded = head.metadata[META_SHA256];
  const problem =
    snap.sizeBytes !== head.sizeBytes
      ? `downloaded ${snap.sizeBytes} bytes, the store says ${head.sizeBytes}`
      : recorded !== undefined && recorded !== snap.sha256
        ? `sha256 ${snap.sha256} is not the ${recorded} recorded at upload`
        : null;
  if (problem !== null) throw new BackupError('SnapshotCorrupt', `${where}: ${problem}`);
  return snap;
}
