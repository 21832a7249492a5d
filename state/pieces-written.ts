/**
 * How many pieces of a SNAP install a store has written. The store's writes report it as they
 * finish (a promise, any time); `publish`, from the store's `poll`, makes it seen, so the
 * replica sees it change only at its own protocol points, as every other store result.
 */
export class PiecesWritten {
  private reportedValue = 0;
  private seenValue = 0;

  get reported(): number {
    return this.reportedValue;
  }

  get seen(): number {
    return this.seenValue;
  }

  /** Writes are done in order, so a later piece written means every earlier one is. */
  report(pieces: number): void {
    this.reportedValue = Math.max(this.reportedValue, pieces);
  }

  publish(): void {
    this.seenValue = this.reportedValue;
  }
}
