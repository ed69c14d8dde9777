// The certificates of mode operator, in act: reading what the Secrets hold (node:crypto's
// X509Certificate parses and verifies), and signing new ones. node:crypto cannot build a certificate,
// so signing uses @peculiar/x509 over node's webcrypto: ECDSA P-256 keys (generated natively, in
// milliseconds), SHA-256 signatures, standard extensions. What to issue was decided by
// plan/tls.ts (pure); this file only carries it out.
import { X509Certificate, randomBytes, webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its providers with tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { CertRequest, CertRole, ObservedCert } from '../plan/tls.js';

const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
/** Tolerance for clocks a little behind the operator's (the lifetime counts from here). */
const BACKDATE_MS = 30_000;

export interface PemPair {
  cert: string;
  key: string;
}

/** "DNS:a, IP Address:127.0.0.1" (node's text) -> ["DNS:a", "IP:127.0.0.1"]. */
function sansOf(c: X509Certificate): string[] {
  const text = c.subjectAltName;
  if (!text) return [];
  return text.split(', ').map((s) => s.replace(/^IP Address:/, 'IP:'));
}

/** What one Secret's tls.crt says; null when the Secret or a parsable certificate is missing. */
export function observeCert(secret: Record<string, Buffer> | null, ca: X509Certificate | null, role: CertRole): ObservedCert | null {
  const pem = secret?.['tls.crt'];
  if (!pem || !secret?.['tls.key']) return null;
  let c: X509Certificate;
  try {
    c = new X509Certificate(pem);
  } catch {
    return null;
  }
  const signedByCa = role === 'ca' ? c.ca : ca !== null && c.checkIssued(ca) && c.verify(ca.publicKey);
  return { notBeforeMs: Date.parse(c.validFrom), notAfterMs: Date.parse(c.validTo), sans: sansOf(c), subject: c.subject.split('\n').join(','), signedByCa };
}

export function caCertOf(secret: Record<string, Buffer> | null): X509Certificate | null {
  const pem = secret?.['tls.crt'];
  if (!pem) return null;
  try {
    return new X509Certificate(pem);
  } catch {
    return null;
  }
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): ArrayBuffer {
  const b64 = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

function dn(req: Pick<CertRequest, 'commonName' | 'organization'>): string {
  // RFC 4514: escape what a name may carry.
  const esc = (v: string): string => v.replace(/([,+"\\<>;=])/g, '\\$1');
  return req.commonName !== '' ? `CN=${esc(req.commonName)}` : `O=${esc(req.organization ?? '')}`;
}

/** Signs the certificate of a request: self-signed for the CA, else with the CA's key. */
export async function issue(req: CertRequest, ca: PemPair | null, nowMs: number): Promise<PemPair> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const notBefore = new Date(nowMs - BACKDATE_MS);
  const notAfter = new Date(nowMs - BACKDATE_MS + req.lifetimeMs);
  let cert: x509.X509Certificate;
  if (req.role === 'ca') {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: dn(req),
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
  } else {
    if (ca === null) throw new Error(`cannot issue ${req.secretName}: no CA`);
    const caCert = new x509.X509Certificate(ca.cert);
    const caKey = await crypto.subtle.importKey('pkcs8', fromPem(ca.key), EC, false, ['sign']);
    const names = req.sans.map((s) =>
      s.startsWith('IP:') ? { type: 'ip' as const, value: s.slice(3) } : s.startsWith('URI:') ? { type: 'url' as const, value: s.slice(4) } : { type: 'dns' as const, value: s.slice(4) },
    );
    const usages = req.server ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth];
    cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: dn(req),
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension(usages),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
  }
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem') + '\n', key: toPem(pkcs8, 'PRIVATE KEY') };
}
