// A container's termination message, the part of the kubelet's rule the node agent can follow: with
// terminationMessagePolicy FallbackToLogsOnError, a container that failed (non-zero exit) gets the end
// of its log as its message: the last 80 lines, at most 2048 bytes (the kubelet's
// MaxContainerTerminationMessageLogLines and ...LogLength). The file at terminationMessagePath is not
// read (nothing binds one here). Pure. Test infrastructure for the local control plane.
import type { Container } from './kube-types.js';

export const MAX_MESSAGE_LOG_LINES = 80;
export const MAX_MESSAGE_LOG_BYTES = 2048;

/** The message for a container that exited with exitCode and wrote `log` in this run; undefined: none. */
export function terminationMessage(c: Pick<Container, 'terminationMessagePolicy'>, exitCode: number, log: string): string | undefined {
  if (c.terminationMessagePolicy !== 'FallbackToLogsOnError' || exitCode === 0) return undefined;
  const lines = log.replace(/\n$/, '').split('\n');
  let tail = lines.slice(-MAX_MESSAGE_LOG_LINES).join('\n');
  const bytes = Buffer.from(tail);
  if (bytes.length > MAX_MESSAGE_LOG_BYTES) tail = bytes.subarray(bytes.length - MAX_MESSAGE_LOG_BYTES).toString('utf8');
  return tail === '' ? undefined : tail;
}
