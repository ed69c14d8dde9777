// A real snapshot for unit tests: an MvccStore with the given puts, written by tsetcd's own etcd
// exporter and framed as Maintenance.Snapshot sends it (zero-padded to 512·n, then its sha256).
import { createHash } from 'node:crypto';
import { MemoryPageSink } from '../../../node/bbolt/writer.js';
import { MvccStore } from '../../../node/mvcc/index.js';
import { writeEtcdDb } from '../../../node/runtime/etcd-snapshot-export.js';

export async function snapshotBytes(puts: ReadonlyArray<readonly [string, string]>): Promise<{ bytes: Buffer; revision: number }> {
  const s = new MvccStore();
  let index = 0;
  for (const [k, v] of puts) s.apply({ type: 'put', req: { key: Buffer.from(k), value: Buffer.from(v), lease: 0n } }, ++index);
  const sink = new MemoryPageSink();
  await writeEtcdDb(sink, { store: s, consistentIndex: index, term: 2, confState: { voters: [1n], learners: [] } });
  const db = sink.bytes();
  const padded = Buffer.concat([db, Buffer.alloc((512 - (db.length % 512)) % 512)]);
  return { bytes: Buffer.concat([padded, createHash('sha256').update(padded).digest()]), revision: s.currentRevision() };
}
