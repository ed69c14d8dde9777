// V8's helper threads at a lower CPU priority than the member's main thread and libuv's pool.
//
// A member's main thread runs Raft, the MVCC store and every request. libuv's pool runs its WAL
// writes and fdatasyncs. V8's platform threads compile code in the background and mark and sweep
// the heap beside the main thread. When the cores are all busy (three members and a client on two
// cores under etcd's benchmark, or a crowded node), the main thread waits for a CPU behind that
// background work, and every request waits with it. Ten nice steps lower, the background work
// still runs, on the time the main thread leaves; V8 does the marking on the main thread when its
// helpers fall behind. docs/benchmarks/member.md, "Twenty-eighth stop".
//
// Node does not name its threads, so they are told apart by the order they were made in. V8's
// threads start with the process. libuv starts its pool when the module loader first reads a
// file, before any module of ours runs. So the pool is the last UV_THREADPOOL_SIZE threads.
// Thread ids grow in the order threads are made, unless the kernel's ids wrapped around in
// between. A wrap leaves ids far apart or below the process's own; then nothing is changed.

import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Logger } from './log.js';

/** How much nicer than the main thread V8's helper threads run (at most 19, the lowest priority). */
export const HELPER_THREAD_NICE_STEP = 10;

/** Thread ids of one process made within its first moments lie closer together than this. */
export const MAX_THREAD_ID_SPREAD = 10_000;

/**
 * libuv's pool size, as libuv reads UV_THREADPOOL_SIZE: 4 when unset; otherwise atoi() of it into
 * an unsigned int, 0 (no number) made 1, and anything over 1024 (a negative one too) made 1024.
 */
export function uvPoolSize(env: NodeJS.ProcessEnv): number {
  const v = env['UV_THREADPOOL_SIZE'];
  if (v === undefined) return 4;
  const n = Number.parseInt(v, 10) || 0;
  if (n === 0) return 1;
  return n < 0 || n > 1024 ? 1024 : n;
}

export type HelperThreads = { readonly tids: readonly number[] } | { readonly skip: string };

/**
 * V8's helper threads among a process's threads: every thread but the main one and libuv's pool,
 * the pool being the last `poolSize` threads made. Or why they cannot be told apart.
 */
export function v8HelperThreads(tids: readonly number[], mainTid: number, poolSize: number): HelperThreads {
  const others = tids.filter((t) => t !== mainTid).sort((a, b) => a - b);
  if (others.length <= poolSize) return { skip: `${others.length} threads beside the main one, not more than libuv's pool of ${poolSize}` };
  const first = others[0] as number;
  const last = others[others.length - 1] as number;
  if (first < mainTid || last - first > MAX_THREAD_ID_SPREAD) return { skip: `thread ids ${first}..${last} do not follow the main thread's ${mainTid} in order` };
  return { tids: others.slice(0, others.length - poolSize) };
}

/** Lowers this process's V8 helper threads HELPER_THREAD_NICE_STEP below the main thread, where Linux lets it see them. */
export function lowerV8HelperThreads(log: Logger): void {
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task').map(Number);
  } catch {
    return; // not Linux
  }
  const helpers = v8HelperThreads(tids, process.pid, uvPoolSize(process.env));
  if ('skip' in helpers) {
    log.info("V8's helper threads keep the main thread's priority", { reason: helpers.skip });
    return;
  }
  const nice = Math.min(19, getPriority(process.pid) + HELPER_THREAD_NICE_STEP);
  try {
    // On Linux a thread id names that one thread.
    for (const t of helpers.tids) setPriority(t, nice);
  } catch (err) {
    log.warn("could not lower the priority of V8's helper threads", { err });
    return;
  }
  log.info("V8's helper threads run below the main thread's priority", { nice, threads: helpers.tids.length });
}
