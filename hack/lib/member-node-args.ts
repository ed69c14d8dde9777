// The Node/V8 flags and the glibc malloc settings a tsetcd member runs with, wherever it is
// launched: bin/tsetcd (Makefile), the image (hack/images/Containerfile's NODE_OPTIONS and
// GLIBC_TUNABLES, and the shebang of the command build.sh writes) and the benchmarks that start
// node directly. member-node-args.test.ts checks that the three agree.
//
// --max-semi-space-size=4: the young generation grows to 8 MiB instead of 32. Under etcd's
// benchmark tool 8 (16 MiB) cut the largest member's peak RSS by 20-25 MiB (docs/benchmarks/
// member.md, ninth stop), and 4 took another 8-15 MiB off (sixteenth stop), with no more CPU per
// request measured either time: scavenges are more frequent but each is cheaper. 2 gave no less.
//
// --heap-growing-percent=100: after a full GC, old space may grow to twice its live size before
// the next one (V8 otherwise picks up to 4x on this heap limit). Objects held by a call in flight
// are promoted and die in old space, and the Buffers they point at are freed only by a full GC, so
// a faster full GC cadence frees that external memory sooner. At etcd's benchmark loads (50,000
// puts, 100,000 reads) it cut the largest member's peak RSS by 16-20% with no measurable change in
// CPU per request; at 300,000 keys it cost ~4% put CPU (docs/benchmarks/member.md, twelfth stop).
// Node refuses it in NODE_OPTIONS, so the image passes it on the command's shebang line.
//
// Not --enable-source-maps: it parses the map of every module at load, 3.5 MiB of RSS for the
// member's whole life. For TypeScript positions in a stack trace, start it with
// NODE_OPTIONS=--enable-source-maps (the maps ship in dist/ and in the image).
export const MEMBER_NODE_ARGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=100'];

// glibc.malloc.mmap_threshold=131072: every malloc of 128 KiB or more gets its own mapping, which
// goes back to the kernel when it is freed. glibc otherwise starts at that threshold and raises it
// to the size of each mapped block freed, so after the first slab of the entry arena is freed
// (node/lib/entry-arena.ts, 256 KiB slabs) every later slab comes from the main heap. There the
// slabs, which live as long as their entries stay in the Raft log, sit between the 64 KiB buffers
// node reads sockets into and pin the heap: on a follower under etcd's benchmark the heap stayed
// ~20 MiB larger than the leader's with the same live data. With the threshold fixed the slabs
// stay out of the heap, the socket buffers (below it) stay in. Measured over 3 alternating rounds:
// peak RSS -10..-13 MiB on puts and reads, with no more CPU per request (a 64 KiB threshold, which
// maps the socket buffers too, cost ~15% more CPU). docs/benchmarks/member.md, seventeenth stop.
// A GLIBC_TUNABLES set by the user replaces it.
export const MEMBER_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=131072';

/** The environment to start a member with: env, plus the member's malloc settings unless env has its own. */
export function memberEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GLIBC_TUNABLES: env['GLIBC_TUNABLES'] || MEMBER_GLIBC_TUNABLES };
}
