// The V8 deoptimizations a Node member logs under --trace-deopt, counted from its log file: the
// bench harness's --deopts reports those that happen inside a measured load, where optimized code
// thrown away and rebuilt shows up as a latency tail (docs/benchmarks/member.md, twenty-first stop).
import { readFileSync, statSync } from 'node:fs';

/** One logged deoptimization: the function and V8's reason. */
export interface Deopt {
  fn: string;
  reason: string;
}

const LINE = /^\[bailout \(kind: [^,]*, reason: ([^)]*)\): begin\. deoptimizing [^<]*<JSFunction ([^ >]*)/;

/** Every deoptimization in the log's text so far, in order. */
export function deoptsIn(text: string): Deopt[] {
  const out: Deopt[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    // An anonymous function prints as "<JSFunction (sfi = ...)>".
    if (m) out.push({ reason: m[1]!, fn: m[2]!.startsWith('(') ? '(anonymous)' : m[2]! });
  }
  return out;
}

/** The log's length in bytes now (0 if it cannot be read): where a later deoptsLogged starts. */
export function logBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The deoptimizations logged in `path` from byte `from` on (none if the file cannot be read). */
export function deoptsLogged(path: string, from = 0): Deopt[] {
  try {
    return deoptsIn(readFileSync(path).subarray(from).toString('utf8'));
  } catch {
    return [];
  }
}

/** "N: fn (reason) xK, ..." for the `top` most frequent function/reason pairs. */
export function summarizeDeopts(ds: readonly Deopt[], top = 8): string {
  const counts = new Map<string, number>();
  for (const d of ds) {
    const key = `${d.fn} (${d.reason})`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const parts = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, n]) => (n > 1 ? `${k} x${n}` : k));
  return `${ds.length}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
