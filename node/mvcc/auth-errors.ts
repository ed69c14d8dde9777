// The auth store's expected failures, with etcd's exact gRPC texts and codes
// (api/v3rpc/rpctypes/error.go; server/etcdserver/api/v3rpc/util.go maps server/auth's errors
// onto them). Written once: node/server maps any error carrying grpcCode/grpcMessage.

import type { GrpcCodeName } from './errors.js';

export type AuthErrorCode =
  | 'rootUserNotExist'
  | 'rootRoleNotExist'
  | 'userAlreadyExist'
  | 'userEmpty'
  | 'userNotFound'
  | 'roleAlreadyExist'
  | 'roleNotFound'
  | 'roleEmpty'
  | 'authFailed'
  | 'noPasswordUser'
  | 'permissionNotGiven'
  | 'permissionDenied'
  | 'roleNotGranted'
  | 'permissionNotGranted'
  | 'authNotEnabled'
  | 'invalidAuthToken'
  | 'invalidAuthMgmt'
  | 'authOldRevision';

const SPECS: { readonly [C in AuthErrorCode]: readonly [GrpcCodeName, string] } = {
  rootUserNotExist: ['FailedPrecondition', 'etcdserver: root user does not exist'],
  rootRoleNotExist: ['FailedPrecondition', 'etcdserver: root user does not have root role'],
  userAlreadyExist: ['FailedPrecondition', 'etcdserver: user name already exists'],
  userEmpty: ['InvalidArgument', 'etcdserver: user name is empty'],
  userNotFound: ['FailedPrecondition', 'etcdserver: user name not found'],
  roleAlreadyExist: ['FailedPrecondition', 'etcdserver: role name already exists'],
  roleNotFound: ['FailedPrecondition', 'etcdserver: role name not found'],
  roleEmpty: ['InvalidArgument', 'etcdserver: role name is empty'],
  authFailed: ['InvalidArgument', 'etcdserver: authentication failed, invalid user ID or password'],
  // etcd has no gRPC twin for this one: it travels as Unknown with the auth package's text.
  noPasswordUser: ['Unknown', 'auth: authentication failed, password was given for no password user'],
  permissionNotGiven: ['InvalidArgument', 'etcdserver: permission not given'],
  permissionDenied: ['PermissionDenied', 'etcdserver: permission denied'],
  roleNotGranted: ['FailedPrecondition', 'etcdserver: role is not granted to the user'],
  permissionNotGranted: ['FailedPrecondition', 'etcdserver: permission is not granted to the role'],
  authNotEnabled: ['FailedPrecondition', 'etcdserver: authentication is not enabled'],
  invalidAuthToken: ['Unauthenticated', 'etcdserver: invalid auth token'],
  invalidAuthMgmt: ['InvalidArgument', 'etcdserver: invalid auth management'],
  authOldRevision: ['InvalidArgument', 'etcdserver: revision of auth store is old'],
};

export class AuthError extends Error {
  readonly grpcCode: GrpcCodeName;
  readonly grpcMessage: string;
  constructor(readonly code: AuthErrorCode) {
    const [grpcCode, text] = SPECS[code];
    super(text);
    this.name = 'AuthError';
    this.grpcCode = grpcCode;
    this.grpcMessage = text;
  }
}
