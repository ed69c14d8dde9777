// The in-memory twin of the disk: a WalFs that keeps what was written apart from what was synced,
// and can crash. Storage runs on it unchanged (openStorage(dir, { fs: memFs })), so the simulator
// and the tests exercise the very code that runs on a real disk.
//
// The model (what a real Linux file system promises, no more):
//  - File contents: writes and truncates since the file's last datasync are pending; datasync makes
//    them durable. On crash the pending ones are lost, or, with tear, a prefix of them survives
//    and the last surviving write may be cut short (a torn write).
//  - Directory entries: creating, renaming or unlinking a file is pending until syncDir of its
//    directory; on crash the directory reverts to its last synced listing.
//  - Deterministic: no clocks, no randomness of its own (crash takes a seeded Rng).
// Open handles die at crash: every later call on them rejects with EIO, as a killed process would
// never make them.

import type { Rng } from '../raft/types.js';
import { errnoError, type ReadableFile, type WalFile, type WalFs } from './fs.js';

type PendingOp = { kind: 'write'; pos: number; bytes: Uint8Array } | { kind: 'truncate'; len: number };

class Blob {
  current: Uint8Array = new Uint8Array(0);
  currentLen = 0;
  durable: Uint8Array = new Uint8Array(0);
  durableLen = 0;
  pending: PendingOp[] = [];

  /** Applies one op. Growth by truncate is lazy: bytes past the buffer read as zeros. */
  static applyTo(buf: Uint8Array, len: number, op: PendingOp): { buf: Uint8Array; len: number } {
    if (op.kind === 'truncate') {
      if (op.len < len) buf.fill(0, Math.min(op.len, buf.length), Math.min(len, buf.length));
      return { buf, len: op.len };
    }
    const end = op.pos + op.bytes.length;
    if (end > buf.length) {
      const next = new Uint8Array(Math.max(end, buf.length * 2, 64));
      next.set(buf);
      buf = next;
    }
    buf.set(op.bytes, op.pos);
    return { buf, len: Math.max(len, end) };
  }

  apply(op: PendingOp): void {
    const r = Blob.applyTo(this.current, this.currentLen, op);
    this.current = r.buf;
    this.currentLen = r.len;
    this.pending.push(op);
  }

  sync(): void {
    for (const op of this.pending) {
      const r = Blob.applyTo(this.durable, this.durableLen, op);
      this.durable = r.buf;
      this.durableLen = r.len;
    }
    this.pending = [];
  }

  /** Loses pending ops; keeps `keep` of them, the last one possibly cut to `tearBytes`. */
  crash(keep: number, tearBytes: number | undefined): void {
    const kept = this.pending.slice(0, keep);
    if (tearBytes !== undefined && kept.length > 0) {
      const last = kept[kept.length - 1] as PendingOp;
      if (last.kind === 'write') kept[kept.length - 1] = { kind: 'write', pos: last.pos, bytes: last.bytes.subarray(0, tearBytes) };
    }
    this.pending = kept;
    this.sync();
    this.current = this.durable.slice();
    this.currentLen = this.durableLen;
  }

  /** A copy of [from, to); bytes past the buffer (lazy growth) read as zeros. */
  range(from: number, to: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, to - from));
    if (from < this.current.length) out.set(this.current.subarray(from, Math.min(to, this.current.length)));
    return out;
  }

  contents(): Uint8Array {
    const out = new Uint8Array(this.currentLen);
    out.set(this.current.subarray(0, Math.min(this.currentLen, this.current.length)));
    return out;
  }
}

export interface CrashOptions {
  /**
   * Also keep part of what was not synced: per file, a random prefix of its pending writes, the last
   * one torn at a random byte. Needs rng. Default: lose everything unsynced.
   */
  tear?: boolean;
  rng?: Rng;
}

export class MemoryFs implements WalFs {
  /** path -> blob, as the running process sees it. */
  private files = new Map<string, Blob>();
  /** path -> blob, as the directories were last synced. */
  private durableFiles = new Map<string, Blob>();
  private dirs = new Set<string>(['']);
  private generation = 0;

  /** Counters a test can read. */
  readonly stats = { datasyncs: 0, writes: 0, bytesWritten: 0, bytesRead: 0 };

  private static dirOf(path: string): string {
    const i = path.lastIndexOf('/');
    return i < 0 ? '' : path.slice(0, i);
  }

  private static norm(path: string): string {
    return path.replace(/\/+/g, '/').replace(/\/$/, '');
  }

  async mkdirp(dir: string): Promise<void> {
    // Directories are treated as durable at once (they are created once, at first start).
    let d = MemoryFs.norm(dir);
    while (d !== '' && !this.dirs.has(d)) {
      this.dirs.add(d);
      d = MemoryFs.dirOf(d);
    }
  }

  async readdir(dir: string): Promise<string[]> {
    const d = MemoryFs.norm(dir);
    const out: string[] = [];
    for (const p of this.files.keys()) if (MemoryFs.dirOf(p) === d) out.push(p.slice(d.length + 1));
    return out.sort();
  }

  async readFile(path: string): Promise<Uint8Array> {
    const b = this.files.get(MemoryFs.norm(path));
    if (!b) throw errnoError('ENOENT', `no such file: ${path}`);
    return b.contents();
  }

  readSync(path: string, position: number, length: number): Uint8Array {
    const b = this.files.get(MemoryFs.norm(path));
    if (!b) throw errnoError('ENOENT', `no such file: ${path}`);
    return this.readBlob(b, position, length);
  }

  /** Up to length bytes of b's current contents from position, counted in stats. */
  private readBlob(b: Blob, position: number, length: number): Uint8Array {
    this.stats.bytesRead += Math.max(0, Math.min(length, b.currentLen - position));
    return b.range(position, Math.min(position + length, b.currentLen));
  }

