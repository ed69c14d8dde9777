// ObjectStore in a folder (a mounted PVC, or a test's temp dir). An object is a file; its metadata
// sits beside it in <file>.meta.json. put copies to a temporary name and renames, so a reader never
// sees half a file.
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { BackupStoreError, type ObjectHead, type ObjectStore, type StoredObject } from './object-store.js';

const META = '.meta.json';

export class DirObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  locationOf(key: string): string {
    return `file://${join(this.root, key)}`;
  }

  async put(key: string, file: string, _sizeBytes: number, metadata: Record<string, string>): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path + META, JSON.stringify(metadata));
    await copyFile(file, `${path}.tmp`);
    await rename(`${path}.tmp`, path);
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
