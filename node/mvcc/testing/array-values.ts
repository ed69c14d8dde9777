// A ValueStore with numeric references, like the file value log (node/storage/value-log.ts), for
// pure tests of defragment: values sit in an array, and dropping the old part forgets them, so
// a reference defragment failed to move fails loudly on its next read.
import type { ValueRef, ValueStore } from '../value-store.js';

export class ArrayValues implements ValueStore {
  private slots: Array<Uint8Array | undefined> = [];
  private bytes = 0;
  /** References below this are old while a defragment runs; -1 when none runs. */
  private cut = -1;

  append(b: Uint8Array): ValueRef {
    this.slots.push(Buffer.from(b));
    this.bytes += b.length;
    return this.slots.length - 1;
  }

  read(ref: ValueRef, len: number): Uint8Array {
    const v = typeof ref === 'number' ? this.slots[ref] : undefined;
    if (v === undefined || v.length !== len) throw new Error(`array-values: no value of ${len} bytes at ${String(ref)}`);
    return v;
  }

  isOld(ref: ValueRef): boolean {
    return typeof ref === 'number' && ref < this.cut;
  }

  totalBytes(): number {
    return this.bytes;
  }

  beginDefrag(): void {
    this.cut = this.slots.length;
  }

  /** Forgets everything before the cut. */
  endDefrag(): void {
    for (let i = 0; i < this.cut; i++) {
      this.bytes -= this.slots[i]?.length ?? 0;
      this.slots[i] = undefined;
    }
    this.cut = -1;
  }
}
