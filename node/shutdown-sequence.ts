import type { ReplicaStatus } from '../replica/replica-status-port.js';

/**
 * The host's last step before it kills its tree: stop the replica and wait until its parting
 * messages have left. The replica resigns in its kernel `onStop` (a leader sends Close to each
 * follower, so they elect at once rather than wait out syncLimit) and then reports role
 * 'starting'. That report reaches the host after the Close messages reached the network's
 * queue, so a Flush the host sends on it is queued behind them, and Flushed means they are
 * written. A replica without a session has nothing to send and is flushed at once.
 */
export class ShutdownSequence {
  private lastRole: ReplicaStatus['role'] | null = null;
  private awaitingStop = false;
  private done: (() => void) | null = null;

  constructor(private readonly requestFlush: () => void) {}

  /** Every ReplicaStatus the host hears. */
  replicaReported(status: ReplicaStatus): void {
    this.lastRole = status.role;
    if (this.awaitingStop && status.role === 'starting') {
      this.awaitingStop = false;
      this.requestFlush();
    }
  }

  /** The network answered the Flush. */
  flushed(): void {
    this.done?.();
    this.done = null;
  }

  /** Stops the replica, if there is one (`stop`), and resolves once its last words are written. */
  stopThenFlush(stop: (() => void) | null): Promise<void> {
    return new Promise((resolve) => {
      this.done = resolve;
      this.awaitingStop =
        stop !== null && (this.lastRole === 'leading' || this.lastRole === 'following');
      stop?.();
      if (!this.awaitingStop) this.requestFlush();
    });
  }
}

/**
 * Resolves when `promise` settles or after `ms`, whichever is first, never rejecting: true
 * when the promise came first.
 */
export async function within(ms: number, promise: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
