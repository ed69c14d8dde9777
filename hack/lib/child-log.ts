// A child process's stdout and stderr into one log file. Neither pipe may end the file (the
// other could still write to it: "write after end"); it ends on the child's 'close', which comes
// after the pipes' last data ('exit' may come before it).
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export function logChildOutput(proc: ChildProcess, path: string, opts: { append?: boolean } = {}): void {
  const log = createWriteStream(path, { flags: opts.append ? 'a' : 'w' });
  proc.stdout?.pipe(log, { end: false });
  proc.stderr?.pipe(log, { end: false });
  proc.on('close', () => log.end());
}
