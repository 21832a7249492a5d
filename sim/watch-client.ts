import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import { Watch, type WatchBatch, type WatchEnded, type WatchPoll } from '../watch/watch-port.js';

/** Stands in for the HTTP frontend's watch streams: the simulation's watchers poll through it. */
export class WatchClient extends ComponentDefinition {
  private readonly watch = this.requires(Watch);

  constructor(context: ComponentContext, onAnswer: (answer: WatchBatch | WatchEnded) => void) {
    super(context);
    this.subscribe(this.watch, 'WatchBatch', onAnswer);
    this.subscribe(this.watch, 'WatchEnded', onAnswer);
  }

  /** Called by the simulation between events (never from another component's handler). */
  poll(poll: Omit<WatchPoll, 'kind'>): void {
    this.trigger({ kind: 'WatchPoll', ...poll }, this.watch);
  }
}
