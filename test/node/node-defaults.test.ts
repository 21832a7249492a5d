import { describe, expect, it } from 'vitest';
import {
  FORWARDED_REQUEST_TIMEOUT_MS,
  MAX_REQUESTS_IN_FLIGHT_COUNT,
  ROUTED_REQUEST_TIMEOUT_MS,
} from '../../components/limits.js';
import { MAX_IN_FLIGHT, OVERLAY_TIMING, replicaTiming, ticksOf } from '../../node/node-defaults.js';
import { DEFAULT_REPLICA_TIMING } from '../../replica/replica-config.js';

describe('node defaults', () => {
  it('take request timeouts and the in-flight bound from limits.ts, in ticks', () => {
    expect(OVERLAY_TIMING.requestTimeoutTicks * OVERLAY_TIMING.tickMs).toBe(
      ROUTED_REQUEST_TIMEOUT_MS,
    );
    const replica = replicaTiming();
    expect(replica.requestTimeoutTicks * replica.tickMs).toBe(FORWARDED_REQUEST_TIMEOUT_MS);
    expect(MAX_IN_FLIGHT).toBe(MAX_REQUESTS_IN_FLIGHT_COUNT);
  });

  it("the replica's inner wait ends before the overlay's outer one", () => {
    const replica = replicaTiming();
    expect(replica.requestTimeoutTicks * replica.tickMs).toBeLessThan(
      OVERLAY_TIMING.requestTimeoutTicks * OVERLAY_TIMING.tickMs,
    );
  });

  it('converts with the tick the caller chose, and lets the caller override', () => {
    expect(replicaTiming({ tickMs: 50 }).requestTimeoutTicks).toBe(
      FORWARDED_REQUEST_TIMEOUT_MS / 50,
    );
    expect(replicaTiming({ requestTimeoutTicks: 7 }).requestTimeoutTicks).toBe(7);
    expect(replicaTiming().syncLimitTicks).toBe(DEFAULT_REPLICA_TIMING.syncLimitTicks);
  });

  it('rounds a timeout up to whole ticks, so it never ends early', () => {
    expect(ticksOf(1_000, 100)).toBe(10);
    expect(ticksOf(1_050, 100)).toBe(11);
  });
});
