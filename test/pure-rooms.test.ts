// The pure rooms (raft, mvcc, operator/plan) must stay free of I/O, clocks and randomness,
// and raft must import nothing outside itself. This scan enforces ARCHITECTURE.md's rule.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, resolve, dirname, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

interface Room {
  dir: string;
  /** Folders (relative to the repo) a file in this room may import from. */
  mayImport: string[];
}

const rooms: Room[] = [
  { dir: 'node/raft', mayImport: ['node/raft'] },
  { dir: 'node/mvcc', mayImport: ['node/mvcc', 'node/lib'] },
  // Small pure helpers shared by the rooms (the CRC-32C used by storage and mvcc).
  { dir: 'node/lib', mayImport: ['node/lib'] },
  { dir: 'operator/plan', mayImport: ['operator/plan', 'operator/api'] },
];

const forbidden: Array<[RegExp, string]> = [
  [/\bDate\.now\s*\(/, 'Date.now()'],
  [/\bnew Date\s*\(/, 'new Date()'],
  [/\bMath\.random\s*\(/, 'Math.random()'],
  [/\bperformance\.now\s*\(/, 'performance.now()'],
  [/\bset(Timeout|Interval|Immediate)\s*\(/, 'timers'],
  [/\bprocess\./, 'process'],
];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function importsOf(src: string): string[] {
  const re = /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
  const out: string[] = [];
  for (const m of src.matchAll(re)) out.push((m[1] ?? m[2]) as string);
  return out;
}

export function violations(room: Room): string[] {
  const bad: string[] = [];
  for (const file of sourceFiles(join(root, room.dir))) {
    const src = readFileSync(file, 'utf8');
    const rel = relative(root, file);
    for (const spec of importsOf(src)) {
      if (!spec.startsWith('.')) {
        bad.push(`${rel} imports package '${spec}'`);
        continue;
      }
      const target = relative(root, resolve(dirname(file), spec));
      if (!room.mayImport.some((d) => target === d || target.startsWith(d + '/'))) {
        bad.push(`${rel} imports '${spec}' outside ${room.mayImport.join(', ')}`);
      }
    }
    const code = src.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const [re, what] of forbidden) if (re.test(code)) bad.push(`${rel} uses ${what}`);
  }
  return bad;
}

describe('pure rooms', () => {
  for (const room of rooms) {
    it(`${room.dir} has no I/O, clock, randomness or outside imports`, () => {
      expect(violations(room)).toEqual([]);
    });
  }

  it('the scan catches a forbidden import and a clock', () => {
    // Guard against a scanner that silently passes everything.
    expect(importsOf(`import { x } from 'node:fs';\nimport y from '../z.js';`)).toEqual(['node:fs', '../z.js']);
    expect(forbidden.some(([re]) => re.test('const t = Date.now();'))).toBe(true);
  });
});
