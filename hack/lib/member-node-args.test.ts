import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MEMBER_NODE_ARGS } from './member-node-args.js';

const REPO = join(import.meta.dirname, '..', '..');

describe('the member\'s Node flags', () => {
  it('bin/tsetcd (Makefile) and the image (Containerfile) give the member the flags the benchmarks measure', () => {
    const launcher = readFileSync(join(REPO, 'Makefile'), 'utf8').split('\n').find((l) => l.includes('dist/node/main.js') && l.includes('bin/tsetcd'));
    expect(launcher, 'the Makefile line that writes bin/tsetcd').toBeDefined();
    const image = readFileSync(join(REPO, 'hack', 'images', 'Containerfile'), 'utf8');
    const stage = image.slice(image.indexOf('FROM base AS tsetcd\n'), image.indexOf('FROM base AS tsetcd-operator'));
    const nodeOptions = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(stage)?.[1];
    expect(nodeOptions, 'NODE_OPTIONS in the tsetcd stage').toBeDefined();
    expect(MEMBER_NODE_ARGS.length).toBeGreaterThan(0);
    // Exactly these flags: anything more would run unmeasured (and cost RSS, as source maps did).
    const launcherFlags = launcher!.slice(launcher!.indexOf('exec node ') + 'exec node '.length).split(' ').filter((w) => w.startsWith('--'));
    expect(launcherFlags).toEqual([...MEMBER_NODE_ARGS]);
    expect(nodeOptions!.split(' ')).toEqual([...MEMBER_NODE_ARGS]);
    const buildSh = readFileSync(join(REPO, 'hack', 'images', 'build.sh'), 'utf8');
    expect(buildSh, 'the image\'s tsetcd command adds no node flag of its own').toMatch(/^stage_app tsetcd node\/main\.js$/m);
  });
});
