// The Maintenance service: Alarm, Status, Defragment, Hash, HashKV, the Snapshot stream,
// MoveLeader, Downgrade (downgrade.ts). As etcd 3.6: Defragment and MoveLeader answer an empty
// message (no header), Snapshot messages carry no header and the storage version, Status always
// has downgradeInfo (the replicated downgrade state) and the storage version.
// Snapshot: the backend's bytes go out in messages of at most SNAPSHOT_CHUNK_BYTES (1 MiB; etcd
// sends 32 KiB), waiting for the client to drain. As etcd's, the bytes are a bbolt database in etcd 3.6's schema (the member
// writes it: node/runtime/etcd-snapshot-stream.ts), followed by its sha256, so etcdutl
// `snapshot status`/`restore` and etcd itself read what `etcdctl snapshot save` stores
// (docs/snapshots.md). etcdctl 3.4 `snapshot save` refuses a stream whose length is not
// 512·n + 32 ("sha256 checksum not found"); a bbolt file is whole 4096-byte pages, and any other
// backend's bytes are zero-padded to a multiple of 512. remaining_bytes counts the snapshot
// bytes still to come.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GrpcStatus } from './grpc-status.js';
import type { AlarmRequest, AlarmResponse, HashKVResponse, HashResponse } from '../mvcc/types.js';
import { serveDowngrade, type DowngradeRequest } from './downgrade.js';
import { authInfoOf, checkAdmin } from './auth-check.js';
import { grpcError } from './errors.js';
import { checkUser } from './auth-check.js';
import type { ServerContext } from './rpc-context.js';
import { checkCommand, checkHasLeader, checkLearner, completeHeader, countClientRequest, failStream, makeHeader, streamCounters, unary } from './rpc-context.js';
import { SERVER_VERSION, STORAGE_VERSION } from './version.js';
import { WireWriter } from './codec/proto-wire.js';
import { uvarintSize } from '../lib/varint-size.js';

/**
 * Snapshot bytes per message at most. etcd sends 32 KiB; etcdctl takes any size up to its
 * receive limit (clientv3: math.MaxInt32), and 1 MiB stays under the 4 MiB other gRPC clients
 * take by default. One message per stream chunk (etcd-snapshot-stream.ts): fewer messages, and
 * each sent from the chunk's memory.
 */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;
/**
 * etcd's message size, kept for the JSON gateway's stream (gateway.ts marks its calls): each
 * message is one JSON line there, and line readers (the operator's backups among them) would
 * meet 1.4 MB lines of base64 instead of etcd's 44 KB.
 */
export const ETCD_SNAPSHOT_CHUNK_BYTES = 32 * 1024;
/** etcdctl checks that the snapshot is whole 512-byte pages plus a 32-byte sha256. */
export const SNAPSHOT_ALIGN_BYTES = 512;

/**
 * A SnapshotResponse's fields before its blob's bytes: version (4), remaining_bytes (2, left out
 * when 0), then blob's tag and length (3); no header, as etcd 3.6 sends. Fields out of numeric
 * order, so the blob comes last and a chunk can be sent from its own memory with this written
 * in front of it: protobuf parsers take fields in any order (etcdctl's gogoproto, protobufjs).
 */
function snapshotHeadBytes(remainingBytes: number, blobBytes: number): number {
  return 2 + SNAPSHOT_VERSION_BYTES.length + (remainingBytes > 0 ? 1 + uvarintSize(remainingBytes) : 0) + 1 + uvarintSize(blobBytes);
}

function writeSnapshotHead(out: Buffer, remainingBytes: number, blobBytes: number): number {
  const w = new WireWriter(out);
  w.byte(0x22);
  w.uvarint(SNAPSHOT_VERSION_BYTES.length);
  out.set(SNAPSHOT_VERSION_BYTES, w.pos);
  w.pos += SNAPSHOT_VERSION_BYTES.length;
  if (remainingBytes > 0) {
    w.byte(0x10);
    w.uvarint(remainingBytes);
  }
  w.byte(0x1a);
  w.uvarint(blobBytes);
  return w.pos;
}

/** A whole SnapshotResponse (non-empty blob), head first as above. */
export function encodeSnapshotResponse(remainingBytes: number, blob: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(snapshotHeadBytes(remainingBytes, blob.length) + blob.length);
  out.set(blob, writeSnapshotHead(out, remainingBytes, blob.length));
  return out;
}

/**
 * The SnapshotResponse for `piece`, written in the `headroom` bytes before it when they suffice
 * (no copy of the piece), else a copy.
 */
export function snapshotResponseAt(remainingBytes: number, piece: Uint8Array, headroom: number): Buffer {
  const head = snapshotHeadBytes(remainingBytes, piece.length);
  if (head > headroom) return encodeSnapshotResponse(remainingBytes, piece);
  const out = Buffer.from(piece.buffer, piece.byteOffset - head, head + piece.length);
  writeSnapshotHead(out, remainingBytes, piece.length);
  return out;
}

