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
    for (const flag of MEMBER_NODE_ARGS) {
      expect(launcher!.split(' ')).toContain(flag);
      expect(nodeOptions!.split(' ')).toContain(flag);
    }
  });
});
