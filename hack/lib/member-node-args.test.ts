import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENTRY_SLAB_BYTES } from '../../node/lib/entry-arena.js';
import { MEMBER_GLIBC_TUNABLES, MEMBER_NODE_ARGS, memberEnv } from './member-node-args.js';

const REPO = join(import.meta.dirname, '..', '..');

/** The image's NODE_OPTIONS (tsetcd stage) and the flag build.sh puts on the tsetcd command's shebang. */
function imageFlags(): { nodeOptions: string[]; shebang: string[] } {
  const image = readFileSync(join(REPO, 'hack', 'images', 'Containerfile'), 'utf8');
  const stage = image.slice(image.indexOf('FROM base AS tsetcd\n'), image.indexOf('FROM base AS tsetcd-operator'));
  const nodeOptions = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(stage)?.[1];
  expect(nodeOptions, 'NODE_OPTIONS in the tsetcd stage').toBeDefined();
  const buildSh = readFileSync(join(REPO, 'hack', 'images', 'build.sh'), 'utf8');
  const stageApp = /^stage_app tsetcd node\/main\.js( .*)?$/m.exec(buildSh);
  expect(stageApp, 'the stage_app line of the tsetcd image in build.sh').not.toBeNull();
  return { nodeOptions: nodeOptions!.split(' ').filter(Boolean), shebang: (stageApp![1] ?? '').split(' ').filter(Boolean) };
}

describe('the member\'s Node flags', () => {
  it('bin/tsetcd (Makefile) and the image (Containerfile, build.sh) give the member the flags the benchmarks measure', () => {
    const launcher = readFileSync(join(REPO, 'Makefile'), 'utf8').split('\n').find((l) => l.includes('dist/node/main.js') && l.includes('bin/tsetcd'));
    expect(launcher, 'the Makefile line that writes bin/tsetcd').toBeDefined();
    expect(MEMBER_NODE_ARGS.length).toBeGreaterThan(0);
    // Exactly these flags: anything more would run unmeasured (and cost RSS, as source maps did).
    const launcherFlags = launcher!.slice(launcher!.indexOf('exec node ') + 'exec node '.length).split(' ').filter((w) => w.startsWith('--'));
    expect(launcherFlags).toEqual([...MEMBER_NODE_ARGS]);
    const { nodeOptions, shebang } = imageFlags();
    expect([...nodeOptions, ...shebang].sort()).toEqual([...MEMBER_NODE_ARGS].sort());
    // The kernel passes what follows the interpreter on a shebang line as one argument.
    expect(shebang.length).toBeLessThanOrEqual(1);
  });

  it('node accepts the image\'s NODE_OPTIONS and its shebang flag', () => {
    const { nodeOptions, shebang } = imageFlags();
    const withOptions = spawnSync(process.execPath, ['-e', '0'], { env: { ...process.env, NODE_OPTIONS: nodeOptions.join(' ') }, encoding: 'utf8' });
    expect(withOptions.stderr).toBe('');
    expect(withOptions.status).toBe(0);
    const withShebangFlag = spawnSync(process.execPath, [...shebang, '-e', '0'], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    expect(withShebangFlag.stderr).toBe('');
    expect(withShebangFlag.status).toBe(0);
  });
});

/**
 * How much glibc's main heap grows while a child node holds 64 entry-arena slabs, allocated after
 * a few slabs were allocated and freed (a full GC frees their memory; two, so that a sweep the
 * first one left running has finished).
 */
function heapGrowthKiB(env: NodeJS.ProcessEnv): { growthKiB: number; slabsKiB: number } {
  const script = `
    const fs = require('node:fs');
    const heapKiB = () => { const s = fs.readFileSync('/proc/self/smaps', 'utf8'); const i = s.indexOf('[heap]'); return i < 0 ? 0 : Number(/Size:\\s+(\\d+) kB/.exec(s.slice(i))[1]); };
    for (let round = 0; round < 3; round++) { let freed = []; for (let i = 0; i < 8; i++) freed.push(Buffer.allocUnsafeSlow(${ENTRY_SLAB_BYTES})); freed = null; gc(); gc(); }
    const before = heapKiB(); const kept = []; for (let i = 0; i < 64; i++) kept.push(Buffer.allocUnsafeSlow(${ENTRY_SLAB_BYTES}).fill(1));
    console.log(JSON.stringify({ growthKiB: heapKiB() - before, slabsKiB: kept.length * ${ENTRY_SLAB_BYTES} / 1024 }));`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { env: { ...env, NODE_OPTIONS: '' }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { growthKiB: number; slabsKiB: number };
}

describe('the member\'s malloc settings', () => {
  it('bin/tsetcd (Makefile) and the image (Containerfile) set the GLIBC_TUNABLES the benchmarks measure, unless the user set one', () => {
    const launcher = readFileSync(join(REPO, 'Makefile'), 'utf8').split('\n').find((l) => l.includes('dist/node/main.js') && l.includes('bin/tsetcd'));
    expect(launcher).toContain(`export GLIBC_TUNABLES="$\${GLIBC_TUNABLES:-${MEMBER_GLIBC_TUNABLES}}"`);
    const image = readFileSync(join(REPO, 'hack', 'images', 'Containerfile'), 'utf8');
    const stage = image.slice(image.indexOf('FROM base AS tsetcd\n'), image.indexOf('FROM base AS tsetcd-operator'));
    expect(/^ENV GLIBC_TUNABLES="([^"]*)"$/m.exec(stage)?.[1]).toBe(MEMBER_GLIBC_TUNABLES);
    expect(memberEnv({ A: '1' })).toEqual({ A: '1', GLIBC_TUNABLES: MEMBER_GLIBC_TUNABLES });
    expect(memberEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })['GLIBC_TUNABLES']).toBe('glibc.malloc.arena_max=2');
  });

  it('keeps entry-arena slabs out of glibc\'s main heap, where without it they land once a slab was freed', () => {
    const threshold = Number(/glibc\.malloc\.mmap_threshold=(\d+)/.exec(MEMBER_GLIBC_TUNABLES)?.[1]);
    expect(ENTRY_SLAB_BYTES).toBeGreaterThanOrEqual(threshold);
    // Below it: the 64 KiB buffers node reads sockets into stay in the heap (mapping each cost CPU).
    expect(threshold).toBeGreaterThan(64 * 1024);
    const without = heapGrowthKiB({ ...process.env, GLIBC_TUNABLES: '' });
    expect(without.growthKiB).toBeGreaterThan(without.slabsKiB / 2);
    const withIt = heapGrowthKiB(memberEnv({ ...process.env, GLIBC_TUNABLES: '' }));
    expect(withIt.growthKiB).toBeLessThan(withIt.slabsKiB / 8);
  });
});
