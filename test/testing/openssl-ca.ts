// Test certificates made with Debian's openssl (no network), and a Secret-volume look-alike.
// - makeCa / issueLeaf: EC P-256 keys, known serial numbers (tests check which certificate a
//   server presents by its serial), SANs for loopback, serverAuth+clientAuth as etcd's docs use.
// - SecretVolume: writes files the way the kubelet updates a mounted Secret (its AtomicWriter):
//   a fresh `..<stamp>` folder, a `..data` symlink swapped with rename(2), and each file a
//   symlink through `..data`. A reader never sees half a set.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';
export const haveOpenssl = (): boolean => existsSync(OPENSSL);

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
}

function run(cwd: string, args: readonly string[]): void {
  execFileSync(OPENSSL, args, { cwd, stdio: 'pipe' });
}

/** A self-signed CA in dir/<name>.crt and dir/<name>.key. */
export function makeCa(dir: string, name: string): KeyPair {
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  run(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`]);
  return { certFile, keyFile };
}

export interface LeafOptions {
  readonly cn: string;
  /** The whole subject instead of /CN=cn ("/O=x": a certificate without a common name). */
  readonly subject?: string;
  /** Hex, without 0x; the serial the test looks for. */
  readonly serial: string;
  readonly sans?: readonly string[];
}

/** A leaf signed by ca, in dir/<name>.crt and dir/<name>.key. */
export function issueLeaf(ca: KeyPair, dir: string, name: string, o: LeafOptions): KeyPair {
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const sans = o.sans ?? ['IP:127.0.0.1', 'DNS:localhost'];
  writeFileSync(ext, `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  run(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', o.subject ?? `/CN=${o.cn}`]);
  run(dir, ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${o.serial}`, '-out', certFile, '-days', '1', '-extfile', ext]);
  return { certFile, keyFile };
}

/** A folder laid out like a mounted Secret; publish() swaps all files at once. */
export class SecretVolume {
  private generation = 0;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  path(key: string): string {
    return join(this.dir, key);
  }

  publish(files: Record<string, Buffer | string>): void {
    const stamp = `..gen_${++this.generation}`;
    const target = join(this.dir, stamp);
    mkdirSync(target);
    for (const [k, v] of Object.entries(files)) writeFileSync(join(target, k), v);
    const dataLink = join(this.dir, '..data');
    const old = existsSync(dataLink) ? readlinkSync(dataLink) : undefined;
    const tmp = join(this.dir, '..data_tmp');
    rmSync(tmp, { force: true });
    symlinkSync(stamp, tmp);
    renameSync(tmp, dataLink);
    for (const k of Object.keys(files)) {
      if (!existsSync(join(this.dir, k))) symlinkSync(join('..data', k), join(this.dir, k));
    }
    if (old) rmSync(join(this.dir, old), { recursive: true, force: true });
  }

  /** The files of a key pair and a CA bundle, under Secret keys tls.crt, tls.key, ca.crt. */
  publishPair(pair: KeyPair, caBundle: string): void {
    this.publish({ 'tls.crt': readFileSync(pair.certFile), 'tls.key': readFileSync(pair.keyFile), 'ca.crt': caBundle });
  }
}

/** The PEM text of several CA files, concatenated (a trust bundle). */
export function bundle(...cas: readonly KeyPair[]): string {
  return cas.map((c) => readFileSync(c.certFile, 'utf8')).join('');
}
