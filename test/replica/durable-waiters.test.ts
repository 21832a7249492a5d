import { AssertionError } from 'node:assert/strict';
import { describe, expect, it } from 'vitest';
import { DurableWaiters } from '../../replica/durable-waiters.js';

/** Waiters that record their label when they run. */
function recording(): { waiters: DurableWaiters; ran: number[]; add: (seq: number) => void } {
  const waiters = new DurableWaiters();
  const ran: number[] = [];
  return { waiters, ran, add: (seq) => waiters.after(seq, () => ran.push(seq)) };
}

describe('DurableWaiters', () => {
  it('release runs the waiters up to seq, in order, each once', () => {
    const { waiters, ran, add } = recording();
    for (const seq of [1, 2, 2, 4, 7]) add(seq);
    waiters.release(0);
    expect(ran).toEqual([]);
    waiters.release(2);
    expect(ran).toEqual([1, 2, 2]);
    waiters.release(2);
    waiters.release(3);
    expect(ran).toEqual([1, 2, 2]);
    waiters.release(6);
    expect(ran).toEqual([1, 2, 2, 4]);
    waiters.release(100);
    waiters.release(100);
    expect(ran).toEqual([1, 2, 2, 4, 7]);
  });

  it('refuses a waiter below the last one queued', () => {
    const { waiters, add } = recording();
    add(5);
    expect(() => add(4)).toThrow(AssertionError);
    add(5);
    waiters.release(5);
    add(1); // nothing queued any more: a lower seq is fine
  });

  it('runs thousands of waiters exactly once in order across compactions', () => {
    const { waiters, ran, add } = recording();
    for (let seq = 1; seq <= 3000; seq++) add(seq);
    for (let upTo = 0; upTo <= 2000; upTo += 37) {
      waiters.release(upTo);
      expect(ran.length).toBe(upTo);
    }
    for (let seq = 3001; seq <= 6000; seq++) add(seq);
    expect(() => add(2999)).toThrow(AssertionError);
    for (let upTo = 2000; upTo <= 6000; upTo += 501) waiters.release(upTo);
    waiters.release(6000);
    expect(ran).toEqual(Array.from({ length: 6000 }, (_, i) => i + 1));
  });

  it('a running waiter may queue another', () => {
    const { waiters, ran, add } = recording();
    add(1);
    waiters.after(3, () => {
      ran.push(3);
      add(3); // already durable: runs in this release
      add(5); // runs later
    });
    waiters.release(3);
    expect(ran).toEqual([1, 3, 3]);
    waiters.release(4);
    expect(ran).toEqual([1, 3, 3]);
    waiters.release(5);
    expect(ran).toEqual([1, 3, 3, 5]);
  });
});
