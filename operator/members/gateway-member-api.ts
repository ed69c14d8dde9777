// MemberApi over etcd's JSON gateway (POST /v3/cluster/member/*, /v3/maintenance/*).
//
// Why the gateway and not gRPC: it needs no generated code or .proto files (our node/proto lands in
// parallel), Node's built-in fetch speaks it, and the very same client works against real etcd 3.4,
// which the tests use as the reference. int64/uint64 travel as JSON strings, so member IDs stay exact.
// https endpoints use the cluster's client TLS material (CA, and a client certificate for
// --client-cert-auth); member-api-factory.ts makes these clients.
//
// Auth: the gateway is a client of the member's own gRPC server, so a client certificate's CN
// never names a user there (as in etcd). With credentials, a call the member refuses for want of
// a user (auth is on) authenticates at /v3/auth/authenticate on that endpoint, keeps the token,
// sends it as the Authorization header from then on, and when the token is no longer known
// ("invalid auth token": expired, or the member restarted) authenticates again and retries once.
// Without auth on the cluster nothing changes: no token is asked for.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MemberApiError, type EndpointStatus, type MemberApi, type MemberApiErrorCode, type MemberInfo, type MemberList } from './member-api.js';

export interface GatewayTLS {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  /** Replaces the host name check (member-api-factory.ts: pod-ip mode verifies the chain only). */
  checkServerIdentity?: (host: string, cert: unknown) => Error | undefined;
}

/** The operator's etcd user (spec.auth's Secret). */
export interface GatewayCredentials {
  username: string;
  password: string;
}

export interface GatewayOptions {
  requestTimeoutMs: number;
  tls?: GatewayTLS;
  credentials?: GatewayCredentials;
}

const GRPC_CODES: Record<number, MemberApiErrorCode> = {
  3: 'InvalidArgument',
  4: 'DeadlineExceeded',
  5: 'NotFound',
  7: 'PermissionDenied',
  9: 'FailedPrecondition',
  14: 'Unavailable',
  16: 'Unauthenticated',
};

/** etcd's texts (api/v3rpc/rpctypes) the token handling acts on. */
const ERR_USER_EMPTY = 'etcdserver: user name is empty';
const ERR_INVALID_AUTH_TOKEN = 'etcdserver: invalid auth token';
const ERR_AUTH_NOT_ENABLED = 'etcdserver: authentication is not enabled';

export class GatewayMemberApi implements MemberApi {
  /** The token the last Authenticate gave (simple tokens and JWTs hold on every member). */
  private token: string | null = null;
  /** One Authenticate at a time: a pass asks every member's Status at once. */
  private authenticating: Promise<string | null> | null = null;

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

  /** A call as the operator's user: authenticates when the member asks for a user, retries once. */
  private async post(endpoint: string, path: string, body: unknown, timeoutMs = this.opts.requestTimeoutMs): Promise<Record<string, unknown>> {
    const sentWith = this.token;
    try {
      return await this.postOnce(endpoint, path, body, timeoutMs, sentWith);
    } catch (err: unknown) {
      if (this.opts.credentials === undefined || !(err instanceof MemberApiError) || !needsToken(err, sentWith)) throw err;
      const token = await this.authenticate(endpoint, sentWith, timeoutMs);
      if (token === null) throw err;
      return this.postOnce(endpoint, path, body, timeoutMs, token);
    }
  }

  /**
   * A fresh token from this endpoint, unless another call already replaced `stale`. null: auth is
   * not enabled there (the refusal stands as it was). A wrong password is Unauthenticated.
   */
  private async authenticate(endpoint: string, stale: string | null, timeoutMs: number): Promise<string | null> {
    if (this.token !== stale) return this.token;
    this.authenticating ??= (async () => {
      const c = this.opts.credentials!;
      try {
        const r = await this.postOnce(endpoint, '/v3/auth/authenticate', { name: c.username, password: c.password }, timeoutMs, null);
        this.token = typeof r.token === 'string' && r.token !== '' ? r.token : null;
        return this.token;
      } catch (err: unknown) {
        if (err instanceof MemberApiError && err.message === ERR_AUTH_NOT_ENABLED) return null;
        // etcd answers a wrong password with InvalidArgument; to the operator it is an auth failure.
        if (err instanceof MemberApiError && (err.code === 'InvalidArgument' || err.code === 'FailedPrecondition')) {
          throw new MemberApiError('Unauthenticated', `authenticating as "${c.username}": ${err.message}`);
        }
        throw err;
      } finally {
        this.authenticating = null;
      }
    })();
    return this.authenticating;
  }

