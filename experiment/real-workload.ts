import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SeededRandom } from '../components/random/seeded-random.js';
import { keyHash, type KeyRange } from '../bootstrap/lookup-table.js';
import { Indeterminate, NotFound, Unavailable } from '../client/kv-errors.js';
import type { ZabkvClient } from '../client/zabkv-client.js';
import { KeyChooser } from '../loadgen/key-chooser.js';
import type { RecordedOperation } from '../sim/history-recorder.js';
import type { KvInput } from '../sim/linearizability/kv-model.js';
import type { OpRecord } from './run-result.js';

export interface WorkloadShape {
  readonly clients: number;
  readonly readRatio: number;
  readonly keys: number;
  readonly distribution: 'uniform' | 'zipf';
  readonly valueSize: number;
  /** Operations per second over all clients (open loop); absent: closed loop. */
  readonly rate?: number;
}

/**
 * Clients against real nodes that record every operation twice: as an OpRecord for the
 * report, and as a checker operation (unique values `c<client>-<seq>`, so a read names the
 * write it saw; a client whose operation ended unknown goes on under a new id).
 */
export class RealWorkload {
  readonly ops: OpRecord[] = [];
  readonly history: RecordedOperation[] = [];
  private nextClient = 1;
  private readonly random: SeededRandom;

  constructor(
    private readonly client: ZabkvClient,
    private readonly ranges: readonly KeyRange[],
    private readonly t0: number,
    seed: number,
  ) {
    this.random = new SeededRandom(seed);
  }

  /** Runs `shape` until `stop()` returns true. */
  async run(shape: WorkloadShape, stop: () => boolean): Promise<void> {
    const keys = new KeyChooser(
      shape.keys,
      shape.distribution,
      this.random.fork(`keys-${this.nextClient}`),
    );
    const padding = 'x'.repeat(Math.max(0, shape.valueSize - 16));
    const clients = Array.from({ length: shape.clients }, async (_, i) => {
      let client = this.nextClient++;
      let seq = 0;
      const interval = shape.rate === undefined ? 0 : (1000 * shape.clients) / shape.rate;
      let due = performance.now() + (interval * i) / shape.clients;
      while (!stop()) {
        if (interval > 0) {
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          due += interval;
        }
        const key = keys.next();
        const input: KvInput = this.random.chance(shape.readRatio)
          ? { op: 'get', key }
          : { op: 'put', key, value: `c${client}-${seq++}${padding}` };
        if ((await this.operate(client, input)) === 'unknown') client = this.nextClient++;
      }
    });
    await Promise.all(clients);
  }

  /** One operation, recorded; returns how it ended. */
  async operate(client: number, input: KvInput): Promise<OpRecord['outcome']> {
    const start = performance.now() - this.t0;
    const group = this.groupOf(input.key);
    const record = (outcome: OpRecord['outcome'], output?: RecordedOperation['output']) => {
      const end = outcome === 'unknown' ? Infinity : performance.now() - this.t0;
      this.ops.push({ group, start, end, outcome });
      if (outcome !== 'unavailable') {
        this.history.push({ client, input, calledAt: start, returnedAt: end, output });
      }
      return outcome;
    };
    try {
      if (input.op === 'get') {
        const { value, version } = await this.client.get(input.key);
        return record('ok', { status: 200, value: value.toString(), version: Number(version) });
      }
      if (input.op === 'put') {
        const version = await this.client.put(input.key, input.value);
        return record('ok', { status: 200, version: Number(version) });
      }
      await this.client.del(input.key);
      return record('ok', { status: 204 });
    } catch (error) {
      if (error instanceof NotFound) return record('ok', { status: 404 });
      if (error instanceof Indeterminate) return record('unknown');
      if (error instanceof Unavailable) return record('unavailable');
      // Anything else (507, an unexpected status) did not happen either.
      return record('unavailable');
    }
  }

  private groupOf(key: string): number {
    const hash = keyHash(key);
    return this.ranges.find((r) => hash >= r.start && hash < r.end)?.group ?? -1;
  }
}
