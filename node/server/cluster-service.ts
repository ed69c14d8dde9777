// The Cluster service: MemberAdd (also as learner), MemberRemove, MemberUpdate, MemberList,
// MemberPromote. Members go on the wire in etcd's shape (ID, name, peerURLs, clientURLs, isLearner);
// the headers carry no revision, as etcd's (these calls do not read the key-value store).

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Member } from './backend.js';
import { EtcdError } from './errors.js';
import type { ServerContext } from './rpc-context.js';
import { checkAdmin, checkUser } from './auth-check.js';
import { headerWithoutRevision, unary } from './rpc-context.js';

export interface MemberWire {
  ID: bigint;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export function memberToWire(m: Member): MemberWire {
  return { ID: m.id, name: m.name, peerURLs: [...m.peerUrls], clientURLs: [...m.clientUrls], isLearner: m.isLearner };
}

function checkUrls(urls: readonly string[]): void {
  if (urls.length === 0) throw new EtcdError('memberBadUrls');
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new EtcdError('memberBadUrls');
    }
    if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.port === '') throw new EtcdError('memberBadUrls');
  }
}

export function clusterService(ctx: ServerContext): UntypedServiceImplementation {
  const b = ctx.backend;
  const S = 'etcdserverpb.Cluster';
  const list = (members: readonly Member[]): MemberWire[] => members.map(memberToWire);
  return {
    MemberAdd: unary<{ peerURLs: string[]; isLearner: boolean }, unknown>(
      ctx,
      S,
      'MemberAdd',
      () => false,
      async (req, call) => {
        checkAdmin(ctx, call);
        checkUrls(req.peerURLs);
        const r = await b.memberAdd(req.peerURLs, req.isLearner);
        return { header: headerWithoutRevision(ctx), member: memberToWire(r.member), members: list(r.members) };
      },
    ),
    MemberRemove: unary<{ ID: bigint }, unknown>(
      ctx,
      S,
      'MemberRemove',
      () => false,
      async (req, call) => {
        checkAdmin(ctx, call);
        const members = await b.memberRemove(req.ID);
        return { header: headerWithoutRevision(ctx), members: list(members) };
      },
    ),
    MemberUpdate: unary<{ ID: bigint; peerURLs: string[] }, unknown>(
      ctx,
      S,
      'MemberUpdate',
      () => false,
      async (req, call) => {
        checkAdmin(ctx, call);
        checkUrls(req.peerURLs);
        const members = await b.memberUpdate(req.ID, req.peerURLs);
        return { header: headerWithoutRevision(ctx), members: list(members) };
      },
    ),
    MemberList: unary<{ linearizable: boolean }, unknown>(
      ctx,
      S,
      'MemberList',
      (r) => !r.linearizable,
      async (req, call) => {
        checkUser(ctx, call); // a user, of any role (etcd 3.6)
        const members = await b.memberList(req.linearizable);
        return { header: headerWithoutRevision(ctx), members: list(members) };
      },
    ),
    MemberPromote: unary<{ ID: bigint }, unknown>(
      ctx,
      S,
      'MemberPromote',
      () => false,
      async (req, call) => {
        checkAdmin(ctx, call);
        const members = await b.memberPromote(req.ID);
        return { header: headerWithoutRevision(ctx), members: list(members) };
      },
    ),
  };
}
