// A small scripted environment for data-driven Raft interaction tests, in the style of
// etcd-io/raft's testdata. Pure: interaction.test.ts reads the script files and compares
// the output produced here with the expectation checked in beside each command.
//
// Script: blocks of `command args...`, a `----` line, then the expected output up to a
// blank line. Lines starting with # outside blocks are comments.
import { MemoryStorage } from './memory-storage.js';
import { RawNode } from './raw-node.js';
import { decodeConfChange } from './conf-change.js';
import {
  NONE,
  ProposalDroppedError,
  compareNodeIds,
  type ConfChangeType,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftLogger,
  type Ready,
  type Rng,
  type Snapshot,
} from './types.js';

export interface Command {
  readonly name: string;
  /** Positional arguments. */
  readonly args: readonly string[];
  /** key=value arguments; values like (1,2,3) stay as written. */
  readonly kv: ReadonlyMap<string, string>;
}

export interface ScriptBlock {
  readonly commandLine: string;
  readonly expected: string;
}

const SEP = '----';

export function parseScript(text: string): ScriptBlock[] {
  const lines = text.split('\n');
  const blocks: ScriptBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = (lines[i] as string).trimEnd();
    if (line === '' || line.startsWith('#')) {
      i++;
      continue;
    }
    if (lines[i + 1]?.trimEnd() !== SEP) throw new Error(`line ${i + 1}: expected '${SEP}' after command '${line}'`);
    const out: string[] = [];
    i += 2;
    while (i < lines.length && (lines[i] as string).trimEnd() !== '') out.push((lines[i++] as string).trimEnd());
    blocks.push({ commandLine: line, expected: out.join('\n') });
  }
  return blocks;
}

export function formatScript(blocks: readonly { commandLine: string; output: string }[], comments: ReadonlyMap<number, string[]>): string {
  const parts: string[] = [];
  blocks.forEach((b, idx) => {
    const c = comments.get(idx);
    if (c !== undefined) parts.push(c.join('\n'));
    parts.push(`${b.commandLine}\n${SEP}\n${b.output}\n`);
  });
  return parts.join('\n');
}

/** Comment lines preceding each block (keyed by block index), so a rewrite keeps them. */
export function scriptComments(text: string): Map<number, string[]> {
  const lines = text.split('\n');
  const out = new Map<number, string[]>();
  let pending: string[] = [];
  let block = 0;
  let i = 0;
  while (i < lines.length) {
    const line = (lines[i] as string).trimEnd();
    if (line.startsWith('#')) {
      pending.push(line);
      i++;
      continue;
    }
    if (line === '') {
      i++;
      continue;
    }
    if (pending.length > 0) out.set(block, pending);
    pending = [];
    block++;
    i += 2;
    while (i < lines.length && (lines[i] as string).trimEnd() !== '') i++;
  }
  return out;
}

export function parseCommand(line: string): Command {
  const tokens = line.trim().split(/\s+/);
  const name = tokens.shift() ?? '';
  const args: string[] = [];
  const kv = new Map<string, string>();
  for (const t of tokens) {
    const eq = t.indexOf('=');
    if (eq > 0) kv.set(t.slice(0, eq), t.slice(eq + 1));
    else args.push(t);
  }
  return { name, args, kv };
}

function parseIdList(v: string | undefined): NodeId[] {
  if (v === undefined) return [];
  const inner = v.replace(/^\(/, '').replace(/\)$/, '').trim();
  if (inner === '') return [];
  return inner.split(',').map((s) => parseId(s));
}

function parseId(s: string): NodeId {
  const t = s.trim();
  if (!/^[0-9]+$/.test(t) || BigInt(t) === 0n || BigInt(t) >= 2n ** 64n) throw new Error(`bad node id '${s}'`);
  return BigInt(t);
}

function parseIntArg(s: string | undefined, what: string): number {
  const n = Number(s);
  if (s === undefined || !Number.isSafeInteger(n)) throw new Error(`bad ${what} '${String(s)}'`);
  return n;
}

function parseBool(s: string | undefined, dflt: boolean): boolean {
  if (s === undefined) return dflt;
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw new Error(`bad boolean '${s}'`);
}

/** Always the minimum: randomized election timeout == electionTick, so tick-election is exact. */
const ZERO_RNG: Rng = { intn: () => 0 };

