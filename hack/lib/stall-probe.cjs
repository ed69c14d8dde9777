// A preload for a benchmarked Node member (node --require=hack/lib/stall-probe.cjs, with
// TSETCD_STALL_DIR set): it logs each event-loop stall and each GC pause to
// $TSETCD_STALL_DIR/<pid>.stalls, for hack/lib/stall-census.ts to read. A stall is a 1 ms
// interval timer firing more than 2 ms late; for each, the main thread's /proc schedstat says
// how much of the gap it spent running (our own code, GC) and how much runnable but waiting for
// a CPU (other threads had both cores). Costs a pread per millisecond: CPU figures taken with it
// carry that.
'use strict';
const fs = require('node:fs');
const { PerformanceObserver, constants: k, performance } = require('node:perf_hooks');

const dir = process.env.TSETCD_STALL_DIR;
if (dir) {
  const out = fs.openSync(`${dir}/${process.pid}.stalls`, 'a');
  const write = (line) => fs.writeSync(out, `${line}\n`);
  const wall = (t) => (performance.timeOrigin + t).toFixed(1);
  const GC_KINDS = {
    [k.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [k.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [k.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [k.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) write(`gc ${wall(e.startTime)} ${GC_KINDS[e.detail.kind] ?? e.detail.kind} ${e.duration.toFixed(2)}`);
  }).observe({ entryTypes: ['gc'] });

  // Fields 1 and 2 of schedstat: nanoseconds on a CPU, nanoseconds runnable but waiting for one.
  const sched = fs.openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
  const buf = Buffer.alloc(128);
  const readSched = () => {
    const f = buf.toString('latin1', 0, fs.readSync(sched, buf, 0, buf.length, 0)).split(' ');
    return [Number(f[0]) / 1e6, Number(f[1]) / 1e6];
  };
  let last = performance.now();
  let [ran0, waited0] = readSched();
  setInterval(() => {
    const now = performance.now();
    const [ran, waited] = readSched();
    if (now - last > 3) write(`stall ${wall(now)} ${(now - last - 1).toFixed(2)} ${(ran - ran0).toFixed(2)} ${(waited - waited0).toFixed(2)}`);
    last = now;
    ran0 = ran;
    waited0 = waited;
  }, 1).unref();
}
