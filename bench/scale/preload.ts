import { performance } from 'node:perf_hooks';
import type { LoadTarget } from '../../loadgen/load-target.js';

export interface Preload {
  readonly seconds: number;
  /** Writes that failed and were retried (every key is written in the end). */
  readonly errors: number;
}

/**
 * Writes `key-0 … key-(keys-1)` once each (the names the load generator picks), `writers`
 * at a time; a failed write is retried, so the data set is whole when this resolves.
 */
export async function preload(
  target: LoadTarget,
  keys: number,
  valueSize: number,
  writers: number,
  onProgress: (written: number) => void,
): Promise<Preload> {
  const value = Buffer.alloc(valueSize, 'p');
  const started = performance.now();
  let next = 0;
  let written = 0;
  let errors = 0;
  const progress = setInterval(() => onProgress(written), 5_000);
  const writer = async (): Promise<void> => {
    while (next < keys) {
      const key = `key-${next++}`;
      for (;;) {
        try {
          await target.put(key, value);
          written++;
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
