// spec.auth: the operator's etcd user, read from its Secret on each pass (a changed password is
// picked up by the next pass; the member-API factory keys its clients on it). A missing Secret or
// key is a problem the user must fix (Degraded + Event); the pass goes on without credentials,
// which is all a cluster whose auth is still off needs.
import type { EtcdCluster } from '../api/types.js';
import type { SpecProblem } from '../api/validate.js';
import type { GatewayCredentials } from '../members/gateway-member-api.js';
import type { KubeApi } from './kube-api.js';

/** kubernetes.io/basic-auth's keys. */
export const AUTH_USERNAME_KEY = 'username';
export const AUTH_PASSWORD_KEY = 'password';

export async function operatorCredentials(kube: KubeApi, cluster: EtcdCluster): Promise<{ credentials: GatewayCredentials | null; problem: SpecProblem | null }> {
  const secretName = cluster.spec.auth?.secretName;
  if (secretName === undefined) return { credentials: null, problem: null };
  const field = 'spec.auth.secretName';
  const data = await kube.getSecret(cluster.metadata.namespace, secretName);
  if (data === null) {
    return { credentials: null, problem: { field, reason: 'AuthSecretNotFound', message: `Secret "${secretName}" does not exist; create it with the keys ${AUTH_USERNAME_KEY} and ${AUTH_PASSWORD_KEY} of the operator's etcd user` } };
  }
  const username = data[AUTH_USERNAME_KEY]?.toString('utf8') ?? '';
  const password = data[AUTH_PASSWORD_KEY]?.toString('utf8') ?? '';
  const missing = [username === '' ? AUTH_USERNAME_KEY : null, password === '' ? AUTH_PASSWORD_KEY : null].filter((k) => k !== null);
  if (missing.length > 0) {
    return { credentials: null, problem: { field, reason: 'AuthSecretInvalid', message: `Secret "${secretName}" has no (or an empty) ${missing.join(' and ')}` } };
  }
  return { credentials: { username, password }, problem: null };
}

/** Degraded=AuthFailed: the members refused the operator (observe.ts saw it). */
export function authRefusedProblem(cluster: EtcdCluster, authError: string): SpecProblem {
  const secretName = cluster.spec.auth?.secretName;
  return secretName === undefined
    ? {
        field: 'spec.auth',
        reason: 'AuthFailed',
        message: `the members refuse the operator (${authError}): the cluster's auth is on; set spec.auth.secretName to a Secret with the ${AUTH_USERNAME_KEY} and ${AUTH_PASSWORD_KEY} of a user with the root role`,
      }
    : {
        field: 'spec.auth.secretName',
        reason: 'AuthFailed',
        message: `the members refuse the operator's user from Secret "${secretName}" (${authError}); check its password and that it has the root role`,
      };
}
