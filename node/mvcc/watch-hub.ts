// The watch hub: watchers on a key, a range or a prefix, grouped in streams (one per gRPC
// Watch stream), fed from the store's revision log.
//
// Contract with the runtime and the server:
// - After applying committed entries, the runtime calls `notify()`: the hub reads every
//   revision it has not seen from the store's log and delivers it to synced watchers.
// - Between events the runtime calls `syncStep(maxChanges)` while it returns false: bounded
//   catch-up of unsynced watchers (historical replay, slow watchers, after a restore).
// - The server opens a stream with a WatchSink and forwards create/cancel/progress
//   requests. `sink.send(resp)` returns false when its buffer is full; the hub then holds
//   responses in a bounded per-stream queue (maxQueuedResponses). A watcher whose next
//   revision does not fit becomes unsynced: it is caught up later from history by
//   syncStep, after the server calls `resume(streamId)` once the sink drains. Apply is
//   never blocked by a slow stream.
//
// Guarantees per watcher: events in revision order, every revision's events (after
// filters) in one response, no gaps, no duplicates; a watcher whose next revision is
// compacted is canceled with compactRevision. Response header revisions on a stream never
// go backwards: they are the hub's last notified revision (or the delivered revision); the
// one exception is etcd's: a compaction cancel has header revision 0.
// Progress: `requestProgress(streamId)` answers watchId -1 with the hub's revision once
// every watcher on the stream is synced (deferred until then, as kube-apiserver needs);
// `progressTick()` (runtime timer, etcd: every 10 min) notifies progress_notify watchers
// that got no events since the last tick.
import type { Event, WatchCreateRequest, WatchResponse } from './types.js';
import { WatchFilterType } from './types.js';
import { ERROR_SPECS } from './errors.js';
import { inSkeyRange, isEmptyRange, skeyRange, type SkeyRange } from './bytes.js';
import { eventOf, header, type MvccStore, type Rev } from './store.js';

/** At most this many revisions of history in one catch-up response (etcd's watchBatchMaxRevs). */
export const WATCH_BATCH_MAX_REVS = 1000;

export interface WatchSink {
  /** Deliver one response. Return false when full: the hub holds the rest until resume(). */
  send(resp: WatchResponse): boolean;
}

export interface WatchHubOptions {
  /** Responses the hub holds per stream while its sink is full. Default 128 (etcd's chanBufLen). */
  maxQueuedResponses?: number;
}

/** etcd's clientv3.InvalidWatchID: the watch id of a stream-wide progress response. */
export const PROGRESS_WATCH_ID = -1;

interface Watcher {
  readonly id: number;
  readonly stream: Stream;
  readonly range: SkeyRange;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  /** Unsynced: the next revision to deliver. Synced: the lowest revision to deliver. */
  nextRev: number;
  synced: boolean;
  eventsSinceTick: boolean;
}

interface Stream {
  readonly id: number;
  readonly sink: WatchSink;
  readonly watchers: Map<number, Watcher>;
  readonly queue: WatchResponse[];
  blocked: boolean;
  nextWatchId: number;
  unsynced: number;
  progressPending: boolean;
}

function response(revision: number, watchId: number): WatchResponse {
  return {
    header: header(revision),
    watchId,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: '',
    fragment: false,
    events: [],
  };
}

export class WatchHub {
  private readonly streams = new Map<number, Stream>();
  private nextStreamId = 1;
  private readonly keyWatchers = new Map<string, Set<Watcher>>();
  private readonly rangeWatchers = new Set<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private lastRev: number;
  private epoch: number;
  private readonly maxQueued: number;

  constructor(
    private readonly store: MvccStore,
    opts: WatchHubOptions = {},
  ) {
    this.maxQueued = opts.maxQueuedResponses ?? 128;
    this.lastRev = store.currentRevision();
    this.epoch = store.restoreEpoch();
  }

  /** The last revision delivered to synced watchers. */
  revision(): number {
    return this.lastRev;
  }

  watcherCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.watchers.size;
    return n;
  }

  unsyncedCount(): number {
    return this.unsynced.size;
  }

  /** Events held in stream queues, waiting for their sink to drain. */
  pendingEventCount(): number {
    let n = 0;
    for (const s of this.streams.values()) for (const r of s.queue) n += r.events.length;
    return n;
  }

  openStream(sink: WatchSink): number {
    const id = this.nextStreamId++;
    this.streams.set(id, {
      id,
      sink,
      watchers: new Map(),
      queue: [],
      blocked: false,
      nextWatchId: 0,
      unsynced: 0,
      progressPending: false,
    });
    return id;
  }

  closeStream(streamId: number): void {
    const s = this.streams.get(streamId);
    if (!s) return;
    for (const w of s.watchers.values()) this.detach(w);
    s.watchers.clear();
    s.queue.length = 0;
    this.streams.delete(streamId);
  }

  /** The sink has room again: flush held responses and let unsynced watchers catch up. */
  resume(streamId: number): void {
    const s = this.streams.get(streamId);
    if (!s) return;
    s.blocked = false;
    this.flush(s);
  }

  /**
   * Create a watcher. Sends `created` (with the hub revision) first; a watcher whose start
   * revision is already compacted is then canceled with compactRevision. Returns the watch id
   * (-1 when the request was refused: empty range or duplicate id, answered created+canceled).
   */
  createWatch(streamId: number, req: WatchCreateRequest): number {
    const s = this.streams.get(streamId);
    if (!s) return -1;
    this.notify();
    const range = skeyRange(req.key, req.rangeEnd);
    let refuse: string | undefined;
    if (isEmptyRange(range)) refuse = ERROR_SPECS.emptyWatcherRange.message;
    let id = req.watchId ?? 0;
    if (refuse === undefined) {
      if (id > 0) {
        if (s.watchers.has(id)) refuse = ERROR_SPECS.duplicateWatchId.message;
      } else {
        while (s.watchers.has(s.nextWatchId)) s.nextWatchId++;
        id = s.nextWatchId++;
      }
    }
    if (refuse !== undefined) {
      const r = response(this.lastRev, -1);
      r.created = true;
      r.canceled = true;
      r.cancelReason = refuse;
      this.enqueue(s, r, true);
      return -1;
    }
    const filters = req.filters ?? [];
    const start = req.startRevision ?? 0;
    const w: Watcher = {
      id,
      stream: s,
      range,
      noPut: filters.includes(WatchFilterType.NOPUT),
      noDelete: filters.includes(WatchFilterType.NODELETE),
      prevKv: req.prevKv === true,
      progressNotify: req.progressNotify === true,
      nextRev: start > 0 ? start : this.lastRev + 1,
      synced: true,
      eventsSinceTick: false,
    };
    s.watchers.set(id, w);
    const created = response(this.lastRev, id);
    created.created = true;
    this.enqueue(s, created, true);
    if (w.nextRev <= this.lastRev) this.markUnsynced(w, w.nextRev);
    else this.attach(w);
    // At once: cancel if compacted, and send the first batch of history as etcd's first sync would.
    if (!w.synced) this.syncWatcher(w, Number.MAX_SAFE_INTEGER, WATCH_BATCH_MAX_REVS);
    return id;
  }

  /** Cancel a watcher; answers canceled. Unknown ids are ignored (as etcd). */
  cancelWatch(streamId: number, watchId: number): void {
    const s = this.streams.get(streamId);
    const w = s?.watchers.get(watchId);
    if (!s || !w) return;
    const r = response(this.lastRev, watchId);
    r.canceled = true;
    this.enqueue(s, r, false);
    this.remove(w);
    this.flush(s);
  }

  /** A progress request: answered (watchId -1) once every watcher on the stream is synced. */
  requestProgress(streamId: number): void {
    const s = this.streams.get(streamId);
    if (!s) return;
    this.notify();
    if (s.unsynced === 0) this.enqueue(s, response(this.lastRev, PROGRESS_WATCH_ID), true);
    else s.progressPending = true;
  }

  /** Periodic progress for progress_notify watchers that are synced and got no events since the last tick. */
  progressTick(): void {
    this.notify();
    for (const s of this.streams.values()) {
      for (const w of s.watchers.values()) {
        if (w.progressNotify && w.synced && !w.eventsSinceTick && s.queue.length < this.maxQueued) {
          this.enqueue(s, response(this.lastRev, w.id), true);
        }
        w.eventsSinceTick = false;
      }
    }
  }

  /** Deliver every revision the store applied since the last call. */
  notify(): void {
    if (this.store.restoreEpoch() !== this.epoch) {
      this.epoch = this.store.restoreEpoch();
      // The state was replaced: every synced watcher catches up from the new history.
      for (const s of this.streams.values()) {
        for (const w of s.watchers.values()) if (w.synced) this.markUnsynced(w, Math.max(w.nextRev, this.lastRev + 1));
      }
      this.lastRev = this.store.currentRevision();
      return;
    }
    const cur = this.store.currentRevision();
    if (cur === this.lastRev) return; // every create and catch-up step asks: usually nothing new
    const touched = new Set<Stream>();
    for (let rev = this.lastRev + 1; rev <= cur; rev++) {
      const group = this.store.changesAt(rev);
      this.lastRev = rev;
      if (group === undefined) {
        // Not held any more (cannot happen when notify follows apply): resync everyone.
        for (const s of this.streams.values()) {
          for (const w of s.watchers.values()) if (w.synced) this.markUnsynced(w, Math.max(w.nextRev, rev));
        }
        continue;
      }
      this.deliverLive(group, rev, touched);
    }
    for (const s of touched) this.flush(s);
  }

  private deliverLive(group: readonly Rev[], rev: number, touched: Set<Stream>): void {
    let perWatcher: Map<Watcher, Rev[]> | undefined;
    const add = (w: Watcher, r: Rev): void => {
      if (w.nextRev > rev) return; // a future start revision
      perWatcher ??= new Map();
      const list = perWatcher.get(w);
      if (list) list.push(r);
      else perWatcher.set(w, [r]);
    };
    for (const r of group) {
      const ws = this.keyWatchers.get(r.rec.skey);
      if (ws) for (const w of ws) add(w, r);
      for (const w of this.rangeWatchers) if (inSkeyRange(w.range, r.rec.skey)) add(w, r);
    }
    if (!perWatcher) return;
    // Watchers of the same change share its Event (read once: the value comes from the value log).
    const shared = perWatcher.size > 1 ? new Map<Rev, Event>() : undefined;
    for (const [w, revs] of perWatcher) {
      const events = this.eventsFor(w, revs, shared);
      if (events.length === 0) continue;
      const s = w.stream;
      // A full queue is handed to the sink first: many watchers of one stream on one key fill
      // it in a single revision, and unsynced they would each read the change again (syncStep).
      if (s.queue.length >= this.maxQueued) this.flush(s);
      if (s.queue.length >= this.maxQueued) {
        this.markUnsynced(w, rev);
        continue;
      }
      const resp = response(rev, w.id);
      resp.events = events;
      w.eventsSinceTick = true;
      this.enqueue(s, resp, false);
      touched.add(s);
    }
  }

  /**
   * The events of `revs` for one watcher. With `shared`, a change's event is taken from it or put
   * there: the same object goes to every watcher of the change (a prevKv watcher's wraps its kv),
   * so nothing downstream may change an event.
   */
  private eventsFor(w: Watcher, revs: readonly Rev[], shared?: Map<Rev, Event>): Event[] {
    const out: Event[] = [];
    for (const r of revs) {
      const del = r.version === 0;
      if (del ? w.noDelete : w.noPut) continue;
      let ev = shared?.get(r);
      if (ev === undefined) {
        ev = eventOf(r);
        shared?.set(r, ev);
      }
      if (w.prevKv && !(r.version === 1)) {
        const prev = this.store.kvAt(r.rec.skey, r.main - 1);
        if (prev) ev = { type: ev.type, kv: ev.kv, prevKv: prev };
      }
      out.push(ev);
    }
    return out;
  }

  /**
   * One bounded step of catch-up for unsynced watchers: looks at most at about
   * `maxChanges` changes in the log. Returns true when no watcher is left unsynced.
   */
  syncStep(maxChanges: number): boolean {
    this.notify();
    let budget = maxChanges;
    // In place, not a copy: syncWatcher only removes `w` itself, which a Set's iteration allows,
    // and copying every unsynced watcher per step cost more than the step's own work.
    for (const w of this.unsynced) {
      if (budget <= 0) break;
      if (w.stream.queue.length >= this.maxQueued) continue;
      budget -= this.syncWatcher(w, budget, WATCH_BATCH_MAX_REVS);
    }
    return this.unsynced.size === 0;
  }

  /** Replay history into one watcher; returns the number of changes looked at. */
  private syncWatcher(w: Watcher, budget: number, maxRevs: number): number {
    const s = w.stream;
    const compactRev = this.store.compactRevision();
    // Revision 1 (the empty store) has no changes to replay.
    if (w.nextRev >= compactRev && w.nextRev < this.store.firstLoggedRevision() && w.nextRev <= 1) w.nextRev = 2;
    if (w.nextRev < compactRev || w.nextRev < this.store.firstLoggedRevision()) {
      // As etcd's: header revision 0 (the mvcc response carries none) and no cancel_reason;
      // compact_revision alone tells the client (clientv3 turns it into ErrCompacted).
      const r = response(0, w.id);
      r.canceled = true;
      r.compactRevision = compactRev;
      this.enqueue(s, r, false); // before remove(): a deferred progress answer must come after it
      this.remove(w);
      this.flush(s);
      return 1;
    }
    let looked = 0;
    let revs = 0;
    const events: Event[] = [];
    while (w.nextRev <= this.lastRev && looked < budget && revs < maxRevs) {
      const group = this.store.changesAt(w.nextRev);
      if (group === undefined) break;
      const matching: Rev[] = [];
      for (const r of group) if (inSkeyRange(w.range, r.rec.skey)) matching.push(r);
      looked += group.length;
      revs++;
      if (matching.length > 0) events.push(...this.eventsFor(w, matching));
      w.nextRev++;
    }
    if (events.length > 0) {
      const resp = response(this.lastRev, w.id);
      resp.events = events;
      w.eventsSinceTick = true;
      this.enqueue(s, resp, true);
    }
    if (w.nextRev > this.lastRev) {
      this.unsynced.delete(w);
      w.synced = true;
      s.unsynced--;
      this.attach(w);
      if (s.unsynced === 0 && s.progressPending) {
        s.progressPending = false;
        this.enqueue(s, response(this.lastRev, PROGRESS_WATCH_ID), true);
      }
    }
    this.flush(s);
    return Math.max(1, looked);
  }

  private attach(w: Watcher): void {
    if (w.range.end === undefined) {
      let set = this.keyWatchers.get(w.range.start);
      if (!set) this.keyWatchers.set(w.range.start, (set = new Set()));
      set.add(w);
    } else {
      this.rangeWatchers.add(w);
    }
  }

  private detach(w: Watcher): void {
    if (w.synced) {
      if (w.range.end === undefined) {
        const set = this.keyWatchers.get(w.range.start);
        set?.delete(w);
        if (set && set.size === 0) this.keyWatchers.delete(w.range.start);
      } else {
        this.rangeWatchers.delete(w);
      }
    } else if (this.unsynced.delete(w)) {
      w.stream.unsynced--;
    }
  }

  private remove(w: Watcher): void {
    this.detach(w);
    w.stream.watchers.delete(w.id);
    const s = w.stream;
    if (s.unsynced === 0 && s.progressPending) {
      s.progressPending = false;
      this.enqueue(s, response(this.lastRev, PROGRESS_WATCH_ID), true);
    }
  }

  private markUnsynced(w: Watcher, nextRev: number): void {
    if (w.synced) {
      this.detach(w);
      w.synced = false;
      this.unsynced.add(w);
      w.stream.unsynced++;
    }
    w.nextRev = nextRev;
  }

  /** Queue a response (control responses may exceed the bound by a few) and flush. */
  private enqueue(s: Stream, resp: WatchResponse, flushNow: boolean): void {
    s.queue.push(resp);
    if (flushNow) this.flush(s);
  }

  private flush(s: Stream): void {
    if (s.blocked) return;
    let i = 0;
    while (i < s.queue.length) {
      const resp = s.queue[i++]!;
      if (!s.sink.send(resp)) {
        s.blocked = true;
        break;
      }
    }
    if (i > 0) s.queue.splice(0, i);
  }
}
