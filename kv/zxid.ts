import assert from 'node:assert/strict';

/**
 * A zxid is epoch·2^32 + counter, kept as an ordinary number so it compares, hashes and
 * encodes cheaply. JavaScript's `<<` is 32-bit (`e << 32 === e`), so the arithmetic here is
 * multiplication and division only. Epochs stay below 2^21 so every zxid is a safe integer.
 */
export type Zxid = number;

const COUNTER_SPAN = 0x1_0000_0000;
/** The highest epoch whose zxids are all exact doubles (2^21 · 2^32 = 2^53). */
export const MAX_EPOCH = 0x1f_ffff;
/** ZooKeeper never uses the last counter value: reaching it forces a new epoch (ZOOKEEPER-1277). */
export const COUNTER_LIMIT = 0xffff_ffff;

export function makeZxid(epoch: number, counter: number): Zxid {
  if (!(Number.isInteger(epoch) && epoch >= 0 && epoch <= MAX_EPOCH))
    assert.fail(`bad epoch ${epoch}`);
  if (!(Number.isInteger(counter) && counter >= 0 && counter <= COUNTER_LIMIT))
    assert.fail(`bad counter`);
  return epoch * COUNTER_SPAN + counter;
}

export function epochOf(zxid: Zxid): number {
  return Math.floor(zxid / COUNTER_SPAN);
}

/** The greatest number any zxid of `epoch` can be: a bound for searches, valid epoch or not. */
export function epochBound(epoch: number): number {
  return (epoch + 1) * COUNTER_SPAN - 1;
}

export function counterOf(zxid: Zxid): number {
  return zxid % COUNTER_SPAN;
}

/** "e.c" in hex, as ZooKeeper prints zxids, for logs. */
export function formatZxid(zxid: Zxid): string {
  return `${epochOf(zxid).toString(16)}.${counterOf(zxid).toString(16)}`;
}

/**
 * Whether `next` may directly follow `previous` in a history: the next counter of the same
 * epoch, or the first counter of a later epoch. Gaps are rejected (docs/zab-rules.md R9;
 * ZOOKEEPER-4925).
 */
export function follows(previous: Zxid, next: Zxid): boolean {
  if (epochOf(next) === epochOf(previous)) return next === previous + 1;
  return epochOf(next) > epochOf(previous) && counterOf(next) === 1;
}
