import assert from 'node:assert/strict';

/** A node's identity in the cluster: a small non-negative integer, fixed for its lifetime. */
export type NodeId = number & { readonly __brand: 'NodeId' };

export const NODE_ID_MAX = 65_535;

export function nodeId(value: number): NodeId {
  assert(Number.isInteger(value) && value >= 0 && value <= NODE_ID_MAX, `bad node id ${value}`);
  return value as NodeId;
}

export interface PeerAddress {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
}
