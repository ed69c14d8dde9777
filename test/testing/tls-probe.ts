// What a TLS port presents to a new connection: the serial of its certificate (tests that rotate
// certificates check which one a server uses). The client presents a certificate (mutual TLS); the
// server's chain and name are not checked (the caller only reads the serial).
import tls from 'node:tls';

export interface ProbeClient {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
}

export function servedSerial(host: string, port: number, client: ProbeClient): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false, cert: client.cert, key: client.key, ALPNProtocols: ['http/1.1'] });
    s.setTimeout(5000, () => s.destroy(new Error('no handshake')));
    s.once('secureConnect', () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.once('error', reject);
  });
}

/** Whether a new connection to every member's client port (2379) and peer port (2380) presents these serials. */
export async function membersServe(ips: readonly string[], client: ProbeClient, serials: { client: string; peer: string }): Promise<boolean> {
  for (const ip of ips) {
    if ((await servedSerial(ip, 2379, client)) !== serials.client) return false;
    if ((await servedSerial(ip, 2380, client)) !== serials.peer) return false;
  }
  return true;
}

/**
 * A TLS handshake without a client certificate, then one byte: 'answered' when the server replies,
 * else the error that ended it ('closed' when none), e.g. a mutual-TLS port's "certificate required".
 */
export function anonymousHandshake(host: string, port: number): Promise<string> {
  return new Promise<string>((resolve) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false });
    let err = '';
    s.on('secureConnect', () => s.write('x'));
    s.on('data', () => resolve('answered'));
    s.on('error', (e) => (err = e.message));
    s.on('close', () => resolve(err || 'closed'));
  });
}
