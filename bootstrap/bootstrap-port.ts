import { portType } from '../components/kernel/index.js';
import type { LookupTable } from './lookup-table.js';

/** The cluster's lookup table, first and every newer version (DESIGN §5). */
export interface TableReady {
  readonly kind: 'TableReady';
  readonly table: LookupTable;
  /**
   * This process checked in to form the cluster: its stores are new and may vote at once. A
   * node that lost its table (a wiped data directory) is not: it may have acknowledged writes
   * its empty stores no longer hold, so it syncs before it counts (ZOOKEEPER-261).
   */
  readonly founding: boolean;
}

export type BootstrapRequest = never;
export type BootstrapIndication = TableReady;

/** Provided by the bootstrap client: tells the node which groups exist and where keys live. */
export const Bootstrap = portType<BootstrapRequest, BootstrapIndication>('Bootstrap');
