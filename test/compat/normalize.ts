// What the differential test is allowed to paper over, and nothing more: the IDs each system
// picks (members, cluster, leases), Raft terms and indexes (the two logs hold different internal
// entries), sizes of the database, durations and the seconds left on a lease. Everything else an
// answer carries must be the same bytes from etcd and from tsetcd.

/** The IDs one system chose, by the name both systems share. */
export interface IdNames {
  /** e.g. ['m1', 12345678901234567890n] */
  readonly ids: ReadonlyArray<readonly [string, bigint]>;
  /** Loopback ports, by name (m1-client, m1-peer, ...): each system listens on its own. */
  readonly ports: ReadonlyArray<readonly [string, number]>;
}

/** JSON keys whose values are internal to each system (see the file comment). */
const VOLATILE_KEYS = new Set([
  'raft_term',
  'raftTerm',
  'raft_index',
  'raftIndex',
  'raftAppliedIndex',
  'dbSize',
  'dbSizeInUse',
  'db_size',
  'db_size_in_use',
  'took',
]);

/** Replaces every decimal or hex spelling of a known ID, and every known port, with its name. */
export function replaceIds(text: string, names: IdNames): string {
  let out = text;
  // Longest first, so an ID that is a prefix of another cannot eat part of it. Hex may be
  // zero-padded to 16 digits (etcdctl prints %016x).
  const spellings: Array<[string, string]> = [];
  for (const [name, id] of names.ids) {
    spellings.push([id.toString(10), `<${name}>`]);
    spellings.push([`0*${id.toString(16)}`, `<${name}>`]);
  }
  spellings.sort((a, b) => b[0].length - a[0].length);
  for (const [pattern, name] of spellings) {
    out = out.replace(new RegExp(`(?<![0-9A-Za-z])${pattern}(?![0-9A-Za-z])`, 'gi'), name);
  }
  for (const [name, port] of names.ports) out = out.replace(new RegExp(`:${port}(?![0-9])`, 'g'), `:<${name}>`);
  return out;
}

function normalizeValue(v: unknown, parentKeys: ReadonlySet<string>): unknown {
  if (Array.isArray(v)) return v.map((x) => normalizeValue(x, parentKeys));
  if (v === null || typeof v !== 'object') return v;
  const obj = v as Record<string, unknown>;
  const keys = new Set(Object.keys(obj));
  const out: Record<string, unknown> = {};
  for (const k of [...keys].sort()) {
    // A lease's remaining seconds tick down while the session runs; its granted TTL does not.
    const volatile = VOLATILE_KEYS.has(k) || (k === 'TTL' && keys.has('grantedTTL')) || (k === 'ttl' && keys.has('granted-ttl'));
    let value = volatile ? '<n>' : normalizeValue(obj[k], keys);
    // Members come in ID order, and each system picks its own IDs: compare them by name.
    // A lease's keys come from a Go map in etcd: no order to compare.
    if (k === 'keys' && Array.isArray(value) && (keys.has('granted-ttl') || keys.has('grantedTTL'))) value = [...value].sort();
    if (k === 'members' && Array.isArray(value)) value = [...value].sort((a, b) => String((a as { name?: unknown }).name).localeCompare(String((b as { name?: unknown }).name)));
    out[k] = value;
  }
  return out;
}

/** Quotes bare integers too long for a JS number (uint64 IDs), so parsing keeps every digit. */
function quoteBigIntegers(json: string): string {
  return json.replace(/([:[,]\s*)(-?\d{10,})(?=\s*[,}\]])/g, '$1"$2"');
}

function parseLoosely(text: string): unknown {
  return JSON.parse(quoteBigIntegers(text));
}

/** Parses JSON text (one document, or one per line) and prints it with sorted keys; else undefined. */
function normalizeJson(text: string): string | undefined {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  try {
    return JSON.stringify(normalizeValue(parseLoosely(t), new Set()));
  } catch {
    const lines = t.split('\n');
    if (lines.length < 2) return undefined;
    try {
      return lines.map((l) => JSON.stringify(normalizeValue(parseLoosely(l), new Set()))).join('\n');
    } catch {
      return undefined;
    }
  }
}

/** One answer: a status line (exit code, gRPC code, HTTP status), its body, and what went to stderr. */
export interface Observation {
  readonly status: string;
  readonly body: string;
  readonly stderr?: string;
  /** The body's lines come in member-ID order (etcdctl member list): compare them sorted. */
  readonly unordered?: boolean;
}

function maskText(text: string): string {
  return text
    .replace(/remaining\(-?\d+s\)/g, 'remaining(<n>s)')
    .replace(/^"RaftTerm" : \d+$/gm, '"RaftTerm" : <n>')
    .replace(/attached keys\(\[([^\]]*)\]\)/g, (_m, keys: string) => `attached keys([${keys.split(' ').sort().join(' ')}])`) // a Go map in etcd
    .replace(/took\s*[=:]?\s*[\d.]+(ns|µs|us|ms|s)\b/g, 'took <d>')
    .split('\n')
    .map((l) => (/^[+|]/.test(l) ? l.replace(/-{2,}/g, '--').replace(/ {2,}/g, ' ') : l)) // table widths follow ID widths
    .join('\n');
}

/**
 * etcdctl's own JSON log lines on stderr (its client retries) carry times, addresses and
 * pointers: keep what was logged and the error, nothing else.
 */
function summarizeClientLogs(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => {
      if (!l.startsWith('{"level"')) return l;
      try {
        const o = JSON.parse(l) as { level?: string; msg?: string; error?: string };
        return `log ${o.level}: ${o.msg}${o.error ? `: ${o.error}` : ''}`;
      } catch {
        return l;
      }
    })
    .join('\n');
}

/** An observation as text, with IDs named and volatile values masked. */
export function normalize(o: Observation, names: IdNames): string {
  const json = normalizeJson(o.body);
  let body = maskText(replaceIds(json ?? o.body, names));
  if (o.unordered) body = body.split('\n').sort().join('\n');
  const parts = [replaceIds(o.status, names), body];
  if (o.stderr) parts.push(`stderr: ${maskText(replaceIds(summarizeClientLogs(o.stderr), names))}`);
  return parts.join('\n');
}

export interface Difference {
  readonly step: string;
  readonly etcd: string;
  readonly tsetcd: string;
}

/** Side-by-side text of a difference, line by line, for the report. */
export function describeDifference(d: Difference): string {
  const a = d.etcd.split('\n');
  const b = d.tsetcd.split('\n');
  const lines: string[] = [`--- ${d.step}`];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) lines.push(`    ${a[i]}`);
    else {
      if (a[i] !== undefined) lines.push(`  etcd   ${a[i]}`);
      if (b[i] !== undefined) lines.push(`  tsetcd ${b[i]}`);
    }
  }
  return lines.join('\n');
}
