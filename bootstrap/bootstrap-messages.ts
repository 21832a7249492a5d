import { Type } from '@sinclair/typebox';
import { defineMessages, type PayloadsOf } from '../components/network/message-catalogue.js';
import { NODE_ID_MAX, nodeId } from '../components/network/node-id.js';
import { lookupTableSchema, nodeAddressSchema } from './lookup-table.js';

/**
 * The bootstrap server also answers to this id, so a joining node that knows only the
 * server's address (`--bootstrap host:port`) can reach it before it knows anyone's id.
 */
export const BOOTSTRAP_SERVER = nodeId(NODE_ID_MAX);

/**
 * A number the checking-in node draws at random and the bootstrap node sends back with the
 * table: only a table that carries it answers this node's own check-in, which went to the
 * bootstrap node's address (reference/security.md §1, "bootstrap.Table").
 */
const nonce = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const bootstrapMessages = defineMessages({
  /** "I am here, this is where I listen": repeated until the table arrives. */
  'bootstrap.CheckIn': Type.Object({ address: nodeAddressSchema, nonce }),
  /**
   * The lookup table, to every node once the cluster is formed, and to late or restarted ones,
   * with the nonce of the check-in it answers. `founding`: that check-in is one the cluster
   * formed with (the same process, which can have stored nothing before its table came).
   */
  'bootstrap.Table': Type.Object({ table: lookupTableSchema, nonce, founding: Type.Boolean() }),
  /**
   * "I hold this table": every node that has one, to the bootstrap node now and then. Nobody
   * checks in with a formed cluster, so a bootstrap node whose data directory was lost would
   * otherwise wait for check-ins for ever; it takes the table from this instead (never as
   * founding: its new stores sync before they vote).
   */
  'bootstrap.Member': Type.Object({ table: lookupTableSchema }),
});

declare module '../components/network/network-port.js' {
  interface NetworkMessages extends PayloadsOf<typeof bootstrapMessages> {}
}
