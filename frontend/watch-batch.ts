import { formatCursor } from '../watch/watch-cursor.js';
import type { WatchBatch, WatchEnded } from '../watch/watch-port.js';
import type { Zxid } from '../kv/zxid.js';
import { eventJson, type EventJson } from './watch-json.js';
import type { PendingPoll } from './watch-poller.js';
import { batchBytes, firstBatches, type WatchContext } from './watch-stream.js';
import type { WatchPlan } from './watch-request.js';

/** `GET /watch` with `Accept: application/json`: one long-poll batch (README, "Watching keys"). */
export interface BatchJson {
  readonly events: readonly (EventJson & { readonly type: 'put' | 'delete' | 'txn' })[];
  readonly cursor: string;
}

/**
 * One long-poll: without a cursor, where "now" is (no events); with one, the changes after it
 * in every group it names, as soon as any group has some, or none once `plan.waitMs` is over.
 * Groups still waiting when another answers are given up: their cursor stays, so their
 * changes come with the next poll.
 */
export async function longPollBatch(
  plan: WatchPlan,
  context: WatchContext,
  closed: () => boolean,
): Promise<BatchJson | WatchEnded> {
  const position = new Map<number, Zxid>(plan.groups.map((g) => [g, plan.from?.get(g) ?? 0]));
  const events: BatchJson['events'][number][] = [];
  const take = (batch: WatchBatch) => {
    for (const event of batch.events) {
      if (event.zxid <= position.get(batch.group)!) continue;
      events.push({ type: event.type, ...eventJson(batch.group, event) });
      position.set(batch.group, event.zxid);
    }
    if (batch.cursor > position.get(batch.group)!) position.set(batch.group, batch.cursor);
  };
  if (plan.from === null || plan.waitMs === 0) {
    const first = await firstBatches(plan, context, closed);
    if (!Array.isArray(first)) return first;
    first.forEach(take);
  } else {
    const from = plan.from;
    const polls: PendingPoll[] = plan.groups.map((group) =>
      context.polls.poll({
        group,
        after: from.get(group)!,
        filter: plan.filter,
        waitMs: plan.waitMs,
        maxBytes: batchBytes(plan, context),
      }),
    );
    const ended = await new Promise<WatchEnded | null>((resolve) => {
      let open = polls.length;
      for (const poll of polls) {
        void poll.answer.then((answer) => {
          if (answer.kind === 'WatchEnded') return resolve(answer);
          take(answer);
          if (answer.events.length > 0 || --open === 0) resolve(null);
        });
      }
    });
    // Polls given up settle as 'unavailable' after the answer that decided: no failure.
    for (const poll of polls) poll.cancel();
    if (ended !== null) return ended;
  }
  return { events, cursor: formatCursor({ tableVersion: plan.tableVersion, groups: position }) };
}
