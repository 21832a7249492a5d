import { describe, expect, it } from 'vitest';
import type { MessageOf } from '../../components/network/network-port.js';
import { nodeId } from '../../components/network/node-id.js';
import { batchProblem } from '../../watch/peer-batch-check.js';
import type { WatchPoll } from '../../watch/watch-port.js';

type Batch = MessageOf<'watch.Batch'>;
type BatchEvent = Batch['events'][number];

const POLL: WatchPoll = {
  kind: 'WatchPoll',
  id: 1,
  group: 1,
  after: 100,
  filter: { prefixes: ['a/'], keys: ['k'] },
  waitMs: 0,
  maxBytes: 1000,
};

function put(zxid: number, key = 'a/1'): BatchEvent {
  return { zxid, type: 'put', changes: [{ key, type: 'put', value: new Uint8Array([1]) }] };
}

function batch(cursor: number, events: BatchEvent[]): Batch {
  return { kind: 'watch.Batch', src: nodeId(2), dst: nodeId(1), requestId: 9, cursor, events };
}

describe('batchProblem', () => {
  const good: [string, WatchPoll, Batch][] = [
    ['an empty batch at the poll cursor', POLL, batch(100, [])],
    ['an empty batch further on', POLL, batch(150, [])],
    [
      'events in order, the last at the cursor',
      POLL,
      batch(103, [put(101), put(102, 'k'), put(103)]),
    ],
    [
      'a delete and an omitted value',
      POLL,
      batch(110, [
        { zxid: 104, type: 'delete', changes: [{ key: 'k', type: 'delete' }] },
        { zxid: 105, type: 'put', changes: [{ key: 'a/2', type: 'put', valueOmitted: true }] },
      ]),
    ],
    ['a poll from now: any zxid', { ...POLL, after: null }, batch(3, [put(1), put(3)])],
  ];
  for (const [what, poll, b] of good) {
    it(`accepts ${what}`, () => expect(batchProblem(poll, b)).toBeNull());
  }

  const bad: [string, WatchPoll, Batch, string][] = [
    ['a cursor behind the poll', POLL, batch(99, []), 'cursor behind the poll'],
    [
      'an event at the poll cursor',
      POLL,
      batch(101, [put(100)]),
      'events out of order or at the poll cursor',
    ],
    [
      'an event before the poll cursor',
      POLL,
      batch(101, [put(50)]),
      'events out of order or at the poll cursor',
    ],
    [
      'events out of order',
      POLL,
      batch(105, [put(103), put(102)]),
      'events out of order or at the poll cursor',
    ],
    [
      'an event twice',
      POLL,
      batch(105, [put(103), put(103)]),
      'events out of order or at the poll cursor',
    ],
    [
      'an event beyond the batch cursor',
      POLL,
      batch(102, [put(101), put(103)]),
      'event beyond the batch cursor',
    ],
    [
      'a key the filter does not match',
      POLL,
      batch(101, [put(101, 'b/1')]),
      'a change the filter does not match',
    ],
    [
      'one change of a txn the filter does not match',
      POLL,
      batch(101, [
        {
          zxid: 101,
          type: 'txn',
          changes: [
            { key: 'a/1', type: 'put', value: new Uint8Array([1]) },
            { key: 'kk', type: 'delete' },
          ],
        },
      ]),
      'a change the filter does not match',
    ],
    [
      'a delete with a value',
      POLL,
      batch(101, [
        {
          zxid: 101,
          type: 'delete',
          changes: [{ key: 'k', type: 'delete', value: new Uint8Array([1]) }],
        },
      ]),
      'a delete with a value',
    ],
    [
      'a delete with an omitted value',
      POLL,
      batch(101, [
        { zxid: 101, type: 'delete', changes: [{ key: 'k', type: 'delete', valueOmitted: true }] },
      ]),
      'a delete with a value',
    ],
    [
      'a put with no value',
      POLL,
      batch(101, [{ zxid: 101, type: 'put', changes: [{ key: 'k', type: 'put' }] }]),
      'a put needs a value or valueOmitted, not both',
    ],
    [
      'a put with a value and valueOmitted',
      POLL,
      batch(101, [
        {
          zxid: 101,
          type: 'put',
          changes: [{ key: 'k', type: 'put', value: new Uint8Array([1]), valueOmitted: true }],
        },
      ]),
      'a put needs a value or valueOmitted, not both',
    ],
    [
      'a delete in a put event',
      POLL,
      batch(101, [{ zxid: 101, type: 'put', changes: [{ key: 'k', type: 'delete' }] }]),
      'a change of another type than its event',
    ],
    [
      'a poll from now: an event twice',
      { ...POLL, after: null },
      batch(3, [put(2), put(2)]),
      'events out of order or at the poll cursor',
    ],
  ];
  for (const [what, poll, b, reason] of bad) {
    it(`refuses ${what}`, () => expect(batchProblem(poll, b)).toBe(reason));
  }
});
