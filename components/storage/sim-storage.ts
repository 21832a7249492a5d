import { ComponentDefinition, leaf, type ComponentContext, type Leaf } from '../kernel/index.js';
import type { SeededRandom } from '../random/seeded-random.js';
import type { SimClock } from '../sim/sim-clock.js';
import type { FutureEvent } from '../sim/future-event-list.js';
import type { SimDisk } from './sim-disk.js';
import { STORAGE_WRITE_KINDS, Storage } from './storage-port.js';

export interface SimStorageInit {
  readonly clock: SimClock;
  readonly disk: SimDisk;
  readonly random: SeededRandom;
  /** Flush latency range in virtual milliseconds (one fsync for all writes waiting). */
  readonly flushMs: readonly [number, number];
}

/**
 * Storage in virtual time over a SimDisk; a crash (kill) hands the volatile writes to the disk's
 * fate. A full disk fails the flush (WriteFailed) and writes are dropped until the next Load,
 * as the disk stores do; the disk's `low` flag is reported as SpaceLow.
 */
export class SimStorage extends ComponentDefinition {
  readonly storage = this.provides(Storage);
  private flushing: FutureEvent | null = null;
  private failed = false;

  constructor(
    context: ComponentContext,
    private readonly init: SimStorageInit,
  ) {
    super(context);
    this.subscribe(this.storage, 'Load', (_request, origin) => {
      this.failed = false;
      this.answer(origin, { kind: 'Loaded', image: init.disk.load() });
    });
    const write = (request: Parameters<SimDisk['write']>[0]): void => {
      if (this.failed) return;
      init.disk.write(request);
      this.flushing ??= init.clock.after(init.random.int(init.flushMs[0], init.flushMs[1]), () =>
        this.flush(),
      );
    };
    for (const kind of STORAGE_WRITE_KINDS) {
      this.subscribe(this.storage, kind, write);
    }
  }

  protected override onStart(): void {
    const report = (low: boolean): void => {
      if (this.lifecycle === 'destroyed') return;
      this.init.clock.traceLine(`space ${low ? 'low' : 'ok'}`);
      // The simulated disk is low or not: not low, it has room for anything.
      const freeBytes = low ? 0 : 2 ** 40;
      this.trigger({ kind: 'SpaceLow', low, roomy: !low, freeBytes }, this.storage);
    };
    this.init.disk.onSpaceChange = report;
    if (this.init.disk.low) report(true);
  }

  private flush(): void {
    this.flushing = null;
    if (this.init.disk.full) {
      const seq = this.init.disk.failFlush();
      if (seq === undefined || this.lifecycle === 'destroyed') return;
      this.failed = true;
      this.init.clock.traceLine(`flush failed ${seq}`);
      this.trigger({ kind: 'WriteFailed', seq, reason: 'disk full', noSpace: true }, this.storage);
      return;
    }
    const seq = this.init.disk.flush();
    if (seq === undefined || this.lifecycle === 'destroyed') return;
    this.init.clock.traceLine(`flush ${seq}`);
    this.trigger({ kind: 'Durable', seq }, this.storage);
  }

  protected override onKill(): void {
    this.init.disk.onSpaceChange = undefined;
    if (this.flushing !== null) this.flushing.cancelled = true;
    this.flushing = null;
    this.init.disk.crash();
  }
}

/** The storage leaf of a simulated node over `disk` (which outlives the node's crashes). */
export function simStorageLeaf(
  clock: SimClock,
  disk: SimDisk,
  random: SeededRandom,
  flushMs: readonly [number, number] = [1, 4],
): Leaf {
  return leaf(SimStorage, { clock, disk, random, flushMs });
}
