// The member's HTTP/1.1 surface (express): /health, /livez, /readyz, /version, /metrics and the
// /v3 JSON gateway (also under /v3beta). Served on the client URLs (beside gRPC, same port) and on
// --listen-metrics-urls (there without the gateway, as etcd does).

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Express, Request, RequestHandler } from 'express';
import type { TLSSocket } from 'node:tls';
import express from 'express';
import { gatewayRouter } from './gateway.js';
import type { HealthAnswer } from './health-checks.js';
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

/** etcd's client-URL access controller: CORS headers for allowed origins, and 200 to any OPTIONS. */
function corsHandler(origins: readonly string[]): RequestHandler {
  const any = origins.includes('*');
  return (req, res, next) => {
    const origin = req.get('Origin');
    const allowed = any ? '*' : origin !== undefined && origins.includes(origin) ? origin : undefined;
    if (allowed !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE');
      res.setHeader('Access-Control-Allow-Origin', allowed);
      res.setHeader('Access-Control-Allow-Headers', 'accept, content-type, authorization');
    }
    if (req.method === 'OPTIONS') {
      res.status(200).end();
      return;
    }
    next();
  };
}

export interface HttpAppOptions {
  /** Mount the /v3 gateway (client URLs only). */
  readonly gateway: boolean;
  /** Origins answered with CORS headers ('*': any; empty: none, as on the metrics URLs). */
  readonly corsOrigins: readonly string[];
}

/**
 * etcd's accessController: with --client-cert-auth and auth on, a gateway request whose verified
 * client certificate carries a Common Name is refused (400), since the gateway dials the member
 * itself and that CN could never name the user. Users of the gateway bring a token instead,
 * with a certificate that has no CN.
 */
function gatewayCommonNameGuard(ctx: ServerContext): RequestHandler {
  return (req, res, next) => {
    const socket = req.socket as Partial<TLSSocket>;
    if (ctx.auth?.clientCertAuth && ctx.backend.auth.store.enabled && socket.encrypted && socket.authorized && typeof socket.getPeerCertificate === 'function') {
      const cn = socket.getPeerCertificate().subject?.CN;
      if (cn !== undefined && cn !== '') {
        res.status(400).type('text/plain').setHeader('X-Content-Type-Options', 'nosniff').send(`${ERR_GATEWAY_COMMON_NAME}\n`);
        return;
      }
    }
    next();
  };
}

/** etcd's text (embed/serve.go), answered with HTTP 400. */
export const ERR_GATEWAY_COMMON_NAME = 'CommonName of client sending a request against gateway will be ignored and not used as expected';

export function createHttpApp(ctx: ServerContext, impls: Map<string, UntypedServiceImplementation>, opts: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (opts.corsOrigins.length > 0) app.use(corsHandler(opts.corsOrigins));

  // etcd writes /health's JSON without a Content-Type (Go sniffs text/plain), and an unhealthy
  // answer through http.Error (text/plain, nosniff, a trailing newline).
  app.get('/health', (req, res) => {
    const answer = (a: HealthAnswer): void => {
      (a.status === 200 ? ctx.metrics.healthSuccess : ctx.metrics.healthFailures).inc();
      const text = JSON.stringify(a.body);
      if (a.status === 200) res.status(200).type('text/plain').send(text);
      else res.status(a.status).type('text/plain').setHeader('X-Content-Type-Options', 'nosniff').send(`${text}\n`);
    };
    healthJson(ctx, queryFlag(req, 'serializable'), queryList(req, 'exclude')).then(answer, (e: unknown) =>
      answer({ status: 503, body: { health: 'false', reason: String(e) } }),
    );
  });
  for (const [path, name, checks] of [
    ['/livez', 'livez', LIVEZ_CHECKS],
    ['/readyz', 'readyz', READYZ_CHECKS],
  ] as const) {
    // /readyz/<check> runs that check alone, as etcd serves each check under its own path.
    app.get([path, ...checks.map((c) => `${path}/${c}`)], (req, res) => {
      const one = req.path.slice(path.length + 1);
      const run = one === '' ? checks : checks.filter((c) => c === one);
      probe(ctx, name, run, queryList(req, 'exclude'), req.query['verbose'] !== undefined).then(
        (a) => {
          (a.status === 200 ? ctx.metrics.healthSuccess : ctx.metrics.healthFailures).inc();
          res.status(a.status).type('text/plain').send(a.text);
        },
        (e: unknown) => {
          ctx.metrics.healthFailures.inc();
          res.status(503).type('text/plain').send(`${String(e)}\n${name} check failed\n`);
        },
      );
    });
  }
  app.get('/version', (_req, res) => {
    // Go's encoder writes application/json with no charset.
    res.setHeader('Content-Type', 'application/json');
    res.send(Buffer.from(JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION })));
  });
  app.get('/metrics', (_req, res) => {
    // promhttp's own figures count this scrape as etcd's do: in flight now, by status code after.
    const m = ctx.metrics;
    m.authRevision.set(ctx.backend.auth.store.revision());
    m.scrapesInFlight.inc();
    m.registry.metrics().then(
      (text) => {
        m.scrapesInFlight.dec();
        m.scrapes.inc({ code: '200' });
        res.type(m.registry.contentType).send(text);
      },
      (e: unknown) => {
        m.scrapesInFlight.dec();
        m.scrapes.inc({ code: '500' });
        res.status(500).type('text/plain').send(String(e));
      },
    );
  });
  if (opts.gateway) {
    const gateway = gatewayRouter(ctx, impls);
    app.use(['/v3', '/v3beta'], gatewayCommonNameGuard(ctx));
    app.use('/v3', gateway);
    app.use('/v3beta', gateway); // etcd 3.6 still rewrites /v3beta/ to /v3/
  }
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('404 page not found\n');
  });
  return app;
}
