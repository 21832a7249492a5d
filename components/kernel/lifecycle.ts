import type { KEvent } from './event.js';
import type { ComponentDefinition } from './component.js';

/**
 * passive: created or stopped; only lifecycle events run, others wait in the mailbox.
 * active: handling events. faulty: a handler threw; nothing more runs here.
 * destroyed: killed; its channels are cut and its mailbox dropped.
 */
export type LifecycleState = 'passive' | 'active' | 'faulty' | 'destroyed';

/** What a parent decides about a child's fault (Kompics' ResolveAction). */
export type FaultAction =
  /** pass the fault to my own parent; at the top, the system stops the node */
  | 'escalate'
  /** handled; the faulty child stays inert */
  | 'resolved'
  /** kill the faulty child's subtree */
  | 'destroy';

/** An exception thrown by a handler, on its way up the component tree. */
export class Fault {
  constructor(
    readonly error: unknown,
    readonly source: ComponentDefinition,
    /** The event whose handler threw, or the lifecycle step. */
    readonly event: KEvent | { readonly kind: 'Start' | 'Stop' },
  ) {}

  describe(): string {
    const message = this.error instanceof Error ? this.error.message : String(this.error);
    return `${this.source.describe()} failed handling ${this.event.kind}: ${message}`;
  }
}

/** Lifecycle work waits in its own queue and always runs before ordinary events. */
export type ControlEvent =
  | { readonly kind: 'Start' }
  | { readonly kind: 'Stop' }
  | { readonly kind: 'ChildFault'; readonly fault: Fault };
