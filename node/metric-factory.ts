// Makes the prom-client metrics of one layer on one registry, with etcd's shapes: every layer
// (server, runtime) declares its own metrics beside its code with these three makers.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface MetricFactory {
  gauge<L extends string = string>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  counter<L extends string = string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  histogram<L extends string = string>(name: string, help: string, buckets: number[], labelNames?: readonly L[]): Histogram<L>;
}

export function metricFactory(registry: Registry): MetricFactory {
  const registers = [registry];
  return {
    gauge: <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers }),
    counter: <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers }),
    histogram: <L extends string = string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
      new Histogram<L>({ name, help, buckets, labelNames, registers }),
  };
}
