// The member's V8 garbage-collection policy that can be set from inside the process. The heap
// sizes cannot: V8 reads them when it makes the heap, so they are on the command line
// (hack/lib/member-node-args.ts). main.ts imports this module first.
//
// No allocation-site pretenuring. V8 tracks the object literals of each allocation site, and
// where most of a site's objects survived a scavenge it allocates the site's later objects
// straight into old space. Under a thousand calls in flight the per-call objects of a read (its
// ReadIndex waiter, its promise reactions) survive one scavenge while they wait, their sites are
// pretenured, and from then on each of those objects dies in old space and is freed only by a
// full GC: old space grew by ~12 MiB during 100,000 linearizable reads while scavenges promoted
// ~1 MiB. Without it they die young. Measured in alternating A/Bs (docs/benchmarks/member.md,
// sixteenth stop).
import { setFlagsFromString } from 'node:v8';

/** The V8 flags this module sets when it is imported. */
export const GC_POLICY_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring'];

for (const flag of GC_POLICY_FLAGS) setFlagsFromString(flag);
