import { performance } from 'node:perf_hooks';
import type { LoadTarget } from '../../loadgen/load-target.js';

export interface Preload {
  readonly seconds: number;
  /** Requests that failed and were retried (every key is written in the end). */
  readonly errors: number;
}

/** Keys per request where the target can write several at once (etcd's limit is 128). */
const BATCH = 100;

/**
 * Writes `key-0 … key-(keys-1)` once each (the names the load generator picks), `writers`
 * requests at a time, each of one key or, where the target has `putMany`, of BATCH keys; a
 * failed request is retried, so the data set is whole when this resolves.
 */
export async function preload(
  target: LoadTarget,
  keys: number,
  valueSize: number,
  writers: number,
  onProgress: (written: number) => void,
): Promise<Preload> {
  const value = Buffer.alloc(valueSize, 'p');
  const batch = target.putMany === undefined ? 1 : BATCH;
  const write = (names: string[]): Promise<void> =>
    names.length === 1 ? target.put(names[0]!, value) : target.putMany!(names, value);
  const started = performance.now();
  let next = 0;
  let written = 0;
  let errors = 0;
  const progress = setInterval(() => onProgress(written), 5_000);
  const writer = async (): Promise<void> => {
    while (next < keys) {
      const from = next;
      next = Math.min(keys, next + batch);
      const names = Array.from({ length: next - from }, (_, i) => `key-${from + i}`);
      for (;;) {
        try {
          await write(names);
          written += names.length;
          break;
        } catch {
          errors++;
          if (errors > keys) throw new Error(`preload: more failed writes than keys (${errors})`);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: writers }, writer));
  } finally {
    clearInterval(progress);
  }
  return { seconds: (performance.now() - started) / 1000, errors };
}
