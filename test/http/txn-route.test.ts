import { afterEach, describe, expect, it } from 'vitest';
import { startFrontend, stopFrontends } from './frontend-fixture.js';

afterEach(stopFrontends);

const post = (payload: unknown) => ({
  method: 'POST' as const,
  url: '/txn',
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  headers: { 'content-type': 'application/json' },
});

describe('POST /txn', () => {
  it('runs the success branch when the compares hold, the failure branch when not', async () => {
    const { app } = await startFrontend();
    expect(
      (await app.inject({ method: 'PUT', url: '/kv/%7Bo%7D%2Fa', payload: 'one' })).statusCode,
    ).toBe(200);
    const created = await app.inject(
      post({
        compare: [
          { key: '{o}/a', version: '1' },
          { key: '{o}/b', version: '0' },
        ],
        success: [
          { put: { key: '{o}/b', value: 'bee' } },
          { put: { key: '{o}/bin', valueBase64: Buffer.from([0xff, 0]).toString('base64') } },
          { delete: { key: '{o}/a' } },
          { get: { key: '{o}/bin' } },
          { get: { key: '{o}/none' } },
        ],
        failure: [{ get: { key: '{o}/a' } }],
      }),
    );
    expect(created.statusCode).toBe(200);
    expect(created.headers['x-kv-zxid']).toBe('2');
    expect(created.json()).toEqual({
      succeeded: true,
      version: '2',
      results: [
        { put: { key: '{o}/b', version: '2' } },
        { put: { key: '{o}/bin', version: '2' } },
        { delete: { key: '{o}/a', deleted: true } },
        { get: { key: '{o}/bin', version: '2', valueBase64: '/wA=' } },
        { get: { key: '{o}/none', version: '0' } },
      ],
    });
    const again = await app.inject(
      post({
        compare: [{ key: '{o}/b', version: '0' }],
        success: [{ put: { key: '{o}/b', value: 'lost' } }],
        failure: [{ get: { key: '{o}/b' } }],
      }),
    );
    expect(again.json()).toEqual({
      succeeded: false,
      version: '3',
      results: [{ get: { key: '{o}/b', version: '2', value: 'bee' } }],
    });
    expect((await app.inject({ url: '/kv/%7Bo%7D%2Fb' })).body).toBe('bee');
  });

  it.each([
    ['not JSON', '{'],
    ['an unknown field', { compare: [], nope: 1 }],
    ['a version that is not a decimal string', { compare: [{ key: 'k', version: 1 }] }],
    [
      'a put with both value kinds',
      { success: [{ put: { key: 'k', value: 'a', valueBase64: 'YQ==' } }] },
    ],
    ['a put with no value', { success: [{ put: { key: 'k' } }] }],
    ['an empty transaction', {}],
    ['an empty key', { success: [{ get: { key: '' } }] }],
    ['a key written twice', { success: [{ delete: { key: 'k' } }, { delete: { key: 'k' } }] }],
    ['129 ops', { success: Array.from({ length: 129 }, (_, i) => ({ get: { key: `k${i}` } })) }],
    // Past 2^53 it was logged as a float the log's reader refuses: the group stopped, and a
    // single node failed on it at every restart.
    [
      'a compare version past 2^53',
      { compare: [{ key: 'k', version: '9999999999999999' }], success: [{ get: { key: 'k' } }] },
    ],
    ['a key with a lone surrogate', { success: [{ put: { key: 'a\ud800', value: 'v' } }] }],
    [
      'valueBase64 with garbage after it',
      { success: [{ put: { key: 'k', valueBase64: 'aGVsbG8=garbage' } }] },
    ],
    [
      'valueBase64 that is not base64',
      { success: [{ put: { key: 'k', valueBase64: '!!!not base64!!!' } }] },
    ],
  ])('answers 400 BadTxn to %s, proposing nothing', async (_, body) => {
    const { app, host } = await startFrontend();
    const answer = await app.inject(post(body));
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ error: 'BadTxn' });
    expect(host.router.seen).toEqual([]);
  });

  it("answers 422 CrossGroup naming each key's group", async () => {
    const { app, host } = await startFrontend();
    host.router.forced = {
      status: 422,
      reason: 'the keys of a transaction must all be in one group (use a hash tag)',
      groups: { a: 0, b: 1 },
    };
    const answer = await app.inject(
      post({ success: [{ get: { key: 'a' } }, { get: { key: 'b' } }] }),
    );
    expect(answer.statusCode).toBe(422);
    expect(answer.json()).toMatchObject({ error: 'CrossGroup', groups: { a: 0, b: 1 } });
  });
});
