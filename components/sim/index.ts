export {
  Simulator,
  SimulationFailure,
  type NodeFactory,
  type SimNodeEnvironment,
  type SimulatorOptions,
} from './simulator.js';
export { SimFabric, RELIABLE_LAN, type LinkModel, type FabricStats } from './sim-fabric.js';
export { SimNetwork, type SimNetworkInit } from './sim-network.js';
export { SimTimer } from './sim-timer.js';
export { NodeClock } from './node-clock.js';
export { Trace } from './trace.js';
export { type SimClock } from './sim-clock.js';
