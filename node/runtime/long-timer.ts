// Node's setTimeout holds at most 2^31-1 ms (24.8 days): a longer delay fires after 1 ms, with
// only a TimeoutOverflowWarning. The operator's certificate renewal wakes up 60 days ahead, and a
// client may send a grpc-timeout of years; such delays re-arm in steps instead.

export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls fn after ms, however long; returns a cancel function. unref: the timer keeps no process alive. */
export function setLongTimeout(fn: () => void, ms: number, unref = false): () => void {
  let t: NodeJS.Timeout;
  const arm = (left: number): void => {
    t = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS, left - MAX_TIMER_MS) : setTimeout(fn, left);
    if (unref) t.unref();
  };
  arm(ms);
  return () => clearTimeout(t);
}
