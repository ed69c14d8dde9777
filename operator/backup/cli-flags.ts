// The flags of the operator's one-off subcommands (restore-member, backup-to-dir, serve-backup):
// --name=value or --name value, each known, each at most once; everything after `--` is passed on.
import { ConfigError } from '../../node/config.js';

export interface SubcommandFlags {
  flags: Map<string, string>;
  /** The arguments after `--`; empty without one. */
  rest: string[];
  /** The value of a required flag. */
  need(name: string): string;
}

export function parseSubcommandFlags(command: string, argv: readonly string[], known: readonly string[]): SubcommandFlags {
  const sep = argv.indexOf('--');
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const flags = new Map<string, string>();
  for (let i = 0; i < own.length; i++) {
    const a = own[i]!;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (m === null) throw new ConfigError(`${command}: unexpected argument "${a}"`);
    const v = m[2] ?? own[++i];
    if (v === undefined) throw new ConfigError(`${command}: --${m[1]} needs a value`);
    if (!known.includes(m[1]!)) throw new ConfigError(`${command}: unknown flag --${m[1]}`);
    if (flags.has(m[1]!)) throw new ConfigError(`${command}: --${m[1]} given twice`);
    flags.set(m[1]!, v);
  }
  return {
    flags,
    rest: sep < 0 ? [] : argv.slice(sep + 1),
    need(k) {
      const v = flags.get(k);
      if (v === undefined || v === '') throw new ConfigError(`${command}: --${k} is required`);
      return v;
    },
  };
}
