import type { GroupInfo, LookupTable } from '../bootstrap/lookup-table.js';
import type { KvOperation } from '../kv/kv-operation.js';
import { txnKeys } from '../kv/txn.js';

/**
 * The one group an operation runs in, or, for a transaction whose keys are in several, each
 * key's group (what a 422 CrossGroup names). A transaction is atomic only inside one group's log.
 * A range or prefix delete names its group itself (a prefix has no one key to place it by):
 * `unknownGroup` when the table has no such group.
 */
export function groupOfOperation(
  table: LookupTable,
  operation: KvOperation,
):
  | { readonly group: GroupInfo }
  | { readonly groups: Record<string, number> }
  | { readonly unknownGroup: number } {
  if (operation.op === 'range' || operation.op === 'deleteRange') {
    const group = table.group(operation.group);
    return group === undefined ? { unknownGroup: operation.group } : { group };
  }
  if (operation.op !== 'txn') return { group: table.groupOfKey(operation.key) };
  const keys = txnKeys(operation);
  const groups = keys.map((key) => table.groupOfKey(key));
  const first = groups[0]!; // a transaction has at least one key (txnBeyondLimits)
  if (groups.every((g) => g.id === first.id)) return { group: first };
  return { groups: Object.fromEntries(keys.map((key, i) => [key, groups[i]!.id])) };
}

/** Whether a peer's operation must be checked against the group it was sent to by its content. */
export function placedByContent(operation: KvOperation): boolean {
  return operation.op === 'txn' || operation.op === 'range' || operation.op === 'deleteRange';
}
