// A container's termination message, the kubelet's rule: what the container wrote to the file at its
// terminationMessagePath (at most 4096 bytes, the kubelet's MaxTerminationMessagePerContainer), for any
// exit; and when that file is empty, under terminationMessagePolicy FallbackToLogsOnError, a container
// that failed (non-zero exit) gets the end of its log: the last 80 lines, at most 2048 bytes (the
// kubelet's MaxContainerTerminationMessageLogLines and ...LogLength). The agent binds the file only
// for a container whose spec sets terminationMessagePath. Pure. Test infrastructure for the local
// control plane.
import type { Container } from './kube-types.js';

export const MAX_MESSAGE_LOG_LINES = 80;
export const MAX_MESSAGE_LOG_BYTES = 2048;
export const MAX_MESSAGE_FILE_BYTES = 4096;

/** The message for a container that exited with exitCode, wrote `log` in this run and `file` at its terminationMessagePath; undefined: none. */
export function terminationMessage(c: Pick<Container, 'terminationMessagePolicy'>, exitCode: number, log: string, file = ''): string | undefined {
  if (file !== '') {
    const bytes = Buffer.from(file);
    return bytes.length > MAX_MESSAGE_FILE_BYTES ? bytes.subarray(0, MAX_MESSAGE_FILE_BYTES).toString('utf8') : file;
  }
  if (c.terminationMessagePolicy !== 'FallbackToLogsOnError' || exitCode === 0) return undefined;
  const lines = log.replace(/\n$/, '').split('\n');
  let tail = lines.slice(-MAX_MESSAGE_LOG_LINES).join('\n');
  const bytes = Buffer.from(tail);
  if (bytes.length > MAX_MESSAGE_LOG_BYTES) tail = bytes.subarray(bytes.length - MAX_MESSAGE_LOG_BYTES).toString('utf8');
  return tail === '' ? undefined : tail;
}
