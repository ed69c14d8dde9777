// WalFs over the real disk (node:fs). Uses the callback API with raw fds: it is the cheapest path
// into libuv's thread pool, which matters for the group commit's write + fdatasync.

import * as fs from 'node:fs';
import type { ReadableFile, WalFile, WalFs } from './fs.js';
import { nodeSyncFileOps } from './sync-file-ops.js';

function call<T>(fn: (cb: (err: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn((err, v) => (err ? reject(err) : resolve(v)));
  });
}

function callVoid(fn: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    fn((err) => (err ? reject(err) : resolve()));
  });
}

/**
 * A write of at most this many bytes runs on the calling thread (writevSync): copying a few KiB
 * into the page cache takes microseconds, while a thread-pool job costs a hand-off to a pool
 * thread and a wake-up of the event loop when it ends (on a busy machine, the main cost of a
 * single-client put's WAL write). Larger writes (big batches, snapshots, preallocation) stay in
 * the pool so the event loop keeps turning meanwhile. fdatasync runs in the pool unless the
 * caller asks for it here (storage does for a quiet follower: StorageOptions.syncHere).
 */
const INLINE_WRITE_BYTES = 64 * 1024;

/** What is left of `list` after `n` bytes of it went out. */
function unwritten(list: readonly Uint8Array[], n: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const c of list) {
    if (n >= c.length) {
      n -= c.length;
      continue;
    }
    rest.push(n > 0 ? c.subarray(n) : c);
    n = 0;
  }
  return rest;
}

class NodeFile implements WalFile {
  constructor(private readonly fd: number) {}

  writev(chunks: readonly Uint8Array[], position: number): Promise<void> {
    let bytes = 0;
    for (const c of chunks) bytes += c.length;
    if (bytes > INLINE_WRITE_BYTES) return this.writevPooled(chunks, position);
    try {
      let list = chunks.filter((c) => c.length > 0);
      let pos = position;
      while (list.length > 0) {
        const written = fs.writevSync(this.fd, list as Uint8Array[], pos);
        pos += written;
        list = unwritten(list, written); // a short write: retry the rest
      }
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private async writevPooled(chunks: readonly Uint8Array[], position: number): Promise<void> {
    let list = chunks.filter((c) => c.length > 0);
    let pos = position;
    while (list.length > 0) {
      const written = await call<number>((cb) => fs.writev(this.fd, list as Uint8Array[], pos, cb));
      pos += written;
      list = unwritten(list, written); // a short write: retry the rest
    }
  }

  datasync(here = false): Promise<void> {
    if (!here) return callVoid((cb) => fs.fdatasync(this.fd, cb));
    try {
      fs.fdatasyncSync(this.fd);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  truncate(lengthBytes: number): Promise<void> {
    return callVoid((cb) => fs.ftruncate(this.fd, lengthBytes, cb));
  }

  close(): Promise<void> {
    return callVoid((cb) => fs.close(this.fd, cb));
  }
}

class NodeReadableFile implements ReadableFile {
  constructor(
    private readonly fd: number,
    readonly sizeBytes: number,
  ) {}

  async read(position: number, length: number): Promise<Uint8Array> {
    const out = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.sizeBytes - position)));
    let got = 0;
    while (got < out.length) {
      const n = await call<number>((cb) => fs.read(this.fd, out, got, out.length - got, position + got, cb));
      if (n === 0) break; // the file shrank since it was opened
      got += n;
    }
    return got === out.length ? out : out.subarray(0, got);
  }

  close(): Promise<void> {
    return callVoid((cb) => fs.close(this.fd, cb));
  }
}

export const nodeFs: WalFs = {
  readSync(path, position, length) {
    const fd = fs.openSync(path, 'r');
    try {
      const out = Buffer.allocUnsafe(length);
      const got = nodeSyncFileOps.read(fd, out, position);
      return got === length ? out : out.subarray(0, got);
    } finally {
      fs.closeSync(fd);
    }
  },
  async mkdirp(dir) {
    await fs.promises.mkdir(dir, { recursive: true });
  },
  async readdir(dir) {
    try {
      return await fs.promises.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  },
  async readFile(path) {
    return fs.promises.readFile(path);
  },
  async openRead(path) {
    const fd = await call<number>((cb) => fs.open(path, fs.constants.O_RDONLY, cb));
    try {
      const st = await call<fs.Stats>((cb) => fs.fstat(fd, cb));
      return new NodeReadableFile(fd, st.size);
    } catch (err) {
      await callVoid((cb) => fs.close(fd, cb)).catch(() => undefined);
      throw err;
    }
  },
  async open(path, mode) {
    const flags = mode === 'create' ? fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR : fs.constants.O_RDWR;
    const fd = await call<number>((cb) => fs.open(path, flags, 0o600, cb));
    return new NodeFile(fd);
  },
  async rename(from, to) {
    await fs.promises.rename(from, to);
  },
  async unlink(path) {
    await fs.promises.unlink(path);
  },
  async syncDir(dir) {
    const fd = await call<number>((cb) => fs.open(dir, fs.constants.O_RDONLY, cb));
    try {
      await callVoid((cb) => fs.fsync(fd, cb));
    } finally {
      await callVoid((cb) => fs.close(fd, cb));
    }
  },
};
