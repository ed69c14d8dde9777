// The WAL writer keeps its optimized code through a segment cut. V8 optimizes the writer's loop
// and save() under load long before the first cut (64 MiB in); code they had never run, met at
// the cut, used to throw that code away on every member at once and recompile it while the single
// client waited (docs/benchmarks/member.md, twenty-fifth stop). The child forces the optimization
// with V8's test natives, so the result does not depend on timing or on V8's heuristics.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(root, 'node/storage/testdata/writer-opt-child.ts');

interface Phase {
  segments: number;
  optimized: { run: boolean; save: boolean };
}

describe('the WAL writer under V8', () => {
  it('stays optimized across a segment cut: the cut runs outside the loop that writes every put', () => {
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', CHILD], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { before: Phase; after: Phase };
    expect(out.before).toMatchObject({ segments: 1, optimized: { run: true, save: true } });
    expect(out.after).toMatchObject({ segments: 2, optimized: { run: true, save: true } });
  });
});
