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

/** Storage in virtual time over a SimDisk; a crash (kill) hands the volatile writes to the disk's fate. */
export class SimStorage extends ComponentDefinition {
  readonly storage = this.provides(Storage);
  private flushing: FutureEvent | null = null;

  constructor(
    context: ComponentContext,
    private readonly init: SimStorageInit,
  ) {
    super(context);
    this.subscribe(this.storage, 'Load', (_request, origin) => {
      this.answer(origin, { kind: 'Loaded', image: init.disk.load() });
    });
    const write = (request: Parameters<SimDisk['write']>[0]): void => {
      init.disk.write(request);
      this.flushing ??= init.clock.after(init.random.int(init.flushMs[0], init.flushMs[1]), () =>
        this.flush(),
      );
    };
    for (const kind of STORAGE_WRITE_KINDS) {
      this.subscribe(this.storage, kind, write);
    }
  }

  private flush(): void {
    this.flushing = null;
    const seq = this.init.disk.flush();
    if (seq === undefined || this.lifecycle === 'destroyed') return;
    this.init.clock.traceLine(`flush ${seq}`);
    this.trigger({ kind: 'Durable', seq }, this.storage);
  }

  protected override onKill(): void {
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
