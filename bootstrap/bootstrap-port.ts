import { portType } from '../components/kernel/index.js';
import type { LookupTable } from './lookup-table.js';

/** The cluster's lookup table, first and every newer version (DESIGN §5). */
export interface TableReady {
  readonly kind: 'TableReady';
  readonly table: LookupTable;
}

export type BootstrapRequest = never;
export type BootstrapIndication = TableReady;

/** Provided by the bootstrap client: tells the node which groups exist and where keys live. */
export const Bootstrap = portType<BootstrapRequest, BootstrapIndication>('Bootstrap');
