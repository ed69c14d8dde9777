// Readiness and liveness probes (httpGet and tcpSocket) against a Pod's address.
// Test infrastructure for the local control plane.
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Container, Probe } from './kube-types.js';

export function probePort(container: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p) => p.name === port);
  if (named) return named.containerPort;
  const n = Number(port);
  if (Number.isInteger(n)) return n;
  throw new Error(`probe port ${port} not found on container ${container.name}`);
}

/** Runs one probe attempt; resolves true on success. Unsupported probe kinds succeed. */
export function probeOnce(probe: Probe, container: Container, podIP: string): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const hg = probe.httpGet;
    return new Promise((resolve) => {
      const req = request(
        { host: hg.host ?? podIP, port: probePort(container, hg.port), path: hg.path ?? '/', method: 'GET', timeout: timeoutMs },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  if (probe.tcpSocket) {
    const ts = probe.tcpSocket;
    return new Promise((resolve) => {
      const sock = connect({ host: ts.host ?? podIP, port: probePort(container, ts.port), timeout: timeoutMs });
      sock.on('connect', () => { sock.destroy(); resolve(true); });
      sock.on('timeout', () => { sock.destroy(); resolve(false); });
      sock.on('error', () => resolve(false));
    });
  }
  return Promise.resolve(true);
}
