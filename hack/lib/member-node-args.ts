// The Node/V8 flags a tsetcd member runs with, wherever it is launched: bin/tsetcd (Makefile), the
// image (hack/images/Containerfile, as NODE_OPTIONS) and the benchmarks that start node directly.
// member-node-args.test.ts checks that the three agree.
//
// --max-semi-space-size=8: the young generation grows to 16 MiB instead of 32. Under etcd's
// benchmark tool it cut the largest member's peak RSS by 20-25 MiB (docs/benchmarks/member.md,
// ninth stop) with no more CPU per request: scavenges are more frequent but each is cheaper.
//
// Not --enable-source-maps: it parses the map of every module at load, 3.5 MiB of RSS for the
// member's whole life. For TypeScript positions in a stack trace, start it with
// NODE_OPTIONS=--enable-source-maps (the maps ship in dist/ and in the image).
export const MEMBER_NODE_ARGS: readonly string[] = ['--max-semi-space-size=8'];
