// Metrics of certificate reloading, beside the code that reloads.
//   tsetcd_tls_reloads_total{name,result}                  counter: name client|peer, result success|failure
//   tsetcd_tls_certificate_not_after_timestamp_seconds{name}  gauge: expiry of the certificate in use
import type { Counter, Gauge, Registry } from 'prom-client';
import { metricFactory } from '../metric-factory.js';

export interface TlsReloadMetrics {
  readonly reloads: Counter<'name' | 'result'>;
  readonly notAfter: Gauge<'name'>;
}

const byRegistry = new WeakMap<Registry, TlsReloadMetrics>();

/** One set per registry: the client listeners (server/) and the peer transport (runtime/) share it. */
export function tlsReloadMetrics(registry: Registry): TlsReloadMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    m = create(registry);
    byRegistry.set(registry, m);
  }
  return m;
}

function create(registry: Registry): TlsReloadMetrics {
  const { counter, gauge } = metricFactory(registry);
  return {
    reloads: counter('tsetcd_tls_reloads_total', 'Certificate file changes seen, by result (failure keeps the previous files).', ['name', 'result']),
    notAfter: gauge('tsetcd_tls_certificate_not_after_timestamp_seconds', 'Expiry (unix seconds) of the certificate in use.', ['name']),
  };
}
