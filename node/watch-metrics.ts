import { Counter, Gauge, type Registry } from 'prom-client';
import type { WatchStatus } from '../watch/watch-status-port.js';

/** The watch service's side of `/metrics`: its history's span and the polls it serves. */
export class WatchMetrics {
  private readonly entries: Gauge;
  private readonly bytes: Gauge;
  private readonly floor: Gauge;
  private readonly applied: Gauge;
  private readonly held: Gauge;
  private readonly relayed: Gauge;
  private readonly compacted: Counter;
  private compactedSeen = 0;

  constructor(registry: Registry) {
    const registers = [registry];
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    this.entries = gauge(
      'zabkv_watch_history_entries',
      "Applied entries with changes this node's replica keeps for watchers",
    );
    this.bytes = gauge('zabkv_watch_history_bytes', 'Bytes that change history takes');
    this.floor = gauge(
      'zabkv_watch_history_floor_zxid',
      'Changes after this zxid are held: a watcher whose cursor is older is told Compacted',
    );
    this.applied = gauge('zabkv_watch_history_applied_zxid', 'The history reaches this zxid');
    this.held = gauge('zabkv_watch_held_polls', "Watch polls this node's replica holds");
    this.relayed = gauge(
      'zabkv_watch_relayed_polls',
      "Polls of this node's watchers waiting on a replica",
    );
    this.compacted = new Counter({
      name: 'zabkv_watch_compacted_total',
      help: 'Watch polls of this node ended because no replica still held the changes they needed',
      registers,
    });
  }

  report(status: WatchStatus): void {
    const history = status.history;
    this.entries.set(history?.entries ?? 0);
    this.bytes.set(history?.bytes ?? 0);
    this.floor.set(history?.floor ?? 0);
    this.applied.set(history?.applied ?? 0);
    this.held.set(status.heldPolls);
    this.relayed.set(status.relayedPolls);
    if (status.compacted > this.compactedSeen) {
      this.compacted.inc(status.compacted - this.compactedSeen);
      this.compactedSeen = status.compacted;
    }
  }
}
