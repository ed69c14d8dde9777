// MemberApi over etcd's JSON gateway (POST /v3/cluster/member/*, /v3/maintenance/*).
//
// Why the gateway and not gRPC: it needs no generated code or .proto files (our node/proto lands in
// parallel), Node's built-in fetch speaks it, and the very same client works against real etcd 3.4,
// which the tests use as the reference. int64/uint64 travel as JSON strings, so member IDs stay exact.
// https endpoints use the cluster's client TLS material (CA, and a client certificate for
// --client-cert-auth); member-api-factory.ts makes these clients.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MemberApiError, type EndpointStatus, type MemberApi, type MemberApiErrorCode, type MemberInfo, type MemberList } from './member-api.js';

export interface GatewayTLS {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  /** Replaces the host name check (member-api-factory.ts: pod-ip mode verifies the chain only). */
  checkServerIdentity?: (host: string, cert: unknown) => Error | undefined;
}

export interface GatewayOptions {
  requestTimeoutMs: number;
  tls?: GatewayTLS;
}

const GRPC_CODES: Record<number, MemberApiErrorCode> = { 3: 'InvalidArgument', 4: 'DeadlineExceeded', 5: 'NotFound', 9: 'FailedPrecondition', 14: 'Unavailable' };

export class GatewayMemberApi implements MemberApi {
  constructor(private readonly opts: GatewayOptions = { requestTimeoutMs: 5000 }) {}

  async list(endpoints: readonly string[], opts: { linearizable: boolean } = { linearizable: false }): Promise<MemberList> {
    let r: Record<string, unknown>;
    try {
      r = await this.first(endpoints, '/v3/cluster/member/list', opts.linearizable ? { linearizable: true } : {});
    } catch (err: unknown) {
      // etcd < 3.5 has no linearizable MemberList and rejects the field: its list is what there is.
      if (!(opts.linearizable && err instanceof MemberApiError && /unknown field/i.test(err.message))) throw err;
      r = await this.first(endpoints, '/v3/cluster/member/list', {});
    }
    return { clusterID: str(obj(r.header).cluster_id), members: arr(r.members).map(member) };
  }

  async addLearner(endpoints: readonly string[], peerURL: string): Promise<MemberInfo> {
    const r = await this.first(endpoints, '/v3/cluster/member/add', { peerURLs: [peerURL], isLearner: true });
    return member(r.member);
  }

  async promote(endpoints: readonly string[], memberID: string): Promise<void> {
    await this.first(endpoints, '/v3/cluster/member/promote', { ID: memberID });
  }

  async remove(endpoints: readonly string[], memberID: string): Promise<void> {
    await this.first(endpoints, '/v3/cluster/member/remove', { ID: memberID });
  }

  async status(endpoint: string): Promise<EndpointStatus> {
    const r = await this.post(endpoint, '/v3/maintenance/status', {});
    const h = obj(r.header);
    return {
      clusterID: str(h.cluster_id),
      memberID: str(h.member_id),
      leaderID: str(r.leader),
      raftIndex: num(r.raftIndex),
      raftAppliedIndex: r.raftAppliedIndex === undefined ? null : num(r.raftAppliedIndex),
      raftTerm: num(r.raftTerm),
      dbSize: num(r.dbSize),
      dbSizeInUse: r.dbSizeInUse === undefined ? null : num(r.dbSizeInUse),
      version: typeof r.version === 'string' ? r.version : '',
      isLearner: r.isLearner === true,
      errors: arr(r.errors).map((e) => String(e)),
    };
  }

  async moveLeader(leaderEndpoint: string, toMemberID: string): Promise<void> {
    await this.post(leaderEndpoint, '/v3/maintenance/transfer-leadership', { targetID: toMemberID });
  }

  async defragment(endpoint: string, timeoutMs: number): Promise<void> {
    await this.post(endpoint, '/v3/maintenance/defragment', {}, timeoutMs);
  }

  /** Posts to each endpoint in turn; only Unavailable/unreachable moves on to the next. */
  private async first(endpoints: readonly string[], path: string, body: unknown): Promise<Record<string, unknown>> {
    if (endpoints.length === 0) throw new MemberApiError('Unavailable', 'no endpoints');
    let last: unknown = null;
    for (const ep of endpoints) {
      try {
        return await this.post(ep, path, body);
      } catch (err: unknown) {
        last = err;
        if (err instanceof MemberApiError && err.code !== 'Unavailable' && err.code !== 'DeadlineExceeded') throw err;
      }
    }
    throw last instanceof Error ? last : new MemberApiError('Unavailable', String(last));
  }

  private async post(endpoint: string, path: string, body: unknown, timeoutMs = this.opts.requestTimeoutMs): Promise<Record<string, unknown>> {
    const where = `${endpoint}${path}`;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.send(new URL(endpoint.replace(/\/$/, '') + path), JSON.stringify(body), timeoutMs));
    } catch (err: unknown) {
      if (err instanceof MemberApiError) throw err;
      throw new MemberApiError('Unavailable', `${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new MemberApiError('Unknown', `${where}: HTTP ${status}: ${text.slice(0, 200)}`);
    }
    const o = obj(json);
    if (status < 200 || status >= 300 || typeof o.error === 'string') {
      const message = typeof o.message === 'string' ? o.message : typeof o.error === 'string' ? o.error : `HTTP ${status}`;
      const code = typeof o.code === 'number' ? (GRPC_CODES[o.code] ?? 'Unknown') : status === 503 ? 'Unavailable' : 'Unknown';
      throw new MemberApiError(code, message);
    }
    return o;
  }

  private send(url: URL, payload: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    const https = url.protocol === 'https:';
    const tls = https ? (this.opts.tls ?? {}) : {};
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          timeout: timeoutMs,
          ...tls,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      // The socket's idle timeout, and a deadline for the whole exchange (a slow trickle is no answer either).
      const late = (): void => {
        req.destroy(new MemberApiError('DeadlineExceeded', `${url.href}: no answer within ${timeoutMs}ms`));
      };
      const deadline = setTimeout(late, timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('timeout', late);
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function member(x: unknown): MemberInfo {
  const m = obj(x);
  return {
    id: str(m.ID),
    name: typeof m.name === 'string' ? m.name : '',
    peerURLs: arr(m.peerURLs).map(String),
    clientURLs: arr(m.clientURLs).map(String),
    isLearner: m.isLearner === true,
  };
}

function obj(x: unknown): Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}
function arr(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}
/** uint64 fields arrive as strings; absent means zero. */
function str(x: unknown): string {
  return typeof x === 'string' ? x : typeof x === 'number' ? String(x) : '0';
}
function num(x: unknown): number {
  const n = typeof x === 'string' ? Number(x) : typeof x === 'number' ? x : 0;
  return Number.isFinite(n) ? n : 0;
}
