// Certificate files that change under a running member. A Kubernetes Secret volume swaps a `..data`
// symlink when the Secret changes; cert-manager and the operator rotate leaf certificates long
// before they expire. etcd re-reads its files on every handshake; we poll the contents every
// intervalMs (bounded: three small reads), which follows any symlink swap and needs no inotify.
//
// A change is adopted only if the new set parses and the key matches the certificate
// (tls.createSecureContext checks both); otherwise the last good set stays in use, and the
// failure is logged and counted. Nothing here stops serving. Subscribers (the client and peer
// listeners, the peer dialer) get the new set and build their new secure context from it;
// connections already open keep the context they were made with.

import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from '../log.js';
import type { TlsReloadMetrics } from './metrics.js';

export interface TlsFilePaths {
  readonly certFile: string;
  readonly keyFile: string;
  /** '' when no CA is configured. */
  readonly trustedCaFile: string;
}

/** The contents of one consistent set of files. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

/** Where a listener or dialer gets its current material and hears of new material. */
export interface TlsSource {
  current(): TlsMaterial;
  subscribe(fn: (m: TlsMaterial) => void): () => void;
}

export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 1000;

/** Throws if the material cannot serve: unparsable PEM, or a key that is not the certificate's. */
export function checkTlsMaterial(m: TlsMaterial): void {
  tls.createSecureContext({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) });
}

/** The serial number (hex, upper case) of the first certificate in a PEM bundle; for logs. */
export function certSerial(pem: Buffer): string {
  return new X509Certificate(pem).serialNumber;
}

async function readMaterial(p: TlsFilePaths): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    readFile(p.certFile),
    readFile(p.keyFile),
    p.trustedCaFile !== '' ? readFile(p.trustedCaFile) : Promise.resolve(undefined),
  ]);
  return ca ? { cert, key, ca } : { cert, key };
}

function same(a: TlsMaterial, b: TlsMaterial): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca));
}

export interface TlsFileReloaderOptions {
  /** 'client' or 'peer': the metric label and log field. */
  readonly name: string;
  readonly files: TlsFilePaths;
  readonly logger: Logger;
  readonly metrics?: TlsReloadMetrics;
  readonly intervalMs?: number;
}

export class TlsFileReloader implements TlsSource {
  private material: TlsMaterial;
  /** The last set that failed the check, so a bad file is reported once, not every poll. */
  private rejected: TlsMaterial | undefined;
  private readonly subscribers = new Set<(m: TlsMaterial) => void>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  private constructor(private readonly opts: TlsFileReloaderOptions, first: TlsMaterial) {
    this.material = first;
    this.observe(first);
  }

  /** Reads and checks the files once; a bad set at start is an error (the member cannot serve). */
  static async open(opts: TlsFileReloaderOptions): Promise<TlsFileReloader> {
    const first = await readMaterial(opts.files);
    checkTlsMaterial(first);
    return new TlsFileReloader(opts, first);
  }

  current(): TlsMaterial {
    return this.material;
  }

  /** Polling runs while someone listens: the first subscriber starts it, the last one leaving stops it. */
  subscribe(fn: (m: TlsMaterial) => void): () => void {
    this.subscribers.add(fn);
    this.start();
    return () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0) this.stop();
    };
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs ?? DEFAULT_TLS_RELOAD_INTERVAL_MS);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the files; adopts them if they changed and pass the check. Returns whether they were adopted. */
  async check(): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    const log = this.opts.logger;
    try {
      let next: TlsMaterial;
      try {
        next = await readMaterial(this.opts.files);
      } catch (err) {
        // Mid-swap a file may be missing for a moment; the next poll sees the finished state.
        this.fail(undefined, err);
        return false;
      }
      if (same(next, this.material)) return false;
      if (this.rejected && same(next, this.rejected)) return false;
      try {
        checkTlsMaterial(next);
      } catch (err) {
        this.fail(next, err);
        return false;
      }
      this.rejected = undefined;
      this.material = next;
      this.observe(next);
      this.opts.metrics?.reloads.inc({ name: this.opts.name, result: 'success' });
      log.info('reloaded TLS certificate files; new connections use them', { name: this.opts.name, serial: safeSerial(next.cert) });
      for (const fn of this.subscribers) fn(next);
      return true;
    } finally {
      this.checking = false;
    }
  }

  private fail(bad: TlsMaterial | undefined, err: unknown): void {
    this.rejected = bad;
    this.opts.metrics?.reloads.inc({ name: this.opts.name, result: 'failure' });
    this.opts.logger.error('cannot reload TLS certificate files; keeping the previous ones', {
      name: this.opts.name,
      certFile: this.opts.files.certFile,
      err,
    });
  }

  private observe(m: TlsMaterial): void {
    try {
      const x = new X509Certificate(m.cert);
      this.opts.metrics?.notAfter.set({ name: this.opts.name }, Date.parse(x.validTo) / 1000);
    } catch {
      // checkTlsMaterial accepted it, so node parsed it; X509Certificate only reads the first one.
    }
  }
}

function safeSerial(pem: Buffer): string {
  try {
    return certSerial(pem);
  } catch {
    return '';
  }
}
