// A tiny structured JSON-lines logger, passed in to every component (ARCHITECTURE.md, convention 6).
// Each line is one JSON object: {"level","ts","component","msg", ...fields}, shaped like etcd's zap
// output so the same log tooling reads both. Lines go to a sink (stderr by default); tests pass a
// sink that collects lines. Nothing here reads process.env: the level comes from config.ts.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const levelRank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger for a sub-component: same sink and level, component name "parent.name" style if given. */
  child(component: string, fields?: LogFields): Logger;
  readonly level: LogLevel;
}

export type LogSink = (line: string) => void;

export interface LoggerOptions {
  component: string;
  level?: LogLevel;
  /** Receives one complete line, newline included. Default: process.stderr. */
  sink?: LogSink;
  /** Fields added to every line (e.g. the member name). */
  fields?: LogFields;
  /** Clock for the ts field; default Date.now. */
  nowMs?: () => number;
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

const stderrSink: LogSink = (line) => {
  process.stderr.write(line);
};

/** Turns values JSON cannot carry (Error, bigint, Uint8Array) into something readable. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out['code'] = code;
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  return value;
}

class JsonLogger implements Logger {
  constructor(
    private readonly component: string,
    readonly level: LogLevel,
    private readonly sink: LogSink,
    private readonly base: LogFields,
    private readonly nowMs: () => number,
  ) {}

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (levelRank[level] < levelRank[this.level]) return;
    const rec: LogFields = {
      level,
      ts: new Date(this.nowMs()).toISOString(),
      component: this.component,
      msg,
      ...this.base,
      ...fields,
    };
    let line: string;
    try {
      line = JSON.stringify(rec, replacer);
    } catch {
      line = JSON.stringify({ level, ts: rec['ts'], component: this.component, msg, fields: '<unserializable>' });
    }
    this.sink(line + '\n');
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
  child(component: string, fields?: LogFields): Logger {
    return new JsonLogger(component, this.level, this.sink, { ...this.base, ...fields }, this.nowMs);
  }
}

export function createLogger(opts: LoggerOptions): Logger {
  return new JsonLogger(opts.component, opts.level ?? 'info', opts.sink ?? stderrSink, opts.fields ?? {}, opts.nowMs ?? Date.now);
}

/** A logger that drops everything; the default for tests and optional logger parameters. */
export const silentLogger: Logger = createLogger({ component: 'silent', level: 'error', sink: () => {} });