const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

function str(b: Uint8Array | undefined): string {
  return JSON.stringify(b === undefined ? '' : utf8.decode(b));
}

function ids(xs: readonly NodeId[]): string {
  return `(${xs.join(',')})`;
}

export function formatEntry(e: Entry): string {
  if (e.type === 'confChange') {
    const cc = decodeConfChange(e.data);
    return `${e.term}/${e.index} confChange ${cc.type} ${cc.nodeId}`;
  }
  return `${e.term}/${e.index} normal ${str(e.data)}`;
}

function formatSnapshot(s: Snapshot): string {
  const m = s.metadata;
  return `index=${m.index} term=${m.term} voters=${ids(m.confState.voters)} learners=${ids(m.confState.learners)}`;
}

export function formatMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'app':
      s += ` log=${m.logTerm}/${m.index} commit=${m.commit}`;
      if (m.entries.length > 0) s += ` entries=[${m.entries.map(formatEntry).join(', ')}]`;
      if (m.noAck) s += ' noAck';
      break;
    case 'appResp':
      s += ` index=${m.index}`;
      if (m.reject) s += ` rejected (hint: ${m.rejectHint}/${m.logTerm})`;
      break;
    case 'vote':
    case 'preVote':
      s += ` log=${m.logTerm}/${m.index}`;
      if (m.context !== undefined) s += ' transfer';
      break;
    case 'voteResp':
    case 'preVoteResp':
      if (m.reject) s += ' rejected';
      break;
    case 'heartbeat':
      s += ` commit=${m.commit}`;
      if (m.context !== undefined) s += ` ctx=${str(m.context)}`;
      break;
    case 'heartbeatResp':
      if (m.context !== undefined) s += ` ctx=${str(m.context)}`;
      break;
    case 'snap':
      if (m.snapshot !== undefined) s += ` snapshot: ${formatSnapshot(m.snapshot)}`;
      break;
    case 'prop':
      s += ` entries=[${m.entries.map((e) => (e.type === 'normal' ? str(e.data) : 'confChange')).join(', ')}]`;
      break;
    case 'readIndex':
    case 'readIndexResp':
      s += ` index=${m.index} ctx=${str(m.context)}`;
      break;
    case 'transferLeader':
      s += ` to=${m.transferee ?? 0n}`;
      break;
    case 'timeoutNow':
    case 'hup':
    case 'beat':
    case 'unreachable':
    case 'snapStatus':
    case 'checkQuorum':
      break;
  }
  return s;
}

interface EnvNode {
  readonly id: NodeId;
  rn: RawNode;
  readonly storage: MemoryStorage;
  readonly cfg: NodeOptions;
  /** What this node has applied, in order. */
  readonly applied: Entry[];
  confState: ConfState;
}

interface NodeOptions {
  preVote: boolean;
  checkQuorum: boolean;
  maxInflightMsgs: number;
  maxInflightBytes: number;
  maxSizePerMsg: number;
  maxUncommittedEntriesSize: number;
  snapshotRetryHeartbeats: number;
}

export const ELECTION_TICK = 3;
export const HEARTBEAT_TICK = 1;

export class InteractionEnv {
  private readonly nodes = new Map<NodeId, EnvNode>();
  /** Messages sent and not yet delivered, in send order. */
  private messages: Message[] = [];
  /** Directed links that drop everything: "from->to". */
  private readonly cut = new Set<string>();
  private out: string[] = [];
  private indent = '';
  /** When set, 'snap' messages are lost in transit (and nobody calls reportSnapshot). */
  private loseSnapshots = false;

  private emit(line: string): void {
    this.out.push(this.indent + line);
  }

  private loggerFor(id: NodeId): RaftLogger {
    const fmt = (level: string, msg: string, fields?: Record<string, unknown>): string => {
      const f = fields === undefined ? '' : Object.entries(fields).filter(([k]) => k !== 'id').map(([k, v]) => ` ${k}=${Array.isArray(v) ? ids(v as NodeId[]) : String(v)}`).join('');
      return `${level} ${id} ${msg}${f}`;
    };
    return {
      debug: () => {},
      info: (msg, fields) => this.emit(fmt('INFO', msg, fields)),
      warn: (msg, fields) => this.emit(fmt('WARN', msg, fields)),
    };
  }

