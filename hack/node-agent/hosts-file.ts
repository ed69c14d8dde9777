// Renders the hosts file every Pod process sees as /etc/hosts: the stable names of
// StatefulSet members (`<hostname>.<subdomain>.<ns>.svc[.cluster.local]`) and the names of
// Services (`<svc>.<ns>.svc[.cluster.local]`, mapped to their ready endpoints, since there is
// no kube-proxy here). Test infrastructure for the local control plane.

export interface PodName {
  namespace: string;
  hostname: string;
  subdomain?: string;
  ip: string;
}

export interface ServiceName {
  namespace: string;
  service: string;
  ips: string[];
}

export function renderHosts(pods: PodName[], services: ServiceName[], clusterDomain = 'cluster.local'): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const sortedPods = [...pods].sort((a, b) => `${a.namespace}/${a.hostname}`.localeCompare(`${b.namespace}/${b.hostname}`));
  for (const p of sortedPods) {
    if (p.subdomain === undefined || p.subdomain === '') continue;
    const base = `${p.hostname}.${p.subdomain}.${p.namespace}.svc`;
    lines.push(`${p.ip}\t${base}.${clusterDomain} ${base} ${p.hostname}.${p.subdomain}.${p.namespace}`);
  }
  const sortedSvcs = [...services].sort((a, b) => `${a.namespace}/${a.service}`.localeCompare(`${b.namespace}/${b.service}`));
  for (const s of sortedSvcs) {
    const base = `${s.service}.${s.namespace}.svc`;
    // One line per address: resolvers that read every match get all of them, the rest the first.
    for (const ip of [...new Set(s.ips)].sort()) lines.push(`${ip}\t${base}.${clusterDomain} ${base}`);
  }
  return lines.join('\n') + '\n';
}

/** The Service an EndpointSlice belongs to. */
export function sliceService(labels: Record<string, string> | undefined): string | undefined {
  return labels?.['kubernetes.io/service-name'];
}
