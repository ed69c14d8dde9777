// The nemesis's fault schedule, drawn from a seed alone, so a failing seed prints the schedule it
// ran and replays it (the faults and their order; wall-clock timing on real processes is not
// replayable, which is why each check is a verdict on the whole history, never a timing).
//
// Faults: kill -9 then restart (one member, or a majority at once); SIGSTOP then SIGCONT;
// isolating a member both ways; splitting the cluster into a minority and a majority; and a one-way
// partition (one member stops hearing another); membership churn (a member removed, its data
// wiped, and added back as a new member); a full disk (the member's own tmpfs filled to the last
// page: a real ENOSPC on its next write; then freed, and the member restarted if it stopped). A target is a member index or 'leader', resolved when
// the fault starts.

import { SimRng } from '../sim/rng.js';

export type Target = number | 'leader';

export type Fault =
  | { readonly kind: 'kill'; readonly targets: readonly Target[] }
  | { readonly kind: 'pause'; readonly targets: readonly Target[] }
  | { readonly kind: 'isolate'; readonly targets: readonly Target[] }
  | { readonly kind: 'split'; readonly minority: readonly number[] }
  | { readonly kind: 'one-way'; readonly to: Target; readonly from: Target }
  | { readonly kind: 'churn'; readonly targets: readonly Target[] }
  | { readonly kind: 'disk-full'; readonly targets: readonly Target[] };

export interface Step {
  readonly fault: Fault;
  /** How long the fault lasts. */
  readonly holdMs: number;
  /** How long the healed cluster runs before the next fault. */
  readonly settleMs: number;
}

export const FAULT_KINDS = ['kill', 'pause', 'isolate', 'split', 'one-way', 'churn', 'disk-full'] as const;

function distinct(rng: SimRng, size: number, n: number): number[] {
  const all = Array.from({ length: size }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.intn(i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, n).sort((a, b) => a - b);
}

export function drawSchedule(seed: number, size: number, steps: number): Step[] {
  const rng = new SimRng(seed, 0x6e656d);
  const target = (): Target => (rng.chance(0.4) ? 'leader' : rng.intn(size));
  const majority = Math.floor(size / 2) + 1;
  const out: Step[] = [];
  for (let s = 0; s < steps; s++) {
    const kind = rng.pick(FAULT_KINDS);
    let fault: Fault;
    switch (kind) {
      case 'kill':
        fault = { kind, targets: rng.chance(0.25) ? distinct(rng, size, majority) : [target()] };
        break;
      case 'pause':
        fault = { kind, targets: [target()] };
        break;
      case 'isolate':
      case 'churn':
      case 'disk-full':
        fault = { kind, targets: [target()] };
        break;
      case 'split':
        fault = { kind, minority: distinct(rng, size, 1 + rng.intn(Math.max(1, majority - 1))) };
        break;
      case 'one-way': {
        const to = target();
        let from: Target = rng.intn(size);
        if (from === to) from = (from + 1) % size;
        fault = { kind, to, from };
        break;
      }
    }
    out.push({ fault, holdMs: rng.range(400, 2500), settleMs: rng.range(200, 1200) });
  }
  return out;
}

export function describeStep(s: Step): string {
  const f = s.fault;
  const what = f.kind === 'split' ? `split off [${f.minority.join(',')}]`
    : f.kind === 'one-way' ? `one-way: ${f.to} stops hearing ${f.from}`
    : `${f.kind} [${f.targets.join(',')}]`;
  return `${what} for ${s.holdMs} ms, then ${s.settleMs} ms healed`;
}
