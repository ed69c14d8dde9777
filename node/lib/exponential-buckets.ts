// Prometheus' ExponentialBuckets(start, 2, count): the histogram buckets etcd uses everywhere.
// Shared by the metrics of every layer (server, runtime, storage).

/** [start, 2·start, 4·start, ...], `count` buckets. */
export function exponentialBuckets(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * 2 ** i);
}
