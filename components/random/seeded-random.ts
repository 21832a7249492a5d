import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

type RandomGenerator = ReturnType<typeof xoroshiro128plus>;

/**
 * The only source of randomness protocol code may use. Seeded, so a simulation replays
 * exactly; `fork` derives an independent stream (per node, per link) from a label, so adding
 * draws in one place does not shift the draws everywhere else.
 */
export class SeededRandom {
  private readonly generator: RandomGenerator;

  constructor(readonly seed: number) {
    this.generator = xoroshiro128plus(seed);
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return uniformInt(this.generator, min, max);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return uniformFloat64(this.generator);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  fork(label: string): SeededRandom {
    let hash = this.seed | 0;
    for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x9e3779b1);
    return new SeededRandom((hash ^ (hash >>> 15)) | 0);
  }
}
