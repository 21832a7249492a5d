import { createHash, type Hash } from 'node:crypto';

/**
 * The record of everything that happened in a simulation, hashed as it goes, so two runs can
 * be compared byte for byte without keeping the whole trace. The last lines are kept to show
 * what led up to a failure.
 */
export class Trace {
  private readonly hash: Hash = createHash('sha256');
  private readonly tail: string[] = [];
  private tailStart = 0;
  lines = 0;

  constructor(private readonly keepLast = 200) {}

  record(line: string): void {
    this.hash.update(line);
    this.hash.update('\n');
    this.lines++;
    if (this.keepLast === 0) return;
    if (this.tail.length < this.keepLast) this.tail.push(line);
    else {
      this.tail[this.tailStart] = line;
      this.tailStart = (this.tailStart + 1) % this.keepLast;
    }
  }

  /** The hash of the trace so far (the trace can still grow afterwards). */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  lastLines(): string[] {
    return [...this.tail.slice(this.tailStart), ...this.tail.slice(0, this.tailStart)];
  }
}
