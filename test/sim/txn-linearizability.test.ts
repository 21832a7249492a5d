import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KvOutcome, KvTxn } from '../../kv/kv-operation.js';
import type { Zxid } from '../../kv/zxid.js';
import { MemoryStateStore } from '../../state/memory-state-store.js';
import { RANDOM_WORKLOAD, RandomScenario } from '../../sim/zab-workload.js';

// Issue 12: transactions and listing pages are part of the checked history of the random-fault
// workload, so a replica that applies a transaction only in part, or lists keys wrongly, is
// caught by the linearizability check.

afterEach(() => {
  vi.restoreAllMocks();
});

describe('transactions and listing in the random-fault workload', () => {
  it('are recorded with their results (both branches taken, pages listing keys), and the history checks', () => {
    const scenario = new RandomScenario(7, 3, RANDOM_WORKLOAD);
    expect(scenario.run().verdict).toBe('ok');
    const txns = scenario.cluster.history.filter((op) => op.input.op === 'txn');
    const answered = txns.flatMap((op) =>
      op.output !== undefined && 'txn' in op.output ? [op.output.txn] : [],
    );
    expect(txns.length).toBeGreaterThan(5);
    expect(answered.some((result) => result.succeeded)).toBe(true);
    expect(answered.some((result) => !result.succeeded)).toBe(true);
    const pages = scenario.cluster.history.flatMap((op) =>
      op.output !== undefined && 'range' in op.output ? [op.output.range] : [],
    );
    expect(pages.some((page) => page.items.length > 0)).toBe(true);
  });

  it('catches replicas that leave out the last put of a transaction but answer as if they ran it', () => {
    const applyTxn = MemoryStateStore.prototype.applyTxn;
    const withoutLastPut = (ops: KvTxn['success']) => {
      const last = ops.findLastIndex((op) => op.op === 'put');
      return { last, ops: ops.filter((_, i) => i !== last) };
    };
    // Every replica does the same, so replicas still agree: only the history can tell.
    vi.spyOn(MemoryStateStore.prototype, 'applyTxn').mockImplementation(function (
      this: MemoryStateStore,
      zxid: Zxid,
      txn: KvTxn,
    ): KvOutcome {
      const success = withoutLastPut(txn.success);
      const failure = withoutLastPut(txn.failure);
      const outcome = applyTxn.call(this, zxid, {
        ...txn,
        success: success.ops,
        failure: failure.ops,
      });
      if (outcome.status !== 200 || outcome.txn === undefined) return outcome;
      const { last } = outcome.txn.succeeded ? success : failure;
      const ran = outcome.txn.succeeded ? txn.success : txn.failure;
      if (last < 0) return outcome;
      const results = [...outcome.txn.results];
      results.splice(last, 0, { op: 'put', key: ran[last]!.key, version: zxid });
      return { ...outcome, txn: { ...outcome.txn, results } };
    });
    const verdicts = [1, 2, 3, 4, 5].map(
      (seed) => new RandomScenario(seed, 3, RANDOM_WORKLOAD).run().verdict,
    );
    expect(verdicts).toContain('illegal');
  });

  it('catches replicas whose listing pages leave out the first key', () => {
    const range = MemoryStateStore.prototype.range;
    vi.spyOn(MemoryStateStore.prototype, 'range').mockImplementation(function (
      this: MemoryStateStore,
      ...args: Parameters<MemoryStateStore['range']>
    ) {
      return range.apply(this, args).slice(1);
    });
    const verdicts = [1, 2, 3, 4, 5].map(
      (seed) => new RandomScenario(seed, 3, RANDOM_WORKLOAD).run().verdict,
    );
    expect(verdicts).toContain('illegal');
  });
});
