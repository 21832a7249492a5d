import type { GroupInfo, LookupTable } from '../bootstrap/lookup-table.js';
import type { KvOperation } from '../kv/kv-operation.js';
import { txnKeys } from '../kv/txn.js';

/**
 * The one group an operation runs in, or, for a transaction whose keys are in several, each
 * key's group (what a 422 CrossGroup names). A transaction is atomic only inside one group's log.
 */
export function groupOfOperation(
  table: LookupTable,
  operation: KvOperation,
): { readonly group: GroupInfo } | { readonly groups: Record<string, number> } {
  if (operation.op !== 'txn') return { group: table.groupOfKey(operation.key) };
  const keys = txnKeys(operation);
  const groups = keys.map((key) => table.groupOfKey(key));
  const first = groups[0]!; // a transaction has at least one key (txnBeyondLimits)
  if (groups.every((g) => g.id === first.id)) return { group: first };
  return { groups: Object.fromEntries(keys.map((key, i) => [key, groups[i]!.id])) };
}
