// Reads a V8 .cpuprofile (node --cpu-prof) for the bench scripts: self time per function.

import { readFileSync } from 'node:fs';

interface Frame {
  callFrame: { functionName: string; url: string; lineNumber: number };
  id: number;
}

/** The `top` functions by self time, as "  12.3%  name file:line" lines. */
export function hotFrames(file: string, top: number): string[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Frame[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const n = byId.get(id);
    const dt = prof.timeDeltas[i] ?? 0;
    total += dt;
    if (!n) return;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|node|dist)\//, '$1/');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
}
