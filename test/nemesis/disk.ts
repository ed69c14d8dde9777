// Real disk faults for the nemesis suite: a member's data dir on its own small tmpfs, which a
// filler file can fill to the last page, so the member's next write gets a real ENOSPC from the
// kernel. The mount is on the host (a mount made inside `ip netns exec` lives in that command's
// own mount namespace and goes when the member exits; the data must outlive restarts). Only what
// this module mounted is unmounted.
//
// EIO: device-mapper's `error` and `flakey` targets would give a real one, but this machine's
// kernel has no device-mapper (no /dev/mapper/control; dmsetup: "Failure to communicate with
// kernel device-mapper driver"), so EIO stays with the simulator's MemoryFs faults.

import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const FILLER = 'nemesis-filler';

export class SmallDisk {
  private mounted = false;

  constructor(readonly path: string, readonly sizeMb: number) {}

  async mount(): Promise<void> {
    mkdirSync(this.path, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', `size=${this.sizeMb}m,mode=0700`, `nemesis-${this.sizeMb}m`, this.path]);
    this.mounted = true;
  }

  /** Bytes still free for the member. */
  free(): number {
    const s = statfsSync(this.path);
    return s.bavail * s.bsize;
  }

  /** Fills the disk to its last page: the member's next write that needs a page gets ENOSPC. */
  fill(): void {
    const chunk = Buffer.alloc(1 << 20);
    const path = join(this.path, FILLER);
    writeFileSync(path, '');
    // Bounded: the disk holds sizeMb chunks at most.
    for (let i = 0; i <= this.sizeMb + 1; i++) {
      const left = this.free();
      if (left === 0) return;
      try {
        writeFileSync(path, chunk.subarray(0, Math.min(chunk.length, left)), { flag: 'a' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw e;
      }
    }
  }

  /** Frees what fill() took. */
  unfill(): void {
    rmSync(join(this.path, FILLER), { force: true });
  }

  /** Empties the disk (the mount point itself stays). */
  wipe(): void {
    for (const f of readdirSync(this.path)) rmSync(join(this.path, f), { recursive: true, force: true });
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    await run('umount', ['-l', this.path]).catch(() => undefined);
    this.mounted = false;
  }
}
