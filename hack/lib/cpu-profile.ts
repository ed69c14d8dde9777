// Reads a V8 .cpuprofile (node --cpu-prof) for the bench scripts: self time per function.

import { readFileSync } from 'node:fs';

interface Frame {
  callFrame: { functionName: string; url: string; lineNumber: number };
  id: number;
}

/**
 * A time window on the monotonic clock, in µs (process.hrtime and V8's profiler share it):
 * only samples inside it count, so a member's start-up (module loading, proto parsing) does
 * not dilute the figures of the load being measured.
 */
export interface Window {
  readonly fromUs: number;
  readonly toUs: number;
}

/** Calls `each` with every sample's frame and its time; returns the profile's total time. */
function forEachSample(file: string, each: (n: Frame, dt: number) => void, window?: Window): number {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Frame[]; samples: number[]; timeDeltas: number[]; startTime: number };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  let total = 0;
  let t = prof.startTime;
  prof.samples.forEach((id, i) => {
    const n = byId.get(id);
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    if (window && (t < window.fromUs || t > window.toUs)) return;
    total += dt;
    if (n) each(n, dt);
  });
  return total;
}

/** The `top` functions by self time, as "  12.3%  name file:line" lines. */
export function hotFrames(file: string, top: number, window?: Window): string[] {
  const self = new Map<string, number>();
  const total = forEachSample(file, (n, dt) => {
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|node|dist)\//, '$1/');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }, window);
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
}

/** The area a frame's time counts toward in busyByArea. */
function area(fn: string, url: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return '(program): V8 and native, unattributed';
  if (/protobufjs|proto-loader/.test(url) || /\$(encode|decode)$|fromObject|toObject/.test(fn)) return 'protobuf (proto-loader)';
  if (url.includes('@grpc/grpc-js')) return 'grpc-js';
  if (url.includes('prom-client')) return 'prom-client (metrics)';
  if (url.includes('internal/http2')) return 'node http2';
  if (url.includes('node:internal/streams') || url.startsWith('node:events')) return 'node streams and events';
  const ours = /dist\/node\/([^/]+)\//.exec(url) ?? /\/node\/([^/]+)\/[^/]+\.[jt]s$/.exec(url);
  if (ours) return `tsetcd ${ours[1]}`;
  if (url.startsWith('node:')) return 'node, other';
  return url === '' ? `native: ${fn || '?'}` : 'other';
}

/** Busy time (all but idle) by area, largest first, as "  12.3% of busy  area" lines. */
export function busyByArea(file: string, top: number, window?: Window): string[] {
  const sums = new Map<string, number>();
  let busy = 0;
  const total = forEachSample(file, (n, dt) => {
    const a = area(n.callFrame.functionName, n.callFrame.url);
    if (a === 'idle') return;
    busy += dt;
    sums.set(a, (sums.get(a) ?? 0) + dt);
  }, window);
  return [
    `busy ${((100 * busy) / total).toFixed(1)}% of the profile`,
    ...[...sums.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}% of busy  ${k}`),
  ];
}
