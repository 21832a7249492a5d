import { describe, expect, it } from 'vitest';
import { MAX_REASON_LENGTH } from '../../components/limits.js';
import type { KvOutcome } from '../../kv/kv-operation.js';
import {
  outcomeFromFields,
  outcomeToFields,
  unanswered,
  unavailable,
  unknown,
} from '../../kv/outcome.js';

describe('outcomes', () => {
  it('an unanswered write is unknown (504), an unanswered read unavailable (503)', () => {
    expect(unanswered(true, 'lost')).toEqual({ status: 504, reason: 'lost' });
    expect(unanswered(false, 'lost')).toEqual({ status: 503, reason: 'lost' });
    expect(unknown('u')).toEqual({ status: 504, reason: 'u' });
    expect(unavailable('n')).toEqual({ status: 503, reason: 'n' });
  });

  const outcomes: KvOutcome[] = [
    { status: 200, version: 12345678901 },
    { status: 200, version: 7, value: new Uint8Array([1, 2, 3]) },
    { status: 200, version: 8, value: new Uint8Array() },
    { status: 204 },
    { status: 404 },
    { status: 412 },
    { status: 412, current: 4294967297 },
    { status: 412, current: null },
    { status: 503, reason: 'no leader' },
    { status: 504, reason: 'timed out' },
    { status: 503, reason: '' },
  ];

  it.each(outcomes.map((o) => [o.status, o] as const))('round-trips %i: %o', (_, outcome) => {
    const fields = outcomeToFields(outcome);
    expect(outcomeFromFields(fields)).toEqual(outcome);
    expect('value' in fields).toBe('value' in outcome);
  });

  it('cuts reasons to MAX_REASON_LENGTH', () => {
    const long = 'r'.repeat(MAX_REASON_LENGTH + 50);
    expect(outcomeToFields(unknown(long)).reason).toBe(long.slice(0, MAX_REASON_LENGTH));
    expect(outcomeFromFields(outcomeToFields(unavailable(long)))).toEqual({
      status: 503,
      reason: 'r'.repeat(MAX_REASON_LENGTH),
    });
    const exact = 'x'.repeat(MAX_REASON_LENGTH);
    expect(outcomeToFields(unknown(exact)).reason).toBe(exact);
  });

  it('fills what the fields leave out', () => {
    expect(outcomeFromFields({ status: 200 })).toEqual({ status: 200, version: 0 });
    expect(outcomeFromFields({ status: 504 })).toEqual({ status: 504, reason: '' });
    expect(outcomeFromFields({ status: 404, reason: 'ignored', version: 3 })).toEqual({
      status: 404,
    });
  });

  it('throws on an unknown status', () => {
    for (const status of [0, 201, 500, 502])
      expect(() => outcomeFromFields({ status })).toThrow(/no outcome has status/);
  });
});
