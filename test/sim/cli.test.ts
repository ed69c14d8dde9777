// The command line contract behind `make sim SEEDS=N START=S`: the seed range first, one line
// per failing seed with its reproduction command, one summary line, exit code 1 on violations.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function sim(args: string[]): { code: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/sim/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, lines: r.stdout.split('\n').filter((l) => l.length > 0) };
}

describe('sim CLI', () => {
  it('prints the range and one summary line, exit 0 when clean', () => {
    const { code, lines } = sim(['--seeds', '5', '--start', '7']);
    expect(lines[0]).toBe('sim: seeds 7..11 (5 seeds)');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^seeds=5 violations=0 mean_ticks_to_elect=\d+\.\d commits=\d+ /);
    expect(code).toBe(0);
  });

  it('prints each failing seed with its reproduction command and exits 1', () => {
    const { code, lines } = sim(['--seeds', '4', '--start', '1', '--lying-disk']);
    expect(code).toBe(1);
    const fails = lines.filter((l) => l.startsWith('FAIL seed='));
    expect(fails.length).toBeGreaterThan(0);
    expect(lines).toContain('  reproduce: npx tsx test/sim/main.ts --seeds 1 --start ' + /FAIL seed=(\d+)/.exec(fails[0] ?? '')?.[1] + ' --lying-disk');
    expect(lines[lines.length - 1]).toMatch(/^seeds=4 violations=[1-9]\d* /);
  });
});
