import type { Logger } from 'pino';

/**
 * Warn lines for things a remote party can cause at will (bad frames, failed handshakes): at
 * most one per kind per interval, carrying how many were suppressed since the last one, so a
 * flood of bad connections cannot fill the disk that holds the log. The rest go to debug.
 */
export class WarnLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    const last = this.last.get(kind);
    if (last !== undefined && now - last.at < this.intervalMs) {
      last.suppressed++;
      this.log.debug(fields, message);
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.last.set(kind, { at: now, suppressed: 0 });
    this.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, message);
  }
}
