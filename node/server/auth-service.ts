// The Auth service. tsetcd runs with auth disabled: AuthStatus says so, AuthDisable is a no-op
// (as in etcd when auth is already off), and every other call fails as etcd's do when auth is
// off: "etcdserver: authentication is not enabled". AuthEnable is refused as not supported.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { EtcdError, grpcError } from './errors.js';
import type { ServerContext } from './rpc-context.js';
import { makeHeader, unary } from './rpc-context.js';

const NOT_ENABLED = [
  'Authenticate',
  'UserAdd',
  'UserGet',
  'UserList',
  'UserDelete',
  'UserChangePassword',
  'UserGrantRole',
  'UserRevokeRole',
  'RoleAdd',
  'RoleGet',
  'RoleList',
  'RoleDelete',
  'RoleGrantPermission',
  'RoleRevokePermission',
] as const;

export function authService(ctx: ServerContext): UntypedServiceImplementation {
  const S = 'etcdserverpb.Auth';
  const impl: UntypedServiceImplementation = {
    AuthStatus: unary(ctx, S, 'AuthStatus', () => true, async () => ({ header: makeHeader(ctx), enabled: false, authRevision: 0 })),
    AuthDisable: unary(ctx, S, 'AuthDisable', () => false, async () => ({ header: makeHeader(ctx) })),
    AuthEnable: unary(ctx, S, 'AuthEnable', () => false, async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'etcdserver: tsetcd does not support authentication');
    }),
  };
  for (const m of NOT_ENABLED) {
    impl[m] = unary(ctx, S, m, () => true, async () => {
      throw new EtcdError('authNotEnabled');
    });
  }
  return impl;
}
