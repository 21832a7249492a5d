import type { MessageOf } from '../components/network/network-port.js';
import { filterMatches } from './watch-filter.js';
import type { WatchPoll } from './watch-port.js';
import './watch-messages.js';

/**
 * Why a member's batch cannot be a true answer to `poll` (peer input is never trusted), or null:
 * a true batch holds only changes the filter matches, in increasing zxid order, after the poll's
 * cursor and no later than its own.
 */
export function batchProblem(poll: WatchPoll, batch: MessageOf<'watch.Batch'>): string | null {
  let previous = poll.after ?? -1;
  if (batch.cursor < previous) return 'cursor behind the poll';
  for (const event of batch.events) {
    if (!(event.zxid > previous)) return 'events out of order or at the poll cursor';
    if (event.zxid > batch.cursor) return 'event beyond the batch cursor';
    for (const change of event.changes) {
      if (!filterMatches(poll.filter, change.key)) return 'a change the filter does not match';
      const carried = change.value !== undefined;
      const omitted = change.valueOmitted === true;
      if (change.type === 'delete' && (carried || omitted)) return 'a delete with a value';
      if (change.type === 'put' && carried === omitted)
        return 'a put needs a value or valueOmitted, not both';
      if (event.type !== 'txn' && change.type !== event.type)
        return 'a change of another type than its event';
    }
    previous = event.zxid;
  }
  return null;
}
