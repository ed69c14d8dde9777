// The arithmetic of the bench scripts' summaries (hack/lib/bench-measure.ts): no timing here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contextSwitches, contextSwitchesOf, median, metricSum, quantile, rssSplitMiB, summarize } from './bench-measure.js';

describe('bench-measure', () => {
  it('quantile is the nearest rank', () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(quantile(s, 0.5)).toBe(50);
    expect(quantile(s, 0.99)).toBe(99);
    expect(quantile(s, 1)).toBe(100);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([1, 2, 3], 0.5)).toBe(2);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('summarize sorts, drops non-finite samples, and reports n, p50, p99, max', () => {
    const xs = [5, NaN, 1, 4, Infinity, 2, 3];
    expect(summarize(xs)).toEqual({ n: 5, p50: 3, p99: 5, max: 5 });
    expect(summarize([]).n).toBe(0);
    // Negative samples stay (a watch event can arrive before its create's response).
    expect(summarize([-1, 2]).p50).toBe(-1);
  });

  it("rssSplitMiB's parts add up to the process's VmRSS, and a running node has both kinds", () => {
    // Read twice around the status read the split makes: the RSS may move a little between them.
    const vmRss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
    const before = vmRss();
    const split = rssSplitMiB(process.pid);
    const after = vmRss();
    const sum = split.anon + split.file + split.shmem;
    expect(sum).toBeGreaterThanOrEqual(Math.min(before, after) - 1);
    expect(sum).toBeLessThanOrEqual(Math.max(before, after) + 1);
    // The node binary's text is file-backed; V8's heap is anonymous.
    expect(split.file).toBeGreaterThan(1);
    expect(split.anon).toBeGreaterThan(1);
  });

  it('contextSwitchesOf reads both counters of a status text', () => {
    const status = 'Name:\tnode\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n';
    expect(contextSwitchesOf(status)).toEqual({ voluntary: 1234, involuntary: 56 });
    expect(contextSwitchesOf('Name:\tnode\n')).toEqual({ voluntary: 0, involuntary: 0 });
  });

  it("contextSwitches sums a process's threads: a blocking wait here shows in it", () => {
    const own = (): number => contextSwitchesOf(readFileSync('/proc/thread-self/status', 'utf8')).voluntary;
    const before = own();
    // Blocks this thread in the kernel (a futex wait that times out): it must give up its CPU.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    const mine = own();
    expect(mine).toBeGreaterThan(before);
    // The process's sum includes this thread's count, which only grows.
    expect(contextSwitches(process.pid).voluntary).toBeGreaterThanOrEqual(mine);
  });

  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN])).toBeNaN();
  });

  it('metricSum adds the samples of one metric, filtered by labels', () => {
    const page = [
      '# TYPE etcd_server_leader_changes_seen_total counter',
      'etcd_server_leader_changes_seen_total 2',
      'etcd_server_leader_changes_seen_total_other 9',
      'etcd_request_duration_seconds_count{operation="create",resource="configmaps"} 10',
      'etcd_request_duration_seconds_count{operation="create",resource="pods"} 4',
      'etcd_request_duration_seconds_count{operation="list",resource="configmaps"} 3',
    ].join('\n');
    expect(metricSum(page, 'etcd_server_leader_changes_seen_total')).toBe(2);
    expect(metricSum(page, 'etcd_request_duration_seconds_count', { resource: 'configmaps' })).toBe(13);
    expect(metricSum(page, 'etcd_request_duration_seconds_count', { operation: 'create', resource: 'configmaps' })).toBe(10);
    expect(metricSum(page, 'etcd_server_heartbeat_send_failures_total')).toBe(0);
  });
});