  private node(idArg: string | undefined): EnvNode {
    const id = parseId(idArg ?? '');
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  private targets(c: Command): EnvNode[] {
    if (c.args.length === 0) return [...this.nodes.values()];
    return c.args.map((a) => this.node(a));
  }

  /** Runs one command, returning its output. */
  run(line: string): string {
    this.out = [];
    this.indent = '';
    const c = parseCommand(line);
    try {
      this.dispatch(c);
    } catch (err: unknown) {
      this.indent = '';
      if (err instanceof ProposalDroppedError) this.emit(`error: ${err.message}`);
      else throw err;
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  private dispatch(c: Command): void {
    switch (c.name) {
      case 'add-nodes':
        return this.addNodes(c);
      case 'campaign':
        return this.node(c.args[0]).rn.campaign();
      case 'propose':
        return this.node(c.args[0]).rn.propose(utf8enc.encode(c.args[1] ?? ''));
      case 'propose-conf-change': {
        const type = (c.kv.get('type') ?? '') as ConfChangeType;
        if (!['addNode', 'addLearnerNode', 'removeNode', 'updateNode'].includes(type)) throw new Error(`bad type ${type}`);
        return this.node(c.args[0]).rn.proposeConfChange({ type, nodeId: parseId(c.kv.get('node') ?? ''), context: new Uint8Array(0) });
      }
      case 'process-ready':
        for (const n of this.targets(c)) this.processReady(n);
        return;
      case 'deliver-msgs':
        for (const n of this.targets(c)) this.deliver(n, parseBool(c.kv.get('drop'), false));
        return;
      case 'stabilize':
        return this.stabilize(this.targets(c));
      case 'tick-heartbeat':
        return this.tickN(this.node(c.args[0]), HEARTBEAT_TICK);
      case 'tick-election':
        return this.tickN(this.node(c.args[0]), ELECTION_TICK);
      case 'tick':
        return this.tickN(this.node(c.args[0]), parseIntArg(c.args[1], 'ticks'));
      case 'isolate': {
        const id = this.node(c.args[0]).id;
        for (const other of this.nodes.keys()) {
          if (other === id) continue;
          this.cut.add(`${id}->${other}`);
          this.cut.add(`${other}->${id}`);
        }
        return;
      }
      case 'cut': {
        // cut A B: drop A->B only (one-way); add both=true for both directions.
        const a = this.node(c.args[0]).id;
        const b = this.node(c.args[1]).id;
        this.cut.add(`${a}->${b}`);
        if (parseBool(c.kv.get('both'), false)) this.cut.add(`${b}->${a}`);
        return;
      }
      case 'heal':
        this.cut.clear();
        return;
      case 'lose-snapshots':
        this.loseSnapshots = parseBool(c.args[0], true);
        return;
      case 'compact':
        return this.compact(this.node(c.args[0]), parseIntArg(c.args[1], 'index'));
      case 'transfer-leadership':
        return this.node(c.kv.get('from')).rn.transferLeader(parseId(c.kv.get('to') ?? ''));
      case 'read-index':
        return this.node(c.args[0]).rn.readIndex(utf8enc.encode(c.args[1] ?? ''));
      case 'report-snapshot':
        return this.node(c.args[0]).rn.reportSnapshot(parseId(c.args[1] ?? ''), c.args[2] !== 'fail');
      case 'report-unreachable':
        return this.node(c.args[0]).rn.reportUnreachable(parseId(c.args[1] ?? ''));
      case 'restart':
        return this.restart(this.node(c.args[0]));
      case 'raft-log':
        return this.raftLog(this.node(c.args[0]));
      case 'raft-state':
        return this.raftState();
      case 'status':
        return this.status(this.node(c.args[0]));
      case 'applied':
        return this.printApplied(this.node(c.args[0]));
      default:
        throw new Error(`unknown command '${c.name}'`);
    }
  }

  private makeRawNode(id: NodeId, storage: MemoryStorage, o: NodeOptions, applied: number): RawNode {
    return new RawNode({
      id,
      electionTick: ELECTION_TICK,
      heartbeatTick: HEARTBEAT_TICK,
      storage,
      applied,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
      maxInflightMsgs: o.maxInflightMsgs,
      maxInflightBytes: o.maxInflightBytes,
      maxSizePerMsg: o.maxSizePerMsg,
      maxUncommittedEntriesSize: o.maxUncommittedEntriesSize,
      snapshotRetryHeartbeats: o.snapshotRetryHeartbeats,
      rng: ZERO_RNG,
      logger: this.loggerFor(id),
    });
  }

  private addNodes(c: Command): void {
    const count = parseIntArg(c.args[0], 'count');
    const voters = parseIdList(c.kv.get('voters'));
    const learners = parseIdList(c.kv.get('learners'));
    const index = c.kv.has('index') ? parseIntArg(c.kv.get('index'), 'index') : 0;
    const o: NodeOptions = {
      preVote: parseBool(c.kv.get('prevote'), false),
      checkQuorum: parseBool(c.kv.get('checkquorum'), false),
      maxInflightMsgs: c.kv.has('max-inflight') ? parseIntArg(c.kv.get('max-inflight'), 'max-inflight') : 256,
      maxInflightBytes: c.kv.has('max-inflight-bytes') ? parseIntArg(c.kv.get('max-inflight-bytes'), 'max-inflight-bytes') : 0,
      maxSizePerMsg: c.kv.has('max-size') ? parseIntArg(c.kv.get('max-size'), 'max-size') : 1024 * 1024,
      maxUncommittedEntriesSize: c.kv.has('max-uncommitted') ? parseIntArg(c.kv.get('max-uncommitted'), 'max-uncommitted') : 0,
      snapshotRetryHeartbeats: c.kv.has('snapshot-retry') ? parseIntArg(c.kv.get('snapshot-retry'), 'snapshot-retry') : 0,
    };
    let next = BigInt(this.nodes.size + 1);
    for (let k = 0; k < count; k++, next++) {
      const confState: ConfState = { voters, learners };
      const snap: Snapshot = { data: new Uint8Array(0), metadata: { index, term: index > 0 ? 1 : 0, confState } };
      const storage = new MemoryStorage(snap);
      if (index > 0) storage.setHardState({ term: 1, vote: NONE, commit: index });
      const rn = this.makeRawNode(next, storage, o, index);
      this.nodes.set(next, { id: next, rn, storage, cfg: o, applied: [], confState });
    }
  }

  private processReady(n: EnvNode): void {
    if (!n.rn.hasReady()) return;
    const rd: Ready = n.rn.ready();
    this.emit(`> ${n.id} handling Ready`);
    this.indent = '  ';
    if (rd.softState !== undefined) this.emit(`soft: lead=${rd.softState.lead} state=${rd.softState.raftState}`);
    if (rd.hardState !== undefined) {
      this.emit(`hard: term=${rd.hardState.term} vote=${rd.hardState.vote} commit=${rd.hardState.commit}${rd.mustSync ? '' : ' (no sync)'}`);
    }
    if (rd.snapshot !== undefined) this.emit(`snapshot: ${formatSnapshot(rd.snapshot)}`);
    if (rd.entries.length > 0) {
      this.emit('entries:');
      for (const e of rd.entries) this.emit(`  ${formatEntry(e)}`);
    }
    if (rd.committedEntries.length > 0) {
      this.emit('committed:');
      for (const e of rd.committedEntries) this.emit(`  ${formatEntry(e)}`);
    }
    if (rd.readStates.length > 0) {
      this.emit('read-states:');
      for (const rs of rd.readStates) this.emit(`  index=${rs.index} ctx=${str(rs.requestCtx)}`);
    }
    if (rd.messages.length > 0) {
      this.emit('messages:');
      for (const m of rd.messages) this.emit(`  ${formatMessage(m)}${this.cut.has(`${m.from}->${m.to}`) ? ' DROPPED' : ''}`);
    }
    // 1. persist
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    // 2. send
    for (const m of rd.messages) if (!this.cut.has(`${m.from}->${m.to}`)) this.messages.push(m);
    // 3. apply
    if (rd.snapshot !== undefined) n.confState = rd.snapshot.metadata.confState;
    for (const e of rd.committedEntries) {
      n.applied.push(e);
      if (e.type === 'confChange') {
        n.confState = n.rn.applyConfChange(decodeConfChange(e.data));
        this.emit(`applied conf change at ${e.index}: voters=${ids(n.confState.voters)} learners=${ids(n.confState.learners)}`);
      }
    }
    // 4. advance
    n.rn.advance();
    this.indent = '';
  }

  private deliver(n: EnvNode, drop: boolean): void {
    const mine: Message[] = [];
    const rest: Message[] = [];
    for (const m of this.messages) (m.to === n.id ? mine : rest).push(m);
    this.messages = rest;
    if (mine.length === 0) return;
    this.emit(`> ${n.id} receiving messages`);
    this.indent = '  ';
    for (const m of mine) {
      if (drop || this.cut.has(`${m.from}->${m.to}`) || (this.loseSnapshots && m.type === 'snap')) {
        this.emit(`${formatMessage(m)} DROPPED`);
        continue;
      }
      this.emit(formatMessage(m));
      this.indent = '    ';
      n.rn.step(m);
      this.indent = '  ';
    }
    this.indent = '';
  }

  private stabilize(targets: EnvNode[]): void {
    const set = new Set(targets.map((n) => n.id));
    for (let round = 0; round < 1000; round++) {
      let busy = false;
      for (const n of targets) {
        if (n.rn.hasReady()) {
          this.processReady(n);
          busy = true;
        }
      }
      for (const n of targets) {
        if (this.messages.some((m) => m.to === n.id && set.has(n.id))) {
          this.deliver(n, false);
          busy = true;
        }
      }
      if (!busy) return;
    }
    throw new Error('stabilize did not converge in 1000 rounds');
  }

  private tickN(n: EnvNode, count: number): void {
    for (let i = 0; i < count; i++) n.rn.tick();
  }

  private compact(n: EnvNode, index: number): void {
    const last = n.applied[n.applied.length - 1];
    if (last === undefined || index > last.index) throw new Error(`compact ${index}: node ${n.id} has only applied ${last?.index ?? 0}`);
    n.storage.createSnapshot(index, n.confState, utf8enc.encode(`snap@${index}`));
    n.storage.compact(index);
    this.emit(`snapshot at ${index}; log now starts at ${n.storage.firstIndex()}`);
    this.raftLog(n);
  }

  private restart(n: EnvNode): void {
    // Unpersisted state is lost; messages to and from the node in flight are dropped.
    this.messages = this.messages.filter((m) => m.to !== n.id && m.from !== n.id);
    const last = n.applied[n.applied.length - 1];
    const snapIndex = n.storage.snapshot().metadata.index;
    const applied = Math.max(last?.index ?? 0, snapIndex);
    n.rn = this.makeRawNode(n.id, n.storage, n.cfg, applied);
  }

  private raftLog(n: EnvNode): void {
    const first = n.storage.firstIndex();
    const last = n.storage.lastIndex();
    if (last < first) {
      this.emit(`no entries after the snapshot at ${first - 1}`);
      return;
    }
    for (const e of n.storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER)) this.emit(formatEntry(e));
  }

  private raftState(): void {
    for (const n of this.nodes.values()) {
      const s = n.rn.status();
      const role = s.confState.voters.includes(n.id) ? 'voter' : s.confState.learners.includes(n.id) ? 'learner' : 'non-member';
      this.emit(`${n.id}: ${s.softState.raftState} (${role}) term=${s.hardState.term} lead=${s.lead} commit=${s.hardState.commit} applied=${s.applied}`);
    }
  }

  private status(n: EnvNode): void {
    const s = n.rn.status();
    if (s.progress === undefined) {
      this.emit(`${n.id} is not the leader`);
      return;
    }
    for (const [id, p] of [...s.progress].sort((a, b) => compareNodeIds(a[0], b[0]))) {
      let line = `${id}: ${p.state} match=${p.match} next=${p.next}`;
      if (p.isLearner) line += ' learner';
      if (p.state === 'snapshot') line += ` pendingSnapshot=${p.pendingSnapshot}`;
      if (p.inflightMsgs > 0) line += ` inflight=${p.inflightMsgs}`;
      this.emit(line);
    }
  }

  private printApplied(n: EnvNode): void {
    if (n.applied.length === 0) this.emit('nothing applied');
    for (const e of n.applied) this.emit(formatEntry(e));
  }
}
