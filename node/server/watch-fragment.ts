// Watch response fragmentation, as etcd's sendFragments (api/v3rpc/watch.go): a watcher created
// with `fragment: true` gets a response at or above --max-request-bytes cut into several, each
// marked `fragment` but the last. Each piece holds as many events as fit below the limit, and
// at least one. A response with fewer than two events goes out whole.

import type { WatchResponse } from '../mvcc/types.js';

export function fragmentWatchResponse(resp: WatchResponse, maxBytes: number, size: (r: WatchResponse) => number): WatchResponse[] {
  if (resp.events.length < 2 || size(resp) < maxBytes) return [resp];
  const out: WatchResponse[] = [];
  let idx = 0;
  while (idx < resp.events.length) {
    const cur: WatchResponse = { ...resp, events: [], fragment: true };
    for (; idx < resp.events.length; idx++) {
      cur.events.push(resp.events[idx]!);
      if (cur.events.length > 1 && size(cur) >= maxBytes) {
        cur.events.pop();
        break;
      }
    }
    if (idx === resp.events.length) cur.fragment = false;
    out.push(cur);
  }
  return out;
}
