// The small file-system interface storage runs on, defined by its user (ARCHITECTURE.md, convention 2).
// Two implementations: node-fs.ts (the real disk) and memory-fs.ts (the in-memory twin that can
// crash). Paths are plain strings joined with '/'. Every method rejects with the underlying error
// (with its errno `code`, e.g. 'ENOSPC'); storage wraps it in a StorageWriteError.

export interface WalFile {
  /** Writes all chunks, back to back, starting at position. Short writes are retried inside. */
  writev(chunks: readonly Uint8Array[], position: number): Promise<void>;
  /**
   * fdatasync. `here`: block the calling thread for it where the implementation can, instead of
   * handing it to a worker (see StorageOptions.syncHere).
   */
  datasync(here?: boolean): Promise<void>;
  /** Sets the file length (ftruncate): grows with zeros or cuts. */
  truncate(lengthBytes: number): Promise<void>;
  close(): Promise<void>;
}

/** A file opened for reading in bounded pieces (recovery never holds a whole file). */
export interface ReadableFile {
  /** The file's length when it was opened. */
  readonly sizeBytes: number;
  /** Up to `length` bytes from `position`; fewer only at the end of the file. */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface WalFs {
  /** mkdir -p */
  mkdirp(dir: string): Promise<void>;
  /** Names (not paths) in dir; [] if dir is missing. */
  readdir(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  /** Opens a file read-only, to read it piece by piece. */
  openRead(path: string): Promise<ReadableFile>;
  /** 'create' fails if the file exists (O_CREAT|O_EXCL); 'write' opens an existing file read-write. */
  open(path: string, mode: 'create' | 'write'): Promise<WalFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync the directory itself, making creates, renames and unlinks in it durable. */
  syncDir(dir: string): Promise<void>;
  /**
   * Up to `length` bytes from `position`, read on the calling thread (fewer only at the end of the
   * file). For raft's entries read back from the WAL (storage's readEntries): rare, small, and
   * needed synchronously, as a bbolt page fault is in etcd.
   */
  readSync(path: string, position: number, length: number): Uint8Array;
}

export type FsOp = 'mkdirp' | 'readdir' | 'readFile' | 'openRead' | 'read' | 'readSync' | 'open' | 'rename' | 'unlink' | 'syncDir' | 'writev' | 'datasync' | 'truncate' | 'close';

/**
 * Fault injection for tests: before each operation, `fault(op, path)` may return an error to throw
 * instead (e.g. one with code 'ENOSPC'). Works over either implementation.
 */
export function withFaults(inner: WalFs, fault: (op: FsOp, path: string) => Error | undefined): WalFs {
  const check = (op: FsOp, path: string): void => {
    const err = fault(op, path);
    if (err) throw err;
  };
  const wrapFile = (path: string, f: WalFile): WalFile => ({
    async writev(chunks, position) {
      check('writev', path);
      return f.writev(chunks, position);
    },
    async datasync(here) {
      check('datasync', path);
      return f.datasync(here);
    },
    async truncate(len) {
      check('truncate', path);
      return f.truncate(len);
    },
    async close() {
      check('close', path);
      return f.close();
    },
  });
  return {
    async mkdirp(dir) {
      check('mkdirp', dir);
      return inner.mkdirp(dir);
    },
    async readdir(dir) {
      check('readdir', dir);
      return inner.readdir(dir);
    },
    async readFile(path) {
      check('readFile', path);
      return inner.readFile(path);
    },
    async openRead(path) {
      check('openRead', path);
      const f = await inner.openRead(path);
      return {
        sizeBytes: f.sizeBytes,
        async read(position, length) {
          check('read', path);
          return f.read(position, length);
        },
        close: () => f.close(),
      };
    },
    async open(path, mode) {
      check('open', path);
      return wrapFile(path, await inner.open(path, mode));
    },
    async rename(from, to) {
      check('rename', from);
      return inner.rename(from, to);
    },
    async unlink(path) {
      check('unlink', path);
      return inner.unlink(path);
    },
    async syncDir(dir) {
      check('syncDir', dir);
      return inner.syncDir(dir);
    },
    readSync(path, position, length) {
      check('readSync', path);
      return inner.readSync(path, position, length);
    },
  };
}

/** An Error with an errno code, as node:fs would throw it. */
export function errnoError(code: string, message: string): Error {
  const e = new Error(`${code}: ${message}`) as Error & { code: string };
  e.code = code;
  return e;
}
