// The kubelet node's DNS answers, checked through a real resolver (Node's c-ares) over loopback UDP.
import { createSocket, type Socket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answer, parseHosts, parseQuestion } from './dns-answer.js';

const hosts = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost',
  '198.19.0.5\tmain-0.main.ns.svc.cluster.local main-0.main.ns.svc main-0.main.ns',
  '198.19.0.5\tmain-client.ns.svc.cluster.local main-client.ns.svc',
  '198.19.0.6\tmain-client.ns.svc.cluster.local main-client.ns.svc',
  '# a comment line',
].join('\n');

describe('cluster DNS answers from the hosts file', () => {
  let sock: Socket;
  const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
  beforeAll(async () => {
    const table = parseHosts(hosts);
    sock = createSocket('udp4');
    sock.on('message', (msg, from) => sock.send(answer(msg, table), from.port, from.address));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    resolver.setServers([`127.0.0.1:${sock.address().port}`]);
  });
  afterAll(() => sock.close());

  it('resolves a member name, case-insensitively and with a trailing dot', async () => {
    expect(await resolver.resolve4('main-0.main.ns.svc.cluster.local')).toEqual(['198.19.0.5']);
    expect(await resolver.resolve4('MAIN-0.main.ns.svc.')).toEqual(['198.19.0.5']);
  });

  it('returns every address of a Service name', async () => {
    expect((await resolver.resolve4('main-client.ns.svc')).sort()).toEqual(['198.19.0.5', '198.19.0.6']);
  });

  it('answers NXDOMAIN for an unknown name and no records for AAAA of a known one', async () => {
    await expect(resolver.resolve4('main-9.main.ns.svc')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve6('main-0.main.ns.svc')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('ignores IPv6 lines and comments', () => {
    expect(parseHosts(hosts).get('ip6-localhost')).toBeUndefined();
    expect([...parseHosts(hosts).keys()]).not.toContain('#');
  });

  it('answers FORMERR to a truncated packet instead of throwing', () => {
    const reply = answer(Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 5, 0x61]), parseHosts(hosts));
    expect(reply.readUInt16BE(0)).toBe(0x1234);
    expect(reply.readUInt16BE(2) & 0xf).toBe(1);
    expect(parseQuestion(Buffer.alloc(3))).toBeUndefined();
  });
});
