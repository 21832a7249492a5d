import type { Zxid } from '../kv/zxid.js';

/**
 * Continuations waiting for the applied state to be on disk through a zxid (StateStore
 * `durableZxid`), in the order asked. Like DurableWaiters, each owner keeps its own, so none
 * runs for a role that has ended.
 */
export class StateWaiters {
  private waiters: { readonly zxid: Zxid; readonly then: () => void }[] = [];

  after(zxid: Zxid, then: () => void): void {
    this.waiters.push({ zxid, then });
  }

  release(durableZxid: Zxid): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter(({ zxid }) => zxid <= durableZxid);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter(({ zxid }) => zxid > durableZxid);
    for (const { then } of ready) then();
  }
}