  private async postOnce(endpoint: string, path: string, body: unknown, timeoutMs: number, token: string | null): Promise<Record<string, unknown>> {
    const where = `${endpoint}${path}`;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.send(new URL(endpoint.replace(/\/$/, '') + path), JSON.stringify(body), timeoutMs, token));
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
    if (status < 200 || status >= 300 || typeof o.error === 'string') throw gatewayError(status, o);
    return o;
  }

  /** A POST with the cluster's client TLS material on https endpoints. */
  private request(url: URL, payload: string, timeoutMs: number, token: string | null, onResponse: (res: IncomingMessage) => void): ClientRequest {
    const https = url.protocol === 'https:';
    const tls = https ? (this.opts.tls ?? {}) : {};
    return (https ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...(token === null ? {} : { authorization: token }) },
        timeout: timeoutMs,
        ...tls,
      },
      onResponse,
    );
  }

  async *snapshot(endpoint: string, idleTimeoutMs: number): AsyncIterable<Buffer> {
    const url = new URL(endpoint.replace(/\/$/, '') + '/v3/maintenance/snapshot');
    // A stream cannot be sent twice: with credentials, hold a token before it starts (Snapshot is root-only).
    if (this.opts.credentials !== undefined && this.token === null) await this.authenticate(endpoint, null, idleTimeoutMs);
    const token = this.token;
    let req: ClientRequest | null = null;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req = this.request(url, '{}', idleTimeoutMs, token, resolve);
      // Only silence is bounded: a 1 GiB snapshot takes as long as it takes while bytes flow.
      req.on('timeout', () => req?.destroy(new MemberApiError('DeadlineExceeded', `${url.href}: no bytes within ${idleTimeoutMs}ms`)));
      req.on('error', (err: unknown) => reject(err instanceof MemberApiError ? err : new MemberApiError('Unavailable', `${url.href}: ${err instanceof Error ? err.message : String(err)}`)));
      req.end('{}');
    });
    try {
      // Newline-separated {"result":{"blob":"<base64>",...}} messages; {"error":{...}} mid-stream.
      let pending = '';
      const decode = (line: string): Buffer => {
        let o: Record<string, unknown>;
        try {
          o = obj(JSON.parse(line));
        } catch {
          throw new MemberApiError('Unknown', `${url.href}: HTTP ${res.statusCode ?? 0}: ${line.slice(0, 200)}`);
        }
        if (o.error !== undefined || (res.statusCode ?? 0) !== 200) throw gatewayError(res.statusCode ?? 0, typeof o.error === 'object' ? obj(o.error) : o);
        const blob = obj(o.result).blob;
        return typeof blob === 'string' ? Buffer.from(blob, 'base64') : Buffer.alloc(0);
      };
      for await (const chunk of res) {
        pending += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line === '') continue;
          const bytes = decode(line);
          if (bytes.length > 0) yield bytes;
        }
      }
      if (!res.complete) throw new MemberApiError('Unavailable', `${url.href}: the snapshot stream ended early`);
      if (pending.trim() !== '') {
        const bytes = decode(pending.trim());
        if (bytes.length > 0) yield bytes;
      }
    } catch (err: unknown) {
      if (err instanceof MemberApiError) throw err;
      throw new MemberApiError('Unavailable', `${url.href}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      (req as ClientRequest | null)?.destroy();
    }
  }

  private send(url: URL, payload: string, timeoutMs: number, token: string | null): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = this.request(url, payload, timeoutMs, token, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
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

/** A refusal that a (new) token answers: no user given while auth is on, or a token the member no longer knows. */
function needsToken(err: MemberApiError, sentWith: string | null): boolean {
  return (sentWith === null && err.message === ERR_USER_EMPTY) || (sentWith !== null && err.message === ERR_INVALID_AUTH_TOKEN);
}

/** A google.rpc.Status body (or a bare HTTP failure) as a typed error. */
function gatewayError(status: number, o: Record<string, unknown>): MemberApiError {
  const message = typeof o.message === 'string' ? o.message : typeof o.error === 'string' ? o.error : `HTTP ${status}`;
  const code = typeof o.code === 'number' ? (GRPC_CODES[o.code] ?? 'Unknown') : status === 503 ? 'Unavailable' : 'Unknown';
  return new MemberApiError(code, message);
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
