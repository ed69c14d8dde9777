import { describe, expect, it } from 'vitest';
import { isReadOnlyTxn, isSerializableTxn } from './txn-kind.js';
import type { RequestOp, TxnRequest } from './types.js';

const k = Buffer.from('k');
const range = (serializable?: boolean): RequestOp => ({ requestRange: { key: k, ...(serializable === undefined ? {} : { serializable }) } });
const put: RequestOp = { requestPut: { key: k, value: k } };
const del: RequestOp = { requestDeleteRange: { key: k } };

describe('what a txn does (etcd IsTxnReadonly, IsTxnSerializable)', () => {
  const cases: [string, TxnRequest, boolean, boolean][] = [
    ['no ops at all', {}, true, true],
    ['compares alone', { compare: [{ key: k, target: 0, result: 0 }] }, true, true],
    ['linearizable ranges', { success: [range()], failure: [range(false)] }, true, false],
    ['serializable ranges in both branches', { success: [range(true)], failure: [range(true)] }, true, true],
    ['one linearizable range among serializable ones', { success: [range(true), range()] }, true, false],
    ['a put in the failure branch', { success: [range(true)], failure: [put] }, false, false],
    ['a delete in a nested txn', { success: [{ requestTxn: { failure: [del] } }] }, false, false],
    ['a nested txn of serializable ranges', { success: [{ requestTxn: { success: [range(true)], failure: [range(true)] } }] }, true, true],
    ['a nested txn with a linearizable range', { success: [range(true), { requestTxn: { success: [range()] } }] }, true, false],
  ];
  it.each(cases)('%s', (_name, t, readOnly, serializable) => {
    expect(isReadOnlyTxn(t)).toBe(readOnly);
    expect(isSerializableTxn(t)).toBe(serializable);
  });

  it('tells ops apart by the field that holds a value (a decoded op may carry the others as undefined)', () => {
    const decodedPut = { requestRange: undefined, requestPut: { key: k, value: k } } as unknown as RequestOp;
    const decodedRange = { requestPut: undefined, requestDeleteRange: null, requestRange: { key: k, serializable: true } } as unknown as RequestOp;
    expect(isReadOnlyTxn({ success: [decodedPut] })).toBe(false);
    expect(isReadOnlyTxn({ success: [decodedRange] })).toBe(true);
    expect(isSerializableTxn({ success: [decodedRange] })).toBe(true);
  });
});
