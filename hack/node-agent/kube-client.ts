// A small JSON REST client for the apiserver (the agent needs raw paths, status subresources,
// merge patches and watches). Credentials come from a kubeconfig via @kubernetes/client-node.
// Test infrastructure for the local control plane.
import { request, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import type { WatchEvent } from './kube-types.js';

export class KubeError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
  get code(): string { return this.reason; }
}

export interface KubeClient {
  get<T>(path: string): Promise<T>;
  send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType?: string): Promise<T>;
  /** Watches path (with ?watch=1 added) from resourceVersion; returns a stop function. */
  watch<T>(path: string, resourceVersion: string, onEvent: (e: WatchEvent<T>) => void, onEnd: (err?: Error) => void): () => void;
}

export async function kubeClientFromFile(kubeconfigPath: string): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`no current cluster in ${kubeconfigPath}`);
  const server = new URL(cluster.server);
  const base: RequestOptions = {};
  await kc.applyToHTTPSOptions(base);
  const opts = (method: string, path: string, extra: Record<string, string>): RequestOptions => ({
    ...base,
    hostname: server.hostname,
    port: server.port,
    method,
    path,
    headers: { ...(base.headers as Record<string, string> | undefined), Accept: 'application/json', ...extra },
  });

  function call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      // Content-Length always: Node sends DELETE bodies neither chunked nor sized otherwise.
      const headers: Record<string, string> = payload === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(payload)) };
      const req = request(opts(method, path, headers), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) {
            resolve((text === '' ? {} : JSON.parse(text)) as T);
            return;
          }
          let reason = String(code);
          let message = text;
          try {
            const st = JSON.parse(text) as { reason?: string; message?: string };
            reason = st.reason ?? reason;
            message = st.message ?? message;
          } catch { /* not JSON */ }
          reject(new KubeError(code, reason, `${method} ${path}: ${code} ${message}`));
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  return {
    get: <T>(path: string) => call<T>('GET', path),
    send: <T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType?: string) =>
      call<T>(method, path, body, contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json')),
    watch<T>(path: string, resourceVersion: string, onEvent: (e: WatchEvent<T>) => void, onEnd: (err?: Error) => void) {
      const sep = path.includes('?') ? '&' : '?';
      const full = `${path}${sep}watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(resourceVersion)}`;
      let ended = false;
      const end = (err?: Error): void => { if (!ended) { ended = true; onEnd(err); } };
      const req = request(opts('GET', full, {}), (res) => {
        if ((res.statusCode ?? 0) !== 200) {
          res.resume();
          end(new KubeError(res.statusCode ?? 0, String(res.statusCode), `watch ${path}: ${res.statusCode}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line === '') continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent<T>);
            } catch (err) {
              end(err instanceof Error ? err : new Error(String(err)));
              req.destroy();
              return;
            }
          }
        });
        res.on('end', () => end());
        res.on('error', (err) => end(err));
      });
      req.on('error', (err) => end(err));
      req.end();
      return () => { ended = true; req.destroy(); };
    },
  };
}
