// Rebuilds the saved state from the WAL's records, in order, and picks the snapshot to start from.
// Pure: the I/O (reading segments and snapshot files) happens in storage.ts.

import { EMPTY_HARD_STATE, type Entry, type HardState, type Snapshot } from '../raft/types.js';
import type { WalRecord } from './frame.js';
import { LogShape } from './log-shape.js';

export class ReplayError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export class Replay {
  shape: LogShape | undefined;
  /** Entries base+1 .. last, contiguous. */
  entries: Entry[] = [];
  hardState: HardState = EMPTY_HARD_STATE;
  /** Every snapshot marker seen: index -> term. */
  readonly markers = new Map<number, number>();
  /** The last marker in record order (the newest durable snapshot). */
  lastMarker: { index: number; term: number } | undefined;
  lastSeq = -1;

  /** Applies one record. Throws ReplayError on a broken invariant (the caller adds file + offset). */
  apply(rec: WalRecord): void {
    switch (rec.kind) {
      case 'segmentHeader': {
        if (this.shape === undefined) {
          this.shape = new LogShape(rec.firstIndex - 1);
        } else {
          if (rec.seq !== this.lastSeq + 1) throw new ReplayError(`segment sequence ${rec.seq} follows ${this.lastSeq}`);
          if (rec.firstIndex !== this.shape.last + 1) {
            throw new ReplayError(`segment starts at index ${rec.firstIndex} but the log before it ends at ${this.shape.last}`);
          }
        }
        this.lastSeq = rec.seq;
        return;
      }
      case 'entries': {
        const shape = this.need();
        for (const e of rec.entries) {
          const baseBefore = shape.base;
          if (!shape.append(e.index, e.term)) {
            throw new ReplayError(`entry ${e.index} leaves a gap after index ${shape.last}`);
          }
          // shape.append truncated the suffix (or restarted the log) if needed; mirror it.
          if (shape.base !== baseBefore) this.entries = [];
          this.entries.length = e.index - shape.base - 1;
          this.entries.push(e);
        }
        return;
      }
      case 'hardState':
        this.need();
        this.hardState = rec.hardState;
        return;
      case 'snapshot': {
        const shape = this.need();
        this.markers.set(rec.index, rec.term);
        this.lastMarker = { index: rec.index, term: rec.term };
        if (shape.applySnapshot(rec.index, rec.term) === 'replaced') this.entries = [];
        return;
      }
      default: {
        const never: never = rec;
        throw new ReplayError(`unknown record ${JSON.stringify(never)}`);
      }
    }
  }

  private need(): LogShape {
    if (this.shape === undefined) throw new ReplayError('record before the segment header');
    return this.shape;
  }
}

export interface SnapshotCandidate {
  readonly index: number;
  readonly term: number;
  readonly name: string;
}

/**
 * A snapshot is usable when the WAL holds its marker (so it was completely written before anything
 * depended on it) and the replayed log covers everything after it (index >= base).
 */
export function usableSnapshots(replay: Replay, candidates: readonly SnapshotCandidate[]): SnapshotCandidate[] {
  const base = replay.shape?.base ?? 0;
  return candidates
    .filter((c) => replay.markers.get(c.index) === c.term && c.index >= base)
    .sort((a, b) => b.index - a.index || b.term - a.term);
}

/** The recovered state once the snapshot (or none) is chosen. */
export function assemble(replay: Replay, snapshot: Snapshot | undefined): { hardState: HardState; entries: Entry[] } {
  const base = replay.shape?.base ?? 0;
  const snapIndex = snapshot?.metadata.index ?? 0;
  if (snapIndex < base) throw new ReplayError(`the WAL starts after index ${base} but no usable snapshot covers it`);
  const entries = replay.entries.slice(Math.max(0, snapIndex - base));
  const hs = replay.hardState;
  const hardState = hs.commit < snapIndex ? { term: hs.term, vote: hs.vote, commit: snapIndex } : hs;
  return { hardState, entries };
}
