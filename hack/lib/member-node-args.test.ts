import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MEMBER_NODE_ARGS } from './member-node-args.js';

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
