import type { ComponentClass, ComponentDefinition } from './component.js';

type CreateChild = <Init, C extends ComponentDefinition>(
  cls: ComponentClass<Init, C>,
  init: Init,
) => C;

/**
 * A child a host will create without knowing its class: how a node host gets its outside-world
 * leaves (TCP or simulated network, live or virtual timer, lmdb or in-memory storage) while its
 * wiring of the protocol components stays the same in production and simulation.
 */
export interface Leaf {
  build(create: CreateChild): ComponentDefinition;
}

export function leaf<Init>(cls: ComponentClass<Init, ComponentDefinition>, init: Init): Leaf {
  return { build: (create) => create(cls, init) };
}
