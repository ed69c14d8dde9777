// After a failed vitest run in hack/test.sh: the failed tests and the first lines of their errors,
// short, from vitest's JSON report. CI shows only the end of a run's output, where vitest's own
// report has scrolled past; this puts what failed, and why, in the last lines.
//
//   npx tsx hack/test-failures.ts <report.json> [label]
import { readFileSync } from 'node:fs';

interface Report {
  testResults?: Array<{ name: string; message?: string; assertionResults?: Array<{ fullName: string; status: string; failureMessages?: string[] }> }>;
}

const LINES = 3;
const LINE_CHARS = 300;
const MAX_FAILURES = 6;

function firstLines(text: string): string[] {
  return text
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('at ') && !l.startsWith('❯ '))
    .slice(0, LINES)
    .map((l) => (l.length > LINE_CHARS ? `${l.slice(0, LINE_CHARS)}…` : l));
}

const [path, label = 'vitest'] = process.argv.slice(2);
if (path === undefined) throw new Error('usage: test-failures.ts <report.json> [label]');
let report: Report;
try {
  report = JSON.parse(readFileSync(path, 'utf8')) as Report;
} catch (err) {
  console.log(`[${label}] no report at ${path}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(0);
}
const failed: Array<{ where: string; why: string[] }> = [];
for (const file of report.testResults ?? []) {
  const short = file.name.replace(`${process.cwd()}/`, '');
  const tests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
  for (const t of tests) failed.push({ where: `${short} > ${t.fullName}`, why: firstLines((t.failureMessages ?? []).join('\n')) });
  // A file that failed outside any test (a hook, an import).
  if (tests.length === 0 && file.message) failed.push({ where: short, why: firstLines(file.message) });
}
console.log(`[${label}] ${failed.length} failed:`);
for (const f of failed.slice(0, MAX_FAILURES)) {
  console.log(`- ${f.where}`);
  for (const l of f.why) console.log(`    ${l}`);
}
if (failed.length > MAX_FAILURES) console.log(`  (${failed.length - MAX_FAILURES} more)`);
