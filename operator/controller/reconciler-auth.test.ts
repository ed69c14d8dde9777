// spec.auth through the reconciler on the in-memory KubeApi and the member-API twin:
// - the operator's user comes from the Secret and reaches the member API;
// - a missing Secret, a Secret without a password, and members that refuse the operator (auth on
//   without spec.auth, a wrong password) are each a Degraded condition plus a Warning Event, and
//   no membership step is taken meanwhile.
import { describe, expect, it } from 'vitest';
import { MemberApiError } from '../members/member-api.js';
import { cond, setup } from './testing/reconciler-harness.js';

const secret = (username: string, password: string): Record<string, Buffer> => ({ username: Buffer.from(username), password: Buffer.from(password) });

describe('Reconciler: spec.auth (the operator user)', () => {
  it('reads the user from the Secret and passes it to the member API', async () => {
    const t = setup({ replicas: 3, auth: { secretName: 'op-user' } });
    t.kube.secrets.set('ns/op-user', secret('tsetcd-operator', 's3cret'));
    await t.settle();
    expect(t.credentialsSeen.at(-1)).toEqual({ username: 'tsetcd-operator', password: 's3cret' });
    expect(cond(t.kube.cluster('ns', 'e'), 'Available')).toMatchObject({ status: 'True' });
    expect(cond(t.kube.cluster('ns', 'e'), 'Degraded')).toMatchObject({ status: 'False' });
  });

  it('a missing Secret, then one without a password: Degraded with an Event each, nothing created until it is right', async () => {
    const t = setup({ replicas: 3, auth: { secretName: 'op-user' } });
    await t.pass();
    let c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'AuthSecretNotFound' });
    expect(cond(c, 'Degraded')?.message).toContain('Secret "op-user" does not exist');
    expect(t.kube.events.filter((e) => e.type === 'Warning' && e.reason === 'AuthSecretNotFound')).toHaveLength(1);
    expect(t.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();

    t.kube.secrets.set('ns/op-user', { username: Buffer.from('tsetcd-operator') });
    await t.pass();
    c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'AuthSecretInvalid' });
    expect(cond(c, 'Degraded')?.message).toContain('has no (or an empty) password');
    expect(t.kube.events.filter((e) => e.reason === 'AuthSecretInvalid')).toHaveLength(1);

    t.kube.secrets.set('ns/op-user', secret('tsetcd-operator', 's3cret'));
    await t.settle();
    expect(cond(t.kube.cluster('ns', 'e'), 'Available')).toMatchObject({ status: 'True' });
  });

  it('members that refuse the operator: Degraded=AuthFailed with an Event, and no membership step while they do', async () => {
    const t = setup({ replicas: 3 });
    await t.settle();
    // Someone ran `etcdctl auth enable`: Status is root-only now, MemberList still answers.
    t.twin.authRefusal = new MemberApiError('InvalidArgument', 'etcdserver: user name is empty');
    t.kube.editSpec('ns', 'e', (c) => (c.spec.replicas = 5));
    const callsBefore = t.twin.calls.length;
    await t.pass();
    await t.pass();
    let c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'AuthFailed' });
    expect(cond(c, 'Degraded')?.message).toContain('etcdserver: user name is empty');
    expect(cond(c, 'Degraded')?.message).toContain('set spec.auth.secretName');
    expect(t.kube.events.filter((e) => e.type === 'Warning' && e.reason === 'AuthFailed')).toHaveLength(1);
    expect(t.twin.calls.slice(callsBefore).filter((x) => !x.startsWith('list'))).toEqual([]);
    expect(t.twin.members).toHaveLength(3);

    // The user is given, but its password is wrong.
    t.kube.secrets.set('ns/op-user', secret('tsetcd-operator', 'wrong'));
    t.kube.editSpec('ns', 'e', (x) => (x.spec.auth = { secretName: 'op-user' }));
    t.twin.authRefusal = new MemberApiError('Unauthenticated', 'authenticating as "tsetcd-operator": etcdserver: authentication failed, invalid user ID or password');
    await t.pass();
    c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'AuthFailed' });
    expect(cond(c, 'Degraded')?.message).toContain('invalid user ID or password');
    expect(cond(c, 'Degraded')?.message).toContain('Secret "op-user"');
    expect(t.twin.members).toHaveLength(3);

    // The right password: the scale-up the spec asked for goes ahead.
    t.kube.secrets.set('ns/op-user', secret('tsetcd-operator', 's3cret'));
    t.twin.authRefusal = null;
    await t.settle();
    c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'False' });
    expect(t.twin.members.filter((m) => !m.isLearner)).toHaveLength(5);
  });
});
