import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_THREAD_ID_SPREAD, uvPoolSize, v8HelperThreads } from './thread-priority.js';

describe('v8HelperThreads', () => {
  it('takes every thread but the main one and the last pool-size threads made', () => {
    expect(v8HelperThreads([100, 101, 102, 103, 104, 105, 106, 110, 111, 112, 113], 100, 4)).toEqual({ tids: [101, 102, 103, 104, 105, 106] });
    // Listed in any order; ids of other processes' threads may fall in between.
    expect(v8HelperThreads([113, 100, 105, 101, 112, 111, 110], 100, 4)).toEqual({ tids: [101, 105] });
    expect(v8HelperThreads([100, 101, 102, 103], 100, 2)).toEqual({ tids: [101] });
  });

  it('changes nothing when the threads cannot be told apart', () => {
    // No more threads than the pool: which are V8's is unknown.
    expect(v8HelperThreads([100, 101, 102, 103, 104], 100, 4)).toHaveProperty('skip');
    // Ids wrapped around: the pool's ids came out lower than V8's.
    expect(v8HelperThreads([32000, 32001, 32002, 32003, 32004, 32005, 300, 301, 302, 303], 32000, 4)).toHaveProperty('skip');
    expect(v8HelperThreads([500, 501, 502, 503, 504, 505, 502 + MAX_THREAD_ID_SPREAD], 500, 4)).toHaveProperty('skip');
  });
});

describe('uvPoolSize', () => {
  it('reads UV_THREADPOOL_SIZE as libuv does: 4 when unset, atoi() into an unsigned int, 1 to 1024', () => {
    expect(uvPoolSize({})).toBe(4);
    expect(uvPoolSize({ UV_THREADPOOL_SIZE: '8' })).toBe(8);
    expect(uvPoolSize({ UV_THREADPOOL_SIZE: ' 8x' })).toBe(8);
    expect(uvPoolSize({ UV_THREADPOOL_SIZE: '0' })).toBe(1);
    expect(uvPoolSize({ UV_THREADPOOL_SIZE: 'x' })).toBe(1);
    expect(uvPoolSize({ UV_THREADPOOL_SIZE: '' })).toBe(1);
    expect(uvPoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024);
    expect(uvPoolSize({ UV_THREADPOOL_SIZE: '-3' })).toBe(1024);
  });

  it.runIf(process.platform === 'linux')('matches the pool a real node starts for odd UV_THREADPOOL_SIZE values', () => {
    // Any fs call starts the pool; the thread count then grows by its size.
    const base = spawnSync(process.execPath, ['-e', "console.log(require('node:fs').readdirSync('/proc/self/task').length)"], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    for (const v of ['x', '3']) {
      const r = spawnSync(process.execPath, ['-e', "require('node:fs').stat('.', () => console.log(require('node:fs').readdirSync('/proc/self/task').length))"], {
        env: { ...process.env, NODE_OPTIONS: '', UV_THREADPOOL_SIZE: v },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      expect(Number(r.stdout) - Number(base.stdout)).toBe(uvPoolSize({ UV_THREADPOOL_SIZE: v }));
    }
  });
});

/** The nice value of one of a process's threads (field 19 of its stat, after the command's parentheses). */
function niceOf(pid: number, tid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe.runIf(process.platform === 'linux')("a real node's threads", () => {
  it('the threads V8 made before the module loader ran are exactly the ones v8HelperThreads picks in an ES module', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsetcd-threads-'));
    try {
      // The preload runs before the loader reads any module: only the main thread and V8's exist.
      writeFileSync(join(dir, 'pre.cjs'), "globalThis.preTids = require('node:fs').readdirSync('/proc/self/task').map(Number);\n");
      writeFileSync(
        join(dir, 'main.mjs'),
        "import { readdirSync } from 'node:fs';\n" +
          "console.log(JSON.stringify({ pid: process.pid, pre: globalThis.preTids, now: readdirSync('/proc/self/task').map(Number) }));\n",
      );
      for (const pool of [undefined, '2']) {
        const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
        if (pool === undefined) delete env['UV_THREADPOOL_SIZE'];
        else env['UV_THREADPOOL_SIZE'] = pool;
        const r = spawnSync(process.execPath, ['--require', join(dir, 'pre.cjs'), join(dir, 'main.mjs')], { env, encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        const { pid, pre, now } = JSON.parse(r.stdout) as { pid: number; pre: number[]; now: number[] };
        // The loader started libuv's pool: its threads are the ones that came after.
        expect(now.length).toBe(pre.length + uvPoolSize(env));
        const v8 = pre.filter((t) => t !== pid).sort((a, b) => a - b);
        expect(v8.length).toBeGreaterThan(0);
        expect(v8HelperThreads(now, pid, uvPoolSize(env))).toEqual({ tids: v8 });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('setPriority with a thread id lowers that one thread, not the process', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      let tids: number[] = [];
      // A started node has its V8 threads; wait until they are listed.
      for (let i = 0; i < 1000 && tids.length < 2; i++) {
        tids = readdirSync(`/proc/${pid}/task`).map(Number);
        if (tids.length < 2) await new Promise((r) => setTimeout(r, 10));
      }
      const other = tids.find((t) => t !== pid)!;
      expect(other).toBeDefined();
      // Relative to the child's own: the tests may run under nice.
      const base = niceOf(pid, pid);
      const lower = Math.min(19, base + 5);
      expect(lower).toBeGreaterThan(base);
      setPriority(other, lower);
      expect(niceOf(pid, other)).toBe(lower);
      expect(niceOf(pid, pid)).toBe(base);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
