import { describe, expect, it } from 'vitest';
import { Inflights } from './inflights.js';
import { Progress } from './progress.js';

describe('Inflights', () => {
  it('fills up by count, frees in order, and wraps around the ring', () => {
    const inf = new Inflights(3, 0);
    inf.add(5, 10);
    inf.add(7, 10);
    inf.add(9, 10);
    expect(inf.full()).toBe(true);
    expect(() => inf.add(11, 1)).toThrow(/full inflights/);
    inf.freeLE(6);
    expect(inf.countMsgs()).toBe(2);
    expect(inf.full()).toBe(false);
    inf.add(11, 10); // wraps to slot 0
    expect(inf.full()).toBe(true);
    inf.freeLE(4); // stale ack frees nothing
    expect(inf.countMsgs()).toBe(3);
    inf.freeLE(10);
    expect(inf.countMsgs()).toBe(1);
    expect(inf.countBytes()).toBe(10);
    inf.freeLE(100);
    expect(inf.countMsgs()).toBe(0);
    expect(inf.countBytes()).toBe(0);
  });

  it('is full once the byte budget is reached, even with free slots', () => {
    const inf = new Inflights(100, 1000);
    inf.add(1, 600);
    expect(inf.full()).toBe(false);
    inf.add(2, 400);
    expect(inf.full()).toBe(true);
    inf.freeLE(1);
    expect(inf.full()).toBe(false);
    expect(inf.countBytes()).toBe(400);
  });

  it('reset empties it', () => {
    const inf = new Inflights(2, 0);
    inf.add(1, 1);
    inf.add(2, 1);
    inf.reset();
    expect(inf.countMsgs()).toBe(0);
    expect(inf.full()).toBe(false);
  });
});

describe('Progress', () => {
  it('probe sends one append then pauses until an ack or heartbeat answer', () => {
    const pr = new Progress(5, false, 10, 0);
    expect(pr.state).toBe('probe');
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(2, 6, 20);
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(5); // probe does not advance next optimistically
    expect(pr.maybeUpdate(6)).toBe(true);
    expect(pr.isPaused()).toBe(false);
    expect(pr.match).toBe(6);
    expect(pr.next).toBe(7);
  });

  it('replicate pipelines optimistically and pauses when inflights are full', () => {
    const pr = new Progress(1, false, 2, 0);
    pr.becomeReplicate();
    pr.sentEntries(3, 3, 30);
    expect(pr.next).toBe(4);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(2, 5, 20);
    expect(pr.next).toBe(6);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(3);
    pr.inflights.freeLE(3);
    expect(pr.inflights.countMsgs()).toBe(1);
  });

  it('maybeDecrTo: stale rejections are ignored, fresh ones move next back using the hint', () => {
    const pr = new Progress(10, false, 10, 0);
    pr.match = 3;
    // probe: only a rejection of exactly next-1 counts
    expect(pr.maybeDecrTo(7, 4)).toBe(false);
    expect(pr.maybeDecrTo(9, 4)).toBe(true);
    expect(pr.next).toBe(5); // min(rejected, hint+1), but not below match+1
    expect(pr.maybeDecrTo(4, 0)).toBe(true);
    expect(pr.next).toBe(4); // match+1 floor
    // replicate: a rejection at or below match is stale; otherwise fall back to match+1
    pr.becomeReplicate();
    pr.sentEntries(5, 9, 50);
    expect(pr.maybeDecrTo(3, 0)).toBe(false);
    expect(pr.maybeDecrTo(8, 2)).toBe(true);
    expect(pr.next).toBe(4);
  });

  it('snapshot state pauses, and probing resumes after the snapshot index', () => {
    const pr = new Progress(2, false, 10, 0);
    pr.becomeSnapshot(50);
    expect(pr.isPaused()).toBe(true);
    expect(pr.pendingSnapshot).toBe(50);
    pr.becomeProbe();
    expect(pr.state).toBe('probe');
    expect(pr.next).toBe(51);
    expect(() => {
      pr.becomeSnapshot(60);
      pr.sentEntries(1, 61, 1);
    }).toThrow();
  });
});
