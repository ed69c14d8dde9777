// A small cron parser and matcher for spec.defragmentation.schedule. Pure: times are epoch milliseconds
// passed in, read as UTC, and calendar fields come from arithmetic (no Date object, see pure-rooms).
//
// Why not a library: the npm cron packages (cron-parser, croner, node-cron) bring timezone handling,
// seconds fields and timers this room may not touch, and the operator needs only "did a scheduled minute
// pass in this window". The grammar is the one Kubernetes CronJobs take (robfig/cron's standard parser):
// five fields (minute hour day-of-month month day-of-week), each `*`, a number, a range `a-b`, a step
// `*/n` `a-b/n` `a/n`, or a comma list of those; month and weekday names (JAN, MON); weekday 7 is
// Sunday; the macros @yearly @annually @monthly @weekly @daily @midnight @hourly. As in Vixie cron, when
// both day-of-month and day-of-week are restricted, a day matching either one matches.

export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday. */
  readonly daysOfWeek: ReadonlySet<number>;
  /** Both day fields restricted (neither started with `*`): either one matches. */
  readonly dayOr: boolean;
}

export type CronParse = { ok: true; schedule: CronSchedule } | { ok: false; error: string };

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Offset of names[0]. */
  nameBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

export function parseCron(text: string): CronParse {
  const trimmed = text.trim();
  const expanded = MACROS[trimmed.toLowerCase()] ?? trimmed;
  if (expanded.startsWith('@')) return { ok: false, error: `unknown macro "${trimmed}"` };
  const parts = expanded.split(/\s+/).filter((p) => p !== '');
  if (parts.length !== 5) return { ok: false, error: `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}` };
  const sets: Array<Set<number>> = [];
  for (let i = 0; i < 5; i++) {
    const r = parseField(parts[i] as string, FIELDS[i] as FieldSpec);
    if (typeof r === 'string') return { ok: false, error: r };
    sets.push(r);
  }
  const dow = sets[4] as Set<number>;
  if (dow.delete(7)) dow.add(0);
  return {
    ok: true,
    schedule: {
      minutes: sets[0] as Set<number>,
      hours: sets[1] as Set<number>,
      daysOfMonth: sets[2] as Set<number>,
      months: sets[3] as Set<number>,
      daysOfWeek: dow,
      dayOr: !(parts[2] as string).startsWith('*') && !(parts[4] as string).startsWith('*'),
    },
  };
}

function parseField(text: string, f: FieldSpec): Set<number> | string {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/([0-9]+))?$/.exec(item);
    if (m === null) return `${f.name}: cannot read "${item}"`;
    const range = m[1] as string;
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (!Number.isInteger(step) || step < 1) return `${f.name}: step must be at least 1 in "${item}"`;
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = f.min;
      hi = f.max === 7 ? 6 : f.max;
    } else {
      const [a, b] = range.split('-') as [string, string | undefined];
      const av = value(a, f);
      if (av === null) return `${f.name}: "${a}" is not a value from ${f.min} to ${f.max}`;
      lo = av;
      if (b === undefined) {
        // "a/n" means a, a+n, ... up to the maximum; a plain "a" is just a.
        hi = m[2] === undefined ? av : f.max;
      } else {
        const bv = value(b, f);
        if (bv === null) return `${f.name}: "${b}" is not a value from ${f.min} to ${f.max}`;
        hi = bv;
      }
      if (lo > hi) return `${f.name}: range "${range}" runs backwards`;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function value(text: string, f: FieldSpec): number | null {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    return n >= f.min && n <= f.max ? n : null;
  }
  const i = f.names?.indexOf(text.toUpperCase()) ?? -1;
  return i < 0 ? null : i + (f.nameBase ?? 0);
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The UTC calendar fields of an epoch-ms instant, by arithmetic (Howard Hinnant's civil_from_days). */
export function utcFields(ms: number): { year: number; month: number; day: number; hour: number; minute: number; dayOfWeek: number } {
  const days = Math.floor(ms / DAY_MS);
  const inDay = ms - days * DAY_MS;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return {
    year,
    month,
    day,
    hour: Math.floor(inDay / 3_600_000),
    minute: Math.floor((inDay % 3_600_000) / MINUTE_MS),
    // 1970-01-01 was a Thursday.
    dayOfWeek: (((days + 4) % 7) + 7) % 7,
  };
}

/** RFC 3339 (UTC, milliseconds) of an epoch-ms instant, as Date's toISOString would write it. */
export function utcIso(ms: number): string {
  const t = utcFields(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const inMinute = ((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS;
  return `${p(t.year, 4)}-${p(t.month)}-${p(t.day)}T${p(t.hour)}:${p(t.minute)}:${p(Math.floor(inMinute / 1000))}.${p(inMinute % 1000, 3)}Z`;
}

/** The minute holding `ms` is a scheduled minute. */
export function cronMatches(s: CronSchedule, ms: number): boolean {
  const t = utcFields(ms);
  if (!s.minutes.has(t.minute) || !s.hours.has(t.hour) || !s.months.has(t.month)) return false;
  const dom = s.daysOfMonth.has(t.day);
  const dow = s.daysOfWeek.has(t.dayOfWeek);
  return s.dayOr ? dom || dow : dom && dow;
}

/**
 * The start of the latest scheduled minute in (nowMs - windowMs, nowMs], or null. Looks at one minute
 * per step, so windowMs bounds the work (an hour: 60 steps).
 */
export function latestScheduledMinute(s: CronSchedule, nowMs: number, windowMs: number): number | null {
  for (let t = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS; t > nowMs - windowMs; t -= MINUTE_MS) {
    if (cronMatches(s, t)) return t;
  }
  return null;
}
