// The one place that makes a MemberApi for a cluster: plain, or with the client TLS material the
// controller read (the operator's own client certificate in modes operator and cert-manager, the
// user's client Secret in mode secrets), and with the operator's etcd user when the cluster's auth
// is on (spec.auth). Anything else that talks to members (backups, say) takes its client from here
// and gets TLS and the user with it.
import { createHash } from 'node:crypto';
import { GatewayMemberApi, type GatewayCredentials, type GatewayTLS } from './gateway-member-api.js';
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
  /**
   * One client per distinct material (bounded cache: renewals and password changes make new
   * material); a client keeps its auth token between passes.
   */
  client(tls: Record<string, Buffer> | null, credentials: GatewayCredentials | null): MemberApi;
}

const MAX_CACHED = 64;

export function memberApiFactory(o: MemberApiFactoryOptions): MemberApiFactory {
  const cache = new Map<string, MemberApi>();
  const plain = new GatewayMemberApi({ requestTimeoutMs: o.requestTimeoutMs });
  return {
    plain,
    client(secret, credentials) {
      if (secret === null && credentials === null) return plain;
      const ca = secret?.['ca.crt'];
      const cert = secret?.['tls.crt'];
      const key = secret?.['tls.key'];
      // The key names the material without keeping the password in a map key.
      const id = createHash('sha256')
        .update([ca, cert, key].map((b) => b?.toString('base64') ?? '').join('|'))
        .update(credentials === null ? '-' : JSON.stringify([credentials.username, credentials.password]))
        .digest('hex');
      let api = cache.get(id);
      if (api === undefined) {
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
        let tls: GatewayTLS | undefined;
        if (secret !== null) {
          tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
          if (o.endpointMode === 'pod-ip') tls.checkServerIdentity = () => undefined;
        }
        api = new GatewayMemberApi({ requestTimeoutMs: o.requestTimeoutMs, ...(tls ? { tls } : {}), ...(credentials ? { credentials } : {}) });
        cache.set(id, api);
      }
      return api;
    },
  };
}