const SNAPSHOT_VERSION_BYTES = Buffer.from(STORAGE_VERSION);

export function maintenanceService(ctx: ServerContext): UntypedServiceImplementation {
  const b = ctx.backend;
  const S = 'etcdserverpb.Maintenance';

  const Snapshot = (call: ServerWritableStream<unknown, unknown>): void => {
    const counters = streamCounters(ctx, S, 'Snapshot', 'server_stream');
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
    });
    const run = async (): Promise<void> => {
      checkLearner(ctx, true);
      countClientRequest(ctx, call.metadata, 'stream');
      checkHasLeader(ctx, call.metadata);
      checkAdmin(ctx, call);
      const t0 = process.hrtime.bigint();
      const snap = await b.snapshot();
      const sha = createHash('sha256');
      const padBytes = (SNAPSHOT_ALIGN_BYTES - (snap.sizeBytes % SNAPSHOT_ALIGN_BYTES)) % SNAPSHOT_ALIGN_BYTES;
      const totalBytes = snap.sizeBytes + padBytes;
      let sent = 0;
      const send = async (msg: Buffer): Promise<void> => {
        counters.sent();
        if (!call.write(msg)) await once(call, 'drain');
      };
      const messageBytes = (call as { jsonGateway?: boolean }).jsonGateway ? ETCD_SNAPSHOT_CHUNK_BYTES : SNAPSHOT_CHUNK_BYTES;
      for await (const chunk of snap.chunks) {
        if (cancelled) return;
        sha.update(chunk);
        for (let off = 0; off < chunk.length; off += messageBytes) {
          if (cancelled) return;
          const piece = chunk.subarray(off, Math.min(chunk.length, off + messageBytes));
          sent += piece.length;
          // Only the chunk's first piece has the stream's headroom before it.
          await send(snapshotResponseAt(Math.max(0, totalBytes - sent), piece, off === 0 ? (snap.headroom ?? 0) : 0));
        }
      }
      if (sent !== snap.sizeBytes) throw new Error(`snapshot stream gave ${sent} bytes, announced ${snap.sizeBytes}`);
      if (padBytes > 0) {
        const pad = Buffer.alloc(padBytes);
        sha.update(pad);
        sent += padBytes;
        await send(encodeSnapshotResponse(0, pad));
      }
      await send(encodeSnapshotResponse(0, sha.digest()));
      ctx.metrics.backendSnapshotDurationSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
      counters.finish(GrpcStatus.OK);
      call.end();
    };
    run().catch((err: unknown) => failStream(call, err, counters));
  };

  return {
    Alarm: unary<AlarmRequest, AlarmResponse>(
      ctx,
      S,
      'Alarm',
      () => false,
      async (req, call) => {
        checkCommand(ctx, { type: 'alarm', req });
        checkUser(ctx, call); // a user, of any role (etcd 3.6)
        const resp = await b.alarm(req);
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
    Status: unary<unknown, unknown>(
      ctx,
      S,
      'Status',
      () => true,
      async (_req, call) => {
        checkUser(ctx, call); // a user, of any role (etcd 3.6; its main branch makes Status root-only)
        const st = await b.status();
        return {
          header: makeHeader(ctx),
          version: SERVER_VERSION,
          dbSize: st.dbSizeBytes,
          leader: st.leader,
          raftIndex: st.raftIndex,
          raftTerm: st.raftTerm,
          raftAppliedIndex: st.raftAppliedIndex,
          errors: [...st.errors],
          dbSizeInUse: st.dbSizeInUseBytes,
          isLearner: st.isLearner,
          dbSizeQuota: st.dbSizeQuotaBytes,
          storageVersion: STORAGE_VERSION,
          downgradeInfo: b.downgradeInfo(),
        };
      },
    ),
    Defragment: unary<unknown, unknown>(
      ctx,
      S,
      'Defragment',
      () => false,
      async (_req, call) => {
        checkAdmin(ctx, call);
        await b.defragment();
        return {};
      },
    ),
    Hash: unary<unknown, HashResponse>(
      ctx,
      S,
      'Hash',
      () => false,
      async (_req, call) => {
        checkAdmin(ctx, call);
        const resp = await b.hash();
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
    HashKV: unary<{ revision: number }, HashKVResponse>(
      ctx,
      S,
      'HashKV',
      () => false,
      async (req, call) => {
        checkAdmin(ctx, call);
        const resp = await b.hashKV(req.revision);
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
    Snapshot,
    MoveLeader: unary<{ targetID: bigint }, unknown>(
      ctx,
      S,
      'MoveLeader',
      () => false,
      async (req, call) => {
        checkAdmin(ctx, call);
        await b.moveLeader(req.targetID);
        return {};
      },
    ),
    Downgrade: unary<DowngradeRequest, unknown>(
      ctx,
      S,
      'Downgrade',
      () => false,
      async (req, call) => {
        checkAdmin(ctx, call);
        const version = await serveDowngrade(b, req);
        return { header: makeHeader(ctx), version };
      },
    ),
  };
}
