// A client history of an etcd-compatible store, in the form hack/lincheck reads: each operation
// with its call and return time from one monotonic clock (process.hrtime), its request, and its
// answer, or no answer when the outcome is unknown (a timeout or a lost connection: the write may
// or may not have happened, as Jepsen and porcupine model it).

export type OpKind = 'put' | 'get' | 'del' | 'cas';

export interface OpInput {
  readonly kind: OpKind;
  readonly key: string;
  /** put and cas: the value written. */
  readonly value?: string;
  /** cas: the value the key must hold; absent (undefined) means the key must not exist. */
  readonly expect?: string;
  /** get: read the key as of this revision; 0 or absent reads the latest. */
  readonly rev?: number;
}

export interface OpOutput {
  /** The header revision. */
  readonly rev: number;
  readonly exists?: boolean;
  readonly value?: string;
  readonly modRev?: number;
  readonly deleted?: number;
  readonly succeeded?: boolean;
}

export interface Op {
  readonly client: number;
  readonly call: number;
  /** null: the operation never answered (a timeout, a lost connection). */
  readonly return: number | null;
  readonly input: OpInput;
  /**
   * null: the outcome is unknown, the write may or may not have happened. Set with a null return:
   * the outcome was learnt afterwards from the store's event log (see patch.ts).
   */
  readonly output: OpOutput | null;
}

export interface History {
  /** The store's revision before the first operation (nothing else writes during the run). */
  readonly initialRev: number;
  readonly ops: Op[];
  /** Revisions written by operations outside `ops` (lease keys: lease-check.ts judges them). */
  readonly foreign?: number[];
}

/** Nanoseconds on the process's monotonic clock, as a number (exact below 2^53 ns, ~104 days). */
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/** Collects operations from many clients; each call/return is stamped when it happens. */
export class HistoryRecorder {
  private readonly ops: Op[] = [];

  constructor(private readonly initialRev: number) {}

  /** Runs `fn` as one operation of `client`; `fn` returns the answer, or null when unknown. */
  async record(client: number, input: OpInput, fn: () => Promise<OpOutput | null | 'failed'>): Promise<OpOutput | null> {
    const call = monotonicNs();
    const output = await fn();
    const ret = monotonicNs();
    // 'failed': a read that got an error changes nothing and tells nothing; it is left out.
    if (output === 'failed') return null;
    this.ops.push({ client, call, return: output === null ? null : ret, input, output });
    return output;
  }

  history(): History {
    return { initialRev: this.initialRev, ops: [...this.ops] };
  }
}
