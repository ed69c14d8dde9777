// Watch response fragmentation, as etcd's sendFragments (api/v3rpc/watch.go): a watcher created
// with `fragment: true` gets a response at or above --max-request-bytes cut into several, each
// marked `fragment` but the last. Each piece holds as many events as fit below the limit, and
// at least one. A response with fewer than two events goes out whole.

import type { WatchResponse } from '../mvcc/types.js';

export function fragmentWatchResponse(resp: WatchResponse, maxBytes: number, size: (r: WatchResponse) => number): WatchResponse[] {
  if (resp.events.length < 2 || size(resp) < maxBytes) return [resp];
  // A repeated field's entries add up on the wire, so a piece's size is its empty response plus
  // what each of its events adds: one encoding per event, not one per event per piece.
  const empty = { ...resp, events: [], fragment: true };
  const base = size(empty);
  const cost = resp.events.map((e) => size({ ...empty, events: [e] }) - base);
  const out: WatchResponse[] = [];
  let idx = 0;
  while (idx < resp.events.length) {
    const cur: WatchResponse = { ...empty, events: [] };
    let bytes = base;
    for (; idx < resp.events.length; idx++) {
      if (cur.events.length > 0 && bytes + cost[idx]! >= maxBytes) break;
      cur.events.push(resp.events[idx]!);
      bytes += cost[idx]!;
    }
    if (idx === resp.events.length) cur.fragment = false;
    out.push(cur);
  }
  return out;
}
