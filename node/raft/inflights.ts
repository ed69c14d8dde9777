// The append messages in flight to one follower, bounded in count and in bytes.
// A ring buffer of (last index, bytes) pairs; freed in order as acknowledgements arrive.
export class Inflights {
  private start = 0;
  private count = 0;
  private bytes = 0;
  private indexes: number[] = [];
  private sizes: number[] = [];
  readonly maxCount: number;
  /** 0 means no byte limit. */
  readonly maxBytes: number;

  constructor(maxCount: number, maxBytes: number) {
    if (maxCount <= 0) throw new RangeError(`maxInflightMsgs must be positive, got ${maxCount}`);
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
  }

  /** Records a message whose last entry is index, carrying bytes of entries. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new Error('raft: cannot add into a full inflights');
    let next = this.start + this.count;
    if (next >= this.maxCount) next -= this.maxCount;
    if (next >= this.indexes.length) {
      // Grow lazily up to maxCount, so idle followers cost little memory.
      this.indexes.push(index);
      this.sizes.push(bytes);
    } else {
      this.indexes[next] = index;
      this.sizes[next] = bytes;
    }
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= to. */
  freeLE(to: number): void {
    if (this.count === 0 || to < (this.indexes[this.start] as number)) return;
    let idx = this.start;
    let i = 0;
    let freedBytes = 0;
    for (; i < this.count; i++) {
      if (to < (this.indexes[idx] as number)) break;
      freedBytes += this.sizes[idx] as number;
      idx++;
      if (idx >= this.maxCount) idx -= this.maxCount;
    }
    this.count -= i;
    this.bytes -= freedBytes;
    this.start = idx;
    if (this.count === 0) this.start = 0;
  }

  full(): boolean {
    return this.count === this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  countMsgs(): number {
    return this.count;
  }

  countBytes(): number {
    return this.bytes;
  }

  reset(): void {
    this.count = 0;
    this.start = 0;
    this.bytes = 0;
  }
}
