// The member's HTTP/1.1 surface (express): /health, /livez, /readyz, /version, /metrics and the
// /v3 JSON gateway. Served on the client URLs (beside gRPC, same port) and on
// --listen-metrics-urls (there without the gateway, as etcd does).

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Express, Request } from 'express';
import express from 'express';
import { gatewayRouter } from './gateway.js';
import { healthJson, LIVEZ_CHECKS, probe, READYZ_CHECKS } from './health-checks.js';
import type { ServerContext } from './rpc-context.js';
import { CLUSTER_VERSION, SERVER_VERSION } from './version.js';

function queryList(req: Request, name: string): string[] {
  const v = req.query[name];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.flatMap((x) => (typeof x === 'string' ? x.split(',') : [])).filter((x) => x !== '');
}

function queryFlag(req: Request, name: string): boolean {
  const v = req.query[name];
  if (v === undefined) return false;
  return v === '' || v === 'true' || v === '1';
}

export interface HttpAppOptions {
  /** Mount the /v3 gateway (client URLs only). */
  readonly gateway: boolean;
}

export function createHttpApp(ctx: ServerContext, impls: Map<string, UntypedServiceImplementation>, opts: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/health', (req, res) => {
    healthJson(ctx, queryFlag(req, 'serializable'), queryList(req, 'exclude')).then(
      (a) => res.status(a.status).json(a.body),
      (e: unknown) => res.status(503).json({ health: 'false', reason: String(e) }),
    );
  });
  for (const [path, name, checks] of [
    ['/livez', 'livez', LIVEZ_CHECKS],
    ['/readyz', 'readyz', READYZ_CHECKS],
  ] as const) {
    app.get(path, (req, res) => {
      probe(ctx, name, checks, queryList(req, 'exclude'), req.query['verbose'] !== undefined).then(
        (a) => res.status(a.status).type('text/plain').send(a.text),
        (e: unknown) => res.status(503).type('text/plain').send(`${String(e)}\n${name} check failed\n`),
      );
    });
  }
  app.get('/version', (_req, res) => {
    res.json({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION });
  });
  app.get('/metrics', (_req, res) => {
    ctx.metrics.registry.metrics().then(
      (text) => res.type(ctx.metrics.registry.contentType).send(text),
      (e: unknown) => res.status(500).type('text/plain').send(String(e)),
    );
  });
  if (opts.gateway) app.use('/v3', gatewayRouter(ctx, impls));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('404 page not found\n');
  });
  return app;
}
