// ObjectStore in a folder (a mounted PVC, or a test's temp dir). An object is a file; its metadata
// sits beside it in <file>.meta.json. put copies to a temporary name and renames, so a reader never
// sees half a file; with `move`, a file on the same filesystem (the backup pod's snapshot, written in
// the claim itself) is renamed into place instead, so a backup needs its size once, not twice.
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { BackupStoreError, type ObjectHead, type ObjectStore, type StoredObject } from './object-store.js';

const META = '.meta.json';

export interface DirObjectStoreOptions {
  /** How locations are named: `${location}${key}` (e.g. pvc://claim/); default file://<root>/. */
  location?: string;
  /** put renames the file into place when it is on the same filesystem (it is gone afterwards). */
  move?: boolean;
}

export class DirObjectStore implements ObjectStore {
  constructor(
    private readonly root: string,
    private readonly opts: DirObjectStoreOptions = {},
  ) {}

  locationOf(key: string): string {
    return this.opts.location !== undefined ? `${this.opts.location}${key}` : `file://${join(this.root, key)}`;
  }

  async put(key: string, file: string, _sizeBytes: number, metadata: Record<string, string>): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    try {
      await writeFile(path + META, JSON.stringify(metadata));
      if (this.opts.move === true) {
        const moved = await rename(file, path).then(() => true, (err: unknown) => {
          if ((err as { code?: unknown }).code === 'EXDEV') return false;
          throw err;
        });
        if (moved) return await syncFile(path);
      }
      await copyFile(file, `${path}.tmp`);
      await syncFile(`${path}.tmp`);
      await rename(`${path}.tmp`, path);
    } catch (err: unknown) {
      // Nothing half-written stays (a full claim: ENOSPC); an older file under this key is not touched.
      await rm(`${path}.tmp`, { force: true });
      if ((await stat(path).catch(() => null)) === null) await rm(path + META, { force: true });
      throw err;
    }
  }

  async head(key: string): Promise<ObjectHead | null> {
    const path = this.path(key);
    try {
      const s = await stat(path);
      const metadata = await readFile(path + META, 'utf8').then((t) => JSON.parse(t) as Record<string, string>, () => ({}));
      return { sizeBytes: s.size, metadata };
    } catch (err: unknown) {
      if ((err as { code?: unknown }).code === 'ENOENT') return null;
      throw new BackupStoreError('StoreError', `${this.locationOf(key)}: ${String(err)}`);
    }
  }

  async read(key: string, start = 0): Promise<Readable> {
    if ((await this.head(key)) === null) throw new BackupStoreError('NotFound', `${this.locationOf(key)}: no such file`);
    return createReadStream(this.path(key), { start });
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return;
      }
      for (const n of names) {
        const p = join(dir, n);
        const s = await stat(p);
        if (s.isDirectory()) await walk(p);
        else if (!n.endsWith(META) && !n.endsWith('.tmp')) {
          const key = relative(this.root, p).split(sep).join('/');
          if (key.startsWith(prefix)) out.push({ key, sizeBytes: s.size, lastModifiedMs: s.mtimeMs });
        }
      }
    };
    await walk(this.root);
    return out;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) {
      await rm(this.path(k), { force: true });
      await rm(this.path(k) + META, { force: true });
    }
  }

  private path(key: string): string {
    if (key.split('/').includes('..')) throw new BackupStoreError('StoreError', `bad object key ${JSON.stringify(key)}`);
    return join(this.root, key);
  }
}

/** fsync: a backup reported written is on the disk, not in the page cache. */
async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
