import { pino, type Logger } from 'pino';
import type { KEvent } from './event.js';
import type { ComponentClass, ComponentDefinition } from './component.js';
import type { Fault } from './lifecycle.js';
import type { Scheduler } from './scheduler.js';

export interface SystemOptions {
  readonly scheduler: Scheduler;
  readonly logger?: Logger;
  /** Call `checkInvariants()` after every handler (tests and simulation). */
  readonly checkInvariants?: boolean;
  /** Told of a fault that reached the top, after its root has been stopped. */
  readonly onRootFault?: (fault: Fault) => void;
  /** Observes every dispatched event (simulation traces). */
  readonly onDispatch?: (component: ComponentDefinition, event: KEvent) => void;
}

/**
 * The runtime that components live in: their scheduler, their logger, id allocation, and the
 * policy for a fault that no parent resolved: log it and kill that root's whole tree, never
 * keep running in an unknown state.
 */
export class ComponentSystem {
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly checkInvariants: boolean;
  readonly onDispatch: ((component: ComponentDefinition, event: KEvent) => void) | undefined;
  private readonly onRootFault: ((fault: Fault) => void) | undefined;
  private lastId = 0;

  constructor(options: SystemOptions) {
    this.scheduler = options.scheduler;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.checkInvariants = options.checkInvariants ?? false;
    this.onRootFault = options.onRootFault;
    this.onDispatch = options.onDispatch;
  }

  /** Deterministic ids: the same construction order gives the same ids. */
  nextId(): number {
    return ++this.lastId;
  }

  /** Creates a top-level component; call `start()` on it to start its tree. */
  createRoot<Init, C extends ComponentDefinition>(cls: ComponentClass<Init, C>, init: Init): C {
    return new cls({ system: this, parent: null }, init);
  }

  /** @internal A fault escalated past the root. */
  rootFault(fault: Fault): void {
    let root: ComponentDefinition = fault.source;
    while (root.parent !== null) root = root.parent;
    this.logger.error(
      { err: fault.error, source: fault.source.describe(), event: fault.event.kind },
      'unhandled fault: stopping %s',
      root.describe(),
    );
    root.kill();
    this.onRootFault?.(fault);
  }
}
