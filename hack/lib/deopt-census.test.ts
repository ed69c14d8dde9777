import { describe, expect, it } from 'vitest';
import { deoptsIn, summarizeDeopts } from './deopt-census.js';

// Lines as node 20's --trace-deopt writes them (trimmed after the part the census reads).
const LOG = [
  '{"level":"info","msg":"member started"}',
  '[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x148d86790e49 <JSFunction lastIndex (sfi = 0x25264cf72731)>, 0x2dbef60ecf31 <Code TURBOFAN>, opt id 88',
  '            ;;; deoptimize at <file:///x/node/raft/memory-storage.js:37:29>',
  '[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x148d8678f161 <JSFunction term (sfi = 0x25264cf59229)>, 0x2dbef60f5479 <Code TURBOFAN>, opt id 100',
  '[bailout (kind: deopt-eager, reason: Insufficient type feedback for call): begin. deoptimizing 0x05d50e1eaed1 <JSFunction _copy (sfi = 0x211af6f174a1)>, 0x3928b41b29c9 <Code TURBOFAN>',
  '[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x148d86790e49 <JSFunction lastIndex (sfi = 0x25264cf72731)>, 0x2dbef60ecf31 <Code TURBOFAN>, opt id 91',
  '[bailout (kind: deopt-soft, reason: Insufficient type feedback for generic named access): begin. deoptimizing 0x11232c72a619 <JSFunction (sfi = 0x3d6ce099e971)>, 0x3928b41993b1 <Code TURBOFAN>',
].join('\n');

describe('deopt census', () => {
  it('reads the function and the reason of each --trace-deopt bailout, and nothing else', () => {
    expect(deoptsIn(LOG)).toEqual([
      { fn: 'lastIndex', reason: 'wrong map' },
      { fn: 'term', reason: 'wrong map' },
      { fn: '_copy', reason: 'Insufficient type feedback for call' },
      { fn: 'lastIndex', reason: 'wrong map' },
      { fn: '(anonymous)', reason: 'Insufficient type feedback for generic named access' },
    ]);
  });

  it('summarizes by function and reason, the most frequent first', () => {
    expect(summarizeDeopts(deoptsIn(LOG), 2)).toBe('5: lastIndex (wrong map) x2, term (wrong map)');
    expect(summarizeDeopts([])).toBe('0');
  });
});
