// etcd's HTTP health answers: /health (JSON, 3.5 style) and /livez, /readyz (text, 3.6 style,
// with ?exclude=<check> and ?verbose). Every check is bounded by HEALTH_CHECK_TIMEOUT_MS.

import { EtcdError } from './errors.js';
import type { ServerContext } from './rpc-context.js';

export const HEALTH_CHECK_TIMEOUT_MS = 2000;
const HEALTH_KEY = Buffer.from('health');
const ALARM_NAMES = ['NONE', 'NOSPACE', 'CORRUPT'];

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out')), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** The member's own applied alarms, as etcd's health checks read them (no quorum needed). */
function activeAlarms(ctx: ServerContext): string[] {
  return ctx.backend.activeAlarms().map((a) => ALARM_NAMES[a.alarm] ?? String(a.alarm));
}

async function read(ctx: ServerContext, linearizable: boolean): Promise<void> {
  await withTimeout(ctx.backend.range({ key: HEALTH_KEY, serializable: !linearizable }, { linearizable }), HEALTH_CHECK_TIMEOUT_MS);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface HealthAnswer {
  readonly status: number;
  readonly body: { health: string; reason: string };
}

/** etcd 3.5's /health: alarms (unless excluded), leader, then a read of key "health". */
export async function healthJson(ctx: ServerContext, serializable: boolean, exclude: readonly string[]): Promise<HealthAnswer> {
  const bad = (reason: string): HealthAnswer => ({ status: 503, body: { health: 'false', reason } });
  try {
    const alarms = activeAlarms(ctx).filter((a) => !exclude.includes(a));
    if (alarms.length > 0) return bad(`ALARM ${alarms.join(',')}`);
  } catch (e) {
    return bad(`ALARM ERROR: ${errText(e)}`);
  }
  if (!serializable && !ctx.backend.hasLeader()) return bad('RAFT NO LEADER');
  try {
    await read(ctx, !serializable);
  } catch (e) {
    return bad(`QGET ERROR:${errText(e)}`);
  }
  return { status: 200, body: { health: 'true', reason: '' } };
}

type Check = (ctx: ServerContext) => Promise<void>;

const CHECKS: Record<string, Check> = {
  data_corruption: (ctx) => {
    if (activeAlarms(ctx).includes('CORRUPT')) return Promise.reject(new Error('alarm activated: CORRUPT'));
    return Promise.resolve();
  },
  serializable_read: (ctx) => read(ctx, false),
  linearizable_read: (ctx) => read(ctx, true),
  // etcd 3.6 (#19086): a learner serves no client reads or writes, so it is not ready.
  non_learner: (ctx) => {
    if (ctx.backend.isLearner()) return Promise.reject(new EtcdError('notSupportedForLearner'));
    return Promise.resolve();
  },
};

export const LIVEZ_CHECKS = ['serializable_read'] as const;
export const READYZ_CHECKS = ['data_corruption', 'serializable_read', 'linearizable_read', 'non_learner'] as const;

export interface ProbeAnswer {
  readonly status: number;
  readonly text: string;
}

/** /livez or /readyz: "ok", or the failed checks and "<name> check failed", as etcd prints them. */
export async function probe(
  ctx: ServerContext,
  name: 'livez' | 'readyz',
  checks: readonly string[],
  exclude: readonly string[],
  verbose: boolean,
): Promise<ProbeAnswer> {
  const lines: string[] = [];
  let failed = false;
  for (const c of checks) {
    if (exclude.includes(c)) continue; // etcd runs only the checks left; it prints no line for the rest
    let ok = true;
    try {
      await CHECKS[c]!(ctx);
      lines.push(`[+]${c} ok`);
    } catch (e) {
      ok = false;
      lines.push(`[-]${c} failed: ${errText(e)}`);
    }
    failed ||= !ok;
    // etcd's recordMetrics: the check's last result, and a count per status.
    ctx.metrics.healthCheck.set({ type: name, name: c }, ok ? 1 : 0);
    ctx.metrics.healthChecks.inc({ type: name, name: c, status: ok ? 'success' : 'error' });
  }
  // An exclude that names no check is ignored without a word (etcd 3.6 prints nothing for it).
  if (failed) return { status: 503, text: `${lines.join('\n')}\n${name} check failed\n` };
  return { status: 200, text: verbose ? `${lines.join('\n')}\nok\n` : 'ok\n' };
}
