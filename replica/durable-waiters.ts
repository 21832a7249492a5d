import assert from 'node:assert/strict';

/**
 * Continuations waiting for storage writes to become durable, in write order. Durability is
 * prefix-closed (components/storage/storage-port.ts), so `release(seq)` runs every waiter up
 * to `seq`. Each owner keeps its own queue: a role's continuations live in the role's queue
 * and are dropped with the role, so none ever runs for a role that has ended.
 */
export class DurableWaiters {
  private readonly waiters: { readonly seq: number; readonly then: () => void }[] = [];
  private head = 0;

  after(seq: number, then: () => void): void {
    if (this.waiters.length > this.head) {
      const last = this.waiters[this.waiters.length - 1]!.seq;
      assert(seq >= last, `durable waiters out of order: ${seq} after ${last}`);
    }
    this.waiters.push({ seq, then });
  }

  release(seq: number): void {
    while (this.head < this.waiters.length && this.waiters[this.head]!.seq <= seq) {
      this.waiters[this.head++]!.then();
    }
    // Drop the consumed prefix now and then, not on every release (shift is O(n)).
    if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
  }
}
