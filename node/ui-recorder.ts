import { build, type Histogram } from 'hdr-histogram-js';
import type { NodeId } from '../components/network/node-id.js';
import { formatZxid, type Zxid } from '../kv/zxid.js';
import type { ReplicaStatus } from '../replica/replica-status-port.js';
import type { GroupSecond, UiEvent, UiEventKind, UiSample } from '../frontend/ui-state.js';

/** Seconds of samples kept: the dashboard's window. */
export const UI_HISTORY_SEC = 300;
/** Events kept. */
export const UI_EVENTS_KEPT = 200;

interface OpenSecond {
  ops: number;
  errors: number;
  readonly latency: Histogram;
}

/**
 * What the dashboard shows of one node over the last minutes (`/ui/node`): per second and
 * group, the requests that entered here and their latency; and the events this node saw
 * (elections, leaders, slow fsyncs, snapshots). Memory is bounded by the window, not the load.
 */
export class UiRecorder {
  private readonly samples: UiSample[] = [];
  private readonly events: UiEvent[] = [];
  private open = new Map<number, OpenSecond>();
  private second: number;
  private last: { role: string; leader: NodeId | null; epoch: number } | null = null;
  /** The replica's last report said it serves (an established leader, a synced follower). */
  private serving = false;

  constructor(
    private readonly self: NodeId,
    private readonly now: () => number = Date.now,
  ) {
    this.second = Math.floor(now() / 1000);
    this.event('started', `node ${self} started`);
  }

  /** A client request that entered here was answered after `ms`. */
  served(group: number, status: number, ms: number): void {
    this.roll();
    let open = this.open.get(group);
    if (open === undefined) {
      open = { ops: 0, errors: 0, latency: newHistogram() };
      this.open.set(group, open);
    }
    open.ops++;
    if (status >= 500) open.errors++;
    open.latency.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** The replica's report: a change of role, leader or epoch becomes an event. */
  replicaStatus(status: ReplicaStatus): void {
    const { role, leader, currentEpoch: epoch } = status;
    this.serving = status.serving;
    const last = this.last;
    if (last !== null && last.role === role && last.leader === leader && last.epoch === epoch) {
      return;
    }
    const group = `group ${status.group}`;
    if (role === 'looking' && last?.role !== 'looking') {
      this.event('election', `${group}: node ${this.self} looking for a leader`);
    } else if (role === 'leading' && status.serving && leader === this.self) {
      this.event('leader', `${group}: node ${this.self} leads epoch ${epoch}`);
    } else if (role === 'following' && leader !== null && leader !== last?.leader) {
      this.event('following', `${group}: node ${this.self} follows ${leader} (epoch ${epoch})`);
    } else if (role === 'leading' && !status.serving) {
      return; // not established yet: the event comes with the established report
    }
    this.last = { role, leader, epoch };
  }

  slowFsync(ms: number): void {
    this.event('slow-fsync', `node ${this.self}: log flush took ${ms.toFixed(0)} ms`);
  }

  /** The state machine was rebuilt from a snapshot (a SNAP sync or a restart). */
  restored(zxid: Zxid): void {
    this.event(
      'snapshot',
      `node ${this.self}: state restored from a snapshot at ${formatZxid(zxid)}`,
    );
  }

  /** Samples closed and events after `since` (unix ms). */
  view(since: number): { serving: boolean; samples: UiSample[]; events: UiEvent[] } {
    this.roll();
    const sinceSecond = Math.floor(since / 1000);
    return {
      serving: this.serving,
      samples: this.samples.filter((s) => s.t >= sinceSecond),
      events: this.events.filter((e) => e.at > since),
    };
  }

  private event(kind: UiEventKind, text: string): void {
    this.events.push({ at: this.now(), node: this.self, kind, text });
    if (this.events.length > UI_EVENTS_KEPT) this.events.shift();
  }

  /** Closes the open second once the clock has left it. */
  private roll(): void {
    const second = Math.floor(this.now() / 1000);
    if (second === this.second) return;
    if (this.open.size > 0) {
      const groups: Record<string, GroupSecond> = {};
      for (const [group, open] of this.open) {
        groups[group] = {
          ops: open.ops,
          errors: open.errors,
          p50: open.latency.getValueAtPercentile(50) / 1000,
          p99: open.latency.getValueAtPercentile(99) / 1000,
        };
        open.latency.destroy();
      }
      this.samples.push({ t: this.second, groups });
      this.open = new Map();
    }
    this.second = second;
    while (this.samples.length > 0 && this.samples[0]!.t <= second - UI_HISTORY_SEC) {
      this.samples.shift();
    }
  }
}

function newHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 2,
  });
}
