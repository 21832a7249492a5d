import type { SeededRandom } from '../components/random/seeded-random.js';

/** Picks keys `key-0 … key-(n-1)`, uniformly or Zipf-distributed (exponent s, hottest first). */
export class KeyChooser {
  private readonly cdf: Float64Array | null;

  constructor(
    private readonly space: number,
    distribution: 'uniform' | 'zipf',
    private readonly random: SeededRandom,
    exponent = 0.99,
  ) {
    if (distribution === 'uniform') {
      this.cdf = null;
      return;
    }
    this.cdf = new Float64Array(space);
    let sum = 0;
    for (let i = 0; i < space; i++) this.cdf[i] = sum += 1 / Math.pow(i + 1, exponent);
    for (let i = 0; i < space; i++) this.cdf[i]! /= sum;
  }

  next(): string {
    if (this.cdf === null) return `key-${this.random.int(0, this.space - 1)}`;
    const u = this.random.float();
    let low = 0;
    let high = this.space - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.cdf[middle]! < u) low = middle + 1;
      else high = middle;
    }
    return `key-${low}`;
  }
}
