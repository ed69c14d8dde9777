// The synchronous file calls the value log (value-log.ts) makes from the apply thread, defined by
// their user: a value read must return inside the pure store's apply or range, as a bbolt page
// fault does in etcd. The WAL keeps the async WalFs (fs.ts). Two implementations: nodeSyncFileOps
// (the real disk; reads come from the OS page cache) and MemorySyncFileOps (tests; no crash model:
// what is written is there after a "restart", as a process crash without a power loss leaves it).
// The two flushes the value log awaits before a raft snapshot refers to it (datasync, syncDir) are
// async, on the thread pool, so a snapshot's fsync never blocks the apply thread.
import * as fs from 'node:fs';

export interface SyncFileOps {
  /** mkdir -p */
  mkdirp(dir: string): void;
  /** Names in dir; [] if it is missing. */
  readdir(dir: string): string[];
  /** Creates (truncating) a file for reading and writing; returns its handle. */
  create(path: string): number;
  /** Opens an existing file for reading and writing; returns its handle. */
  open(path: string): number;
  /** The file's size in bytes. */
  size(fd: number): number;
  /** Cuts the file to len bytes. */
  truncate(fd: number, len: number): void;
  /** fdatasync(2): the file's written bytes are durable when it resolves. */
  datasync(fd: number): Promise<void>;
  /** fsync(2) of a directory: the names created in it are durable when it resolves. */
  syncDir(dir: string): Promise<void>;
  /** Writes all of bytes at position. */
  write(fd: number, bytes: Uint8Array, position: number): void;
  /** Reads up to into.length bytes at position; returns how many. */
  read(fd: number, into: Uint8Array, position: number): number;
  close(fd: number): void;
  unlink(path: string): void;
}

export const nodeSyncFileOps: SyncFileOps = {
  mkdirp(dir) {
    fs.mkdirSync(dir, { recursive: true });
  },
  readdir(dir) {
    try {
      return fs.readdirSync(dir);
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  },
  create(path) {
    return fs.openSync(path, 'w+');
  },
  open(path) {
    return fs.openSync(path, 'r+');
  },
  size(fd) {
    return fs.fstatSync(fd).size;
  },
  truncate(fd, len) {
    fs.ftruncateSync(fd, len);
  },
  datasync(fd) {
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  },
  async syncDir(dir) {
    const fh = await fs.promises.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  write(fd, bytes, position) {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off, position + off);
  },
  read(fd, into, position) {
    let off = 0;
    while (off < into.length) {
      const n = fs.readSync(fd, into, off, into.length - off, position + off);
      if (n === 0) break;
      off += n;
    }
    return off;
  },
  close(fd) {
    fs.closeSync(fd);
  },
  unlink(path) {
    fs.unlinkSync(path);
  },
};

/** Files in memory, for tests of the value log. `files` is open to tests (to flip a bit). */
export class MemorySyncFileOps implements SyncFileOps {
  readonly files = new Map<string, { bytes: Buffer; len: number }>();
  private fds = new Map<number, string>();
  private nextFd = 3;

  mkdirp(): void {}

  readdir(dir: string): string[] {
    const out: string[] = [];
    for (const p of this.files.keys()) if (p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/')) out.push(p.slice(dir.length + 1));
    return out.sort();
  }

  create(path: string): number {
    this.files.set(path, { bytes: Buffer.alloc(0), len: 0 });
    const fd = this.nextFd++;
    this.fds.set(fd, path);
    return fd;
  }

  open(path: string): number {
    if (!this.files.has(path)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    const fd = this.nextFd++;
    this.fds.set(fd, path);
    return fd;
  }

  size(fd: number): number {
    return this.file(fd).len;
  }

  truncate(fd: number, len: number): void {
    const f = this.file(fd);
    if (len < f.len) f.bytes.fill(0, len, f.len);
    f.len = len;
  }

  async datasync(fd: number): Promise<void> {
    this.file(fd);
  }

  async syncDir(): Promise<void> {}

  private file(fd: number): { bytes: Buffer; len: number } {
    const path = this.fds.get(fd);
    const f = path === undefined ? undefined : this.files.get(path);
    if (f === undefined) throw Object.assign(new Error('EBADF: bad file descriptor'), { code: 'EBADF' });
    return f;
  }

  write(fd: number, bytes: Uint8Array, position: number): void {
    const f = this.file(fd);
    const end = position + bytes.length;
    if (end > f.bytes.length) {
      const next = Buffer.alloc(Math.max(end, f.bytes.length * 2));
      f.bytes.copy(next, 0, 0, f.len);
      f.bytes = next;
    }
    f.bytes.set(bytes, position);
    f.len = Math.max(f.len, end);
  }

  read(fd: number, into: Uint8Array, position: number): number {
    const f = this.file(fd);
    const n = Math.max(0, Math.min(into.length, f.len - position));
    into.set(f.bytes.subarray(position, position + n));
    return n;
  }

  close(fd: number): void {
    this.fds.delete(fd);
  }

  unlink(path: string): void {
    if (!this.files.delete(path)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  }
}