  /** Reads see the file as it is at each read (no copy of the whole file is made). */
  async openRead(path: string): Promise<ReadableFile> {
    const b = this.files.get(MemoryFs.norm(path));
    if (!b) throw errnoError('ENOENT', `no such file: ${path}`);
    const gen = this.generation;
    const sizeBytes = b.currentLen;
    return {
      sizeBytes,
      read: async (position, length) => {
        if (gen !== this.generation) throw errnoError('EIO', 'file handle from before a crash');
        return this.readBlob(b, position, length);
      },
      close: async () => undefined,
    };
  }

  async open(path: string, mode: 'create' | 'write'): Promise<WalFile> {
    const p = MemoryFs.norm(path);
    if (!this.dirs.has(MemoryFs.dirOf(p))) throw errnoError('ENOENT', `no such directory for ${path}`);
    let b = this.files.get(p);
    if (mode === 'create') {
      if (b) throw errnoError('EEXIST', `file exists: ${path}`);
      b = new Blob();
      this.files.set(p, b);
    } else if (!b) {
      throw errnoError('ENOENT', `no such file: ${path}`);
    }
    return this.handle(b);
  }

  private handle(b: Blob): WalFile {
    const gen = this.generation;
    let closed = false;
    const alive = (): void => {
      if (gen !== this.generation) throw errnoError('EIO', 'file handle from before a crash');
      if (closed) throw errnoError('EBADF', 'file is closed');
    };
    return {
      writev: async (chunks, position) => {
        alive();
        let pos = position;
        for (const c of chunks) {
          // A copy: Buffer#slice would be a view of the caller's bytes (a pool slice, a reused buffer).
          b.apply({ kind: 'write', pos, bytes: Uint8Array.prototype.slice.call(c) });
          pos += c.length;
          this.stats.bytesWritten += c.length;
        }
        this.stats.writes++;
      },
      datasync: async () => {
        alive();
        b.sync();
        this.stats.datasyncs++;
      },
      truncate: async (len) => {
        alive();
        b.apply({ kind: 'truncate', len });
      },
      close: async () => {
        alive();
        closed = true;
      },
    };
  }

  async rename(from: string, to: string): Promise<void> {
    const f = MemoryFs.norm(from);
    const b = this.files.get(f);
    if (!b) throw errnoError('ENOENT', `no such file: ${from}`);
    this.files.delete(f);
    this.files.set(MemoryFs.norm(to), b);
  }

  async unlink(path: string): Promise<void> {
    const p = MemoryFs.norm(path);
    if (!this.files.delete(p)) throw errnoError('ENOENT', `no such file: ${path}`);
  }

  async syncDir(dir: string): Promise<void> {
    const d = MemoryFs.norm(dir);
    for (const p of [...this.durableFiles.keys()]) if (MemoryFs.dirOf(p) === d) this.durableFiles.delete(p);
    for (const [p, b] of this.files) if (MemoryFs.dirOf(p) === d) this.durableFiles.set(p, b);
  }

  /**
   * A power cut or kill -9: everything not synced is lost (or, with tear, partly kept). Open
   * handles die. Storage opened before must be abandoned; open it again to recover.
   */
  crash(opts: CrashOptions = {}): void {
    this.generation++;
    const all = new Set<Blob>([...this.files.values(), ...this.durableFiles.values()]);
    for (const b of all) {
      if (opts.tear && opts.rng && b.pending.length > 0) {
        const keep = opts.rng.intn(b.pending.length + 1);
        const last = b.pending[keep - 1];
        const tear = last && last.kind === 'write' ? opts.rng.intn(last.bytes.length + 1) : undefined;
        b.crash(keep, tear);
      } else {
        b.crash(0, undefined);
      }
    }
    this.files = new Map(this.durableFiles);
  }

  /**
   * A view for one process lifetime: after crash() every call through it rejects with EIO, so a
   * storage left over from before the crash can no longer touch the disk (a killed process cannot).
   * Open storage on `fs.process()` after each start; the MemoryFs itself has no such guard.
   */
  process(): WalFs {
    const gen = this.generation;
    const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
      if (gen !== this.generation) throw errnoError('EIO', 'process crashed');
      return fn();
    };
    return {
      mkdirp: (d) => guard(() => this.mkdirp(d)),
      readdir: (d) => guard(() => this.readdir(d)),
      readFile: (p) => guard(() => this.readFile(p)),
      openRead: (p) => guard(() => this.openRead(p)),
      open: (p, m) => guard(() => this.open(p, m)),
      rename: (a, b) => guard(() => this.rename(a, b)),
      unlink: (p) => guard(() => this.unlink(p)),
      syncDir: (d) => guard(() => this.syncDir(d)),
      readSync: (p, at, n) => {
        if (gen !== this.generation) throw errnoError('EIO', 'process crashed');
        return this.readSync(p, at, n);
      },
    };
  }

  /** Test helpers: raw access to a file's current bytes, and replacing them (durably). */
  peek(path: string): Uint8Array | undefined {
    return this.files.get(MemoryFs.norm(path))?.contents();
  }

  poke(path: string, bytes: Uint8Array): void {
    const p = MemoryFs.norm(path);
    let b = this.files.get(p);
    if (!b) {
      b = new Blob();
      this.files.set(p, b);
      this.durableFiles.set(p, b);
    }
    b.pending = [];
    b.apply({ kind: 'truncate', len: 0 });
    b.apply({ kind: 'write', pos: 0, bytes: Uint8Array.prototype.slice.call(bytes) });
    b.sync();
  }

  list(): string[] {
    return [...this.files.keys()].sort();
  }
}
