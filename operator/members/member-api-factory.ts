// The one place that makes a MemberApi for a cluster: plain, or with the client TLS material the
// controller read (the operator's own client certificate in modes operator and cert-manager, the
// user's client Secret in mode secrets). Anything else that talks to members (backups, say) takes
// its client from here and gets TLS with it.
import { GatewayMemberApi, type GatewayTLS } from './gateway-member-api.js';
import type { MemberApi } from './member-api.js';

export interface MemberApiFactoryOptions {
  requestTimeoutMs: number;
  /**
   * pod-ip: the operator dials members by pod IP, which no certificate names (pod IPs change), so the
   * chain is verified against the cluster's CA but not the host name. dns: the name is verified too.
   */
  endpointMode: 'pod-ip' | 'dns';
}

export interface MemberApiFactory {
  plain: MemberApi;
  /** One client per distinct material (bounded cache: renewals make new material). */
  forTLS(secret: Record<string, Buffer>): MemberApi;
}

const MAX_CACHED = 64;

export function memberApiFactory(o: MemberApiFactoryOptions): MemberApiFactory {
  const cache = new Map<string, MemberApi>();
  return {
    plain: new GatewayMemberApi({ requestTimeoutMs: o.requestTimeoutMs }),
    forTLS(secret) {
      const ca = secret['ca.crt'];
      const cert = secret['tls.crt'];
      const key = secret['tls.key'];
      const id = [ca, cert, key].map((b) => b?.toString('base64') ?? '').join('|');
      let api = cache.get(id);
      if (api === undefined) {
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
        const tls: GatewayTLS = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
        if (o.endpointMode === 'pod-ip') tls.checkServerIdentity = () => undefined;
        api = new GatewayMemberApi({ requestTimeoutMs: o.requestTimeoutMs, tls });
        cache.set(id, api);
      }
      return api;
    },
  };
}
