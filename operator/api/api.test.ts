import { describe, expect, it } from 'vitest';
import { setCondition } from './conditions.js';
import { resolveSpec } from './defaults.js';
import { parseQuantity } from './quantity.js';
import { ODD_REPLICAS_MESSAGE, validateSpec } from './validate.js';
import type { EtcdClusterSpec } from './types.js';

const check = (spec: EtcdClusterSpec, prev: string | null = null) => validateSpec(spec, resolveSpec(spec), prev);

describe('validateSpec (mirrors the CRD CEL rules)', () => {
  it('accepts the defaults', () => expect(check({})).toEqual([]));
  it('accepts odd sizes 1..9 and rejects even sizes with the reason', () => {
    for (const r of [1, 3, 5, 7, 9]) expect(check({ replicas: r })).toEqual([]);
    for (const r of [2, 4, 6, 8]) expect(check({ replicas: r })).toEqual([{ field: 'spec.replicas', reason: 'EvenReplicas', message: ODD_REPLICAS_MESSAGE }]);
    expect(check({ replicas: 11 })[0]?.reason).toBe('InvalidReplicas');
    expect(check({ replicas: 0 })[0]?.reason).toBe('InvalidReplicas');
  });
  it('requires requests == limits, comparing quantities not spellings', () => {
    expect(check({ resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1000m', memory: '1024Mi' } } })).toEqual([]);
    expect(check({ resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: '1Gi' } } })[0]?.reason).toBe('NotGuaranteed');
  });
  it('requires electionTimeoutMs >= 5 x heartbeatIntervalMs', () => {
    expect(check({ heartbeatIntervalMs: 100, electionTimeoutMs: 500 })).toEqual([]);
    expect(check({ heartbeatIntervalMs: 100, electionTimeoutMs: 499 })[0]?.reason).toBe('InvalidTimeouts');
  });
  it('defaults compaction to periodic 1h and checks the retention against the mode', () => {
    expect(resolveSpec({}).compaction).toEqual({ mode: 'periodic', retention: '1h' });
    expect(check({ compaction: { mode: 'revision', retention: '10000' } })).toEqual([]);
    expect(check({ compaction: { retention: '0' } })).toEqual([]);
    const p = check({ compaction: { mode: 'revision', retention: '1h' } });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ field: 'spec.compaction.retention', reason: 'InvalidCompaction' });
    expect(p[0]?.message).toMatch(/whole number of revisions in revision mode/);
    expect(check({ compaction: { mode: 'hourly' as 'periodic' } })[0]?.reason).toBe('InvalidCompaction');
  });
  it('forbids shrinking the storage size', () => {
    expect(check({ storage: { size: '10Gi' } }, '8Gi')).toEqual([]);
    const p = check({ storage: { size: '4Gi' } }, '8Gi');
    expect(p[0]?.reason).toBe('StorageShrink');
    expect(p[0]?.message).toMatch(/set it back to 8Gi/);
  });
});

describe('quantities', () => {
  it('parses binary, decimal and milli forms', () => {
    expect(parseQuantity('1Gi')).toBe(2 ** 30);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('2k')).toBe(2000);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('abc')).toBeNull();
  });
});

describe('conditions', () => {
  it('keeps lastTransitionTime while the status is unchanged', () => {
    let c = setCondition(undefined, { type: 'Available', status: 'True', reason: 'A', message: '' }, 't1');
    c = setCondition(c, { type: 'Available', status: 'True', reason: 'B', message: 'x' }, 't2');
    expect(c[0]).toMatchObject({ reason: 'B', lastTransitionTime: 't1' });
    c = setCondition(c, { type: 'Available', status: 'False', reason: 'C', message: '' }, 't3');
    expect(c[0]?.lastTransitionTime).toBe('t3');
    c = setCondition(c, { type: 'Degraded', status: 'False', reason: 'D', message: '' }, 't3');
    c = setCondition(c, { type: 'Progressing', status: 'False', reason: 'P', message: '' }, 't3');
    expect(c.map((x) => x.type)).toEqual(['Available', 'Progressing', 'Degraded']);
  });
});
