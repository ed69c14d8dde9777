import { describe, expect, it } from 'vitest';
import { backupDueSlot, backupFolder, backupKey, backupsToPrune, parseRetentionAge, pickSnapshotMember, type CandidateStatus } from './backup.js';

const T = Date.parse('2026-12-02T03:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

function st(memberID: string, applied: number | null, extra: Partial<CandidateStatus> = {}): CandidateStatus {
  return { memberID, leaderID: '1', raftIndex: applied ?? 50, raftAppliedIndex: applied, isLearner: false, errors: [], ...extra };
}

describe('backupDueSlot', () => {
  it('is due at the scheduled minute, once', () => {
    expect(backupDueSlot('0 3 * * *', undefined, T + 10_000)).toBe(T);
    expect(backupDueSlot('0 3 * * *', '2026-12-02T03:00:00.000Z', T + 10_000)).toBeNull();
    expect(backupDueSlot('0 3 * * *', '2026-12-01T03:00:00.000Z', T + 10_000)).toBe(T);
  });
  it('is not due before the minute, nor after the starting deadline', () => {
    expect(backupDueSlot('0 3 * * *', undefined, T - 1)).toBeNull();
    expect(backupDueSlot('0 3 * * *', undefined, T + 30 * MIN)).toBe(T);
    expect(backupDueSlot('0 3 * * *', undefined, T + HOUR + 1)).toBeNull();
  });
  it('a malformed schedule is never due (validation reports it)', () => {
    expect(backupDueSlot('61 * * * *', undefined, T)).toBeNull();
  });
});

describe('pickSnapshotMember', () => {
  it('takes the highest applied index', () => {
    const p = pickSnapshotMember([
      { endpoint: 'a', status: st('1', 10) },
      { endpoint: 'b', status: st('2', 12) },
      { endpoint: 'c', status: st('3', 11) },
    ]);
    expect(p).toEqual({ endpoint: 'b', appliedIndex: 12 });
  });
  it('prefers the leader on a tie, and falls back to raftIndex when applied is not reported', () => {
    expect(pickSnapshotMember([{ endpoint: 'a', status: st('2', 12) }, { endpoint: 'b', status: st('1', 12) }])?.endpoint).toBe('b');
    expect(pickSnapshotMember([{ endpoint: 'a', status: st('2', null, { raftIndex: 7 }) }, { endpoint: 'b', status: st('3', 5) }])?.endpoint).toBe('a');
  });
  it('skips learners, silent members and members with errors; null when none fits', () => {
    const p = pickSnapshotMember([
      { endpoint: 'a', status: st('2', 99, { isLearner: true }) },
      { endpoint: 'b', status: null },
      { endpoint: 'c', status: st('3', 98, { errors: ['NOSPACE'] }) },
      { endpoint: 'd', status: st('4', 3) },
    ]);
    expect(p?.endpoint).toBe('d');
    expect(pickSnapshotMember([{ endpoint: 'b', status: null }])).toBeNull();
  });
});

describe('keys and retention', () => {
  const folder = backupFolder('backups', 'ns', 'c1');
  it('names objects under <prefix>/<namespace>/<cluster>/, sortable by time', () => {
    expect(folder).toBe('backups/ns/c1/');
    expect(backupFolder('', 'ns', 'c1')).toBe('ns/c1/');
    expect(backupKey(folder, 'c1', T + 1234)).toBe('backups/ns/c1/c1-20261202T030001234Z.db');
    expect(backupKey(folder, 'c1', T) < backupKey(folder, 'c1', T + 1)).toBe(true);
  });
  const stored = [0, 1, 2, 3, 4].map((i) => ({ key: backupKey(folder, 'c1', T - i * HOUR), lastModifiedMs: T - i * HOUR }));
  it('by count: keeps the newest maxCount', () => {
    expect(backupsToPrune(stored, folder, { maxCount: 2, maxAgeMs: null }, T)).toEqual(stored.slice(2).map((b) => b.key));
  });
  it('by age: removes those older than maxAge', () => {
    expect(backupsToPrune(stored, folder, { maxCount: null, maxAgeMs: 2 * HOUR + 1 }, T)).toEqual(stored.slice(3).map((b) => b.key));
  });
  it('never removes the newest backup, even when it is too old', () => {
    expect(backupsToPrune(stored.slice(3), folder, { maxCount: null, maxAgeMs: HOUR }, T)).toEqual([stored[4]!.key]);
    expect(backupsToPrune(stored, folder, { maxCount: 0, maxAgeMs: null }, T)).toHaveLength(4);
  });
  it('leaves objects that are not its snapshots alone', () => {
    const others = [
      { key: 'backups/ns/c1/notes.txt', lastModifiedMs: 0 },
      { key: 'backups/ns/c1/sub/old.db', lastModifiedMs: 0 },
      { key: 'backups/ns/c10-x.db', lastModifiedMs: 0 },
    ];
    expect(backupsToPrune([...stored, ...others], folder, { maxCount: 1, maxAgeMs: HOUR }, T)).toEqual(stored.slice(1).map((b) => b.key));
  });
  it('parses retention ages', () => {
    expect(parseRetentionAge('7d')).toBe(7 * 24 * HOUR);
    expect(parseRetentionAge('1h30m')).toBe(90 * MIN);
    expect(parseRetentionAge('')).toBeNull();
    expect(parseRetentionAge('0m')).toBeNull();
    expect(parseRetentionAge('3 days')).toBeNull();
  });
});
