// Typed storage errors. Each carries a stable `code` the runtime can switch on.
//  - StorageCorruptError: recovery found damage it must not paper over; the member refuses to start.
//  - StorageWriteError: an I/O error on the write path (ENOSPC, EIO, ...); the storage is stopped.
//  - StorageStoppedError: a call after a write error; carries the original as `cause`.
//  - StorageClosedError: a call after close().

export class StorageCorruptError extends Error {
  readonly code = 'ErrStorageCorrupt';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`storage: corrupt data in ${file} at byte offset ${offset}: ${reason}; refusing to start`);
    this.name = 'StorageCorruptError';
  }
}

/** The errno-like code of an unknown error, if it has one (ENOSPC, EIO, ...). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export class StorageWriteError extends Error {
  readonly code = 'ErrStorageWrite';
  /** The errno code of the underlying failure, e.g. 'ENOSPC'; undefined if it had none. */
  readonly errno: string | undefined;
  constructor(
    readonly op: string,
    readonly path: string,
    override readonly cause: unknown,
  ) {
    const errno = errnoCode(cause);
    super(`storage: ${op} ${path} failed (${errno ?? 'error'}: ${describe(cause)}); storage stopped, no further writes accepted`);
    this.name = 'StorageWriteError';
    this.errno = errno;
  }
}

export class StorageStoppedError extends Error {
  readonly code = 'ErrStorageStopped';
  constructor(override readonly cause: StorageWriteError) {
    super(`storage: stopped after an earlier write failure: ${cause.message}`);
    this.name = 'StorageStoppedError';
  }
}

export class StorageClosedError extends Error {
  readonly code = 'ErrStorageClosed';
  constructor() {
    super('storage: closed');
    this.name = 'StorageClosedError';
  }
}

export type StorageError =
  | StorageCorruptError
  | StorageWriteError
  | StorageStoppedError
  | StorageClosedError;
