import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  commitFailureCause,
  isLmdbNoSpace,
  isNoSpace,
} from '../../components/storage/disk-store.js';

/** An error with `code`, as Node's fs (a name) or lmdb-js (errno's number) gives it. */
const coded = (code: string | number): Error => Object.assign(new Error('failed'), { code });

/** What lmdb-js rejects each write of a refused commit with: the cause is in `commitError`. */
function refusedCommit(commitError: Promise<never>): Error {
  return Object.assign(new Error('Commit failed (see commitError for details)'), { commitError });
}

function rejected(error: Error): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(() => {});
  return promise;
}

describe('isNoSpace', () => {
  it("takes lmdb's errno numbers as Node's code names: ENOSPC (28) and EDQUOT (122)", () => {
    for (const code of ['ENOSPC', 'EDQUOT', 28, 122]) expect(isNoSpace(coded(code))).toBe(true);
    for (const code of ['EIO', 5, 27, 'ENOENT']) expect(isNoSpace(coded(code))).toBe(false);
    expect(isNoSpace(new Error('No space left on device'))).toBe(false); // the code says, not the text
    expect(isNoSpace(null)).toBe(false);
  });
});

describe('isLmdbNoSpace', () => {
  it('counts the EIO of a short write as a full disk only while less than the transaction is free', () => {
    expect(isLmdbNoSpace(coded(5), 4096, 2 ** 20)).toBe(true);
    expect(isLmdbNoSpace(coded(5), 2 ** 30, 2 ** 20)).toBe(false);
    expect(isLmdbNoSpace(coded(28), 2 ** 30, 2 ** 20)).toBe(true);
    expect(isLmdbNoSpace(coded(27), 0, 2 ** 20)).toBe(false); // EFBIG: a limit, not the disk
  });
});

describe('commitFailureCause', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("is lmdb's cause, not the bare error each write of the refused commit gets", async () => {
    const cause = coded(28);
    expect(await commitFailureCause(refusedCommit(rejected(cause)))).toBe(cause);
  });

  it('is the error itself for any other', async () => {
    const error = new Error('no room for the applied state');
    expect(await commitFailureCause(error)).toBe(error);
    expect((await commitFailureCause('text')).message).toBe('text');
  });

  it('is the bare error where lmdb never rejects the cause, so the store still fails', async () => {
    vi.useFakeTimers();
    const failed = refusedCommit(new Promise<never>(() => {}));
    const cause = commitFailureCause(failed);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await cause).toBe(failed);
  });
});
