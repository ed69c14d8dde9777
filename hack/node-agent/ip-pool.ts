// Pod addresses from the bridge's subnet. Test infrastructure for the local control plane.
// Hands out the next free address after the last one given, so a freed address is not
// reused at once (peers may still hold the old mapping for a moment).

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map((p) => Number(p));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export class IpPool {
  private readonly first: number;
  private readonly last: number;
  private readonly used = new Set<number>();
  private cursor: number;
  readonly gateway: string;
  readonly prefixLength: number;

  /** cidr is the bridge's address with prefix, e.g. 198.18.0.1/16; that address is the gateway. */
  constructor(cidr: string, reservedBelow = 256) {
    const [ip, len] = cidr.split('/');
    const prefix = Number(len);
    if (ip === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) throw new Error(`bad cidr ${cidr}`);
    const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
    const base = (ipToInt(ip) & mask) >>> 0;
    this.gateway = ip;
    this.prefixLength = prefix;
    this.first = base + Math.min(reservedBelow, 2 ** (32 - prefix) / 2);
    this.last = base + 2 ** (32 - prefix) - 2;
    this.cursor = this.first;
    this.used.add(ipToInt(ip));
  }

  allocate(): string {
    const size = this.last - this.first + 1;
    for (let i = 0; i < size; i++) {
      const candidate = this.first + ((this.cursor - this.first + i) % size);
      // Skip .0 and .255 so that no Pod address looks like a network or broadcast address.
      if (!this.used.has(candidate) && (candidate & 255) !== 0 && (candidate & 255) !== 255) {
        this.used.add(candidate);
        this.cursor = candidate + 1 > this.last ? this.first : candidate + 1;
        return intToIp(candidate);
      }
    }
    throw new Error('pod address pool exhausted');
  }

  /** Marks an address taken, e.g. one found on a Pod at agent start. */
  reserve(ip: string): void {
    this.used.add(ipToInt(ip));
  }

  release(ip: string): void {
    this.used.delete(ipToInt(ip));
  }
}
