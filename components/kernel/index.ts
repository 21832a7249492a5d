export { type KEvent, assertNever } from './event.js';
export * from './port.js';
export * from './lifecycle.js';
export {
  ComponentDefinition,
  connectPorts,
  type Channel,
  type ComponentClass,
  type ComponentContext,
} from './component.js';
export {
  type Scheduler,
  type SlowTurnWatch,
  type ThreadTimes,
  ReadyQueue,
  LiveScheduler,
  SimScheduler,
} from './scheduler.js';
export { ComponentSystem, type SystemOptions } from './system.js';
export { type Leaf, leaf } from './leaf.js';
