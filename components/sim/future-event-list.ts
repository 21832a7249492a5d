import TinyQueue from 'tinyqueue';

/** A timed action in the simulation. Ties in time are broken by creation order. */
export interface FutureEvent {
  readonly time: number;
  readonly seq: number;
  readonly action: () => void;
  cancelled: boolean;
}

/** The simulator's agenda: a priority queue ordered by (time, sequence). */
export class FutureEventList {
  private readonly queue = new TinyQueue<FutureEvent>(
    [],
    (a, b) => a.time - b.time || a.seq - b.seq,
  );
  private seq = 0;

  add(time: number, action: () => void): FutureEvent {
    const event: FutureEvent = { time, seq: this.seq++, action, cancelled: false };
    this.queue.push(event);
    return event;
  }

  /** The next event not cancelled, without removing it. */
  peek(): FutureEvent | undefined {
    while (this.queue.length > 0 && this.queue.peek()!.cancelled) this.queue.pop();
    return this.queue.peek();
  }

  pop(): FutureEvent | undefined {
    const next = this.peek();
    if (next !== undefined) this.queue.pop();
    return next;
  }

  /** The sequence number the next added event will get. */
  get nextSeq(): number {
    return this.seq;
  }

  get size(): number {
    return this.queue.length;
  }
}
