import type { Logger } from 'pino';
import { MAX_PEER_LOG_REASON_LENGTH } from '../limits.js';

/**
 * Log lines for things a remote party can cause at will (bad frames, failed handshakes,
 * replaced connections): at most one per kind per interval at the level asked for, carrying
 * how many were suppressed since the last one, so a flood of bad connections cannot fill the
 * disk that holds the log. The rest go to debug. Kinds are fixed strings, never taken from
 * input, so the table stays small.
 */
export class WarnLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    this.emit('warn', kind, fields, message);
  }

  /** For events that are normal one at a time (a peer redialled) but not by the thousand. */
  info(kind: string, fields: Record<string, unknown>, message: string): void {
    this.emit('info', kind, fields, message);
  }

  private emit(
    level: 'warn' | 'info',
    kind: string,
    fields: Record<string, unknown>,
    message: string,
  ): void {
    const now = this.now();
    const last = this.last.get(kind);
    if (last !== undefined && now - last.at < this.intervalMs) {
      last.suppressed++;
      this.log.debug(fields, message);
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.last.set(kind, { at: now, suppressed: 0 });
    this.log[level](suppressed > 0 ? { ...fields, suppressed } : fields, message);
  }
}

/**
 * `reason` cut to MAX_PEER_LOG_REASON_LENGTH characters, saying how long it was: reasons built
 * from peer input (a validation error's path is the sender's own property names) must not
 * make a log line as long as the frame.
 */
export function boundedReason(reason: string): string {
  if (reason.length <= MAX_PEER_LOG_REASON_LENGTH) return reason;
  const suffix = `… (${reason.length} characters)`;
  return reason.slice(0, Math.max(0, MAX_PEER_LOG_REASON_LENGTH - suffix.length)) + suffix;
}
