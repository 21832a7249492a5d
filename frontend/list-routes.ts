import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hashTag } from '../bootstrap/lookup-table.js';
import {
  DEFAULT_LIST_LIMIT_COUNT,
  MAX_DELETE_BATCH_COUNT,
  MAX_LIST_LIMIT_COUNT,
} from '../components/limits.js';
import type { KvOutcome } from '../kv/kv-operation.js';
import { isInsufficientStorage } from '../kv/outcome.js';
import {
  rangeBeyondLimits,
  type KvDeleteRange,
  type KvRange,
  type RangeItem,
} from '../kv/range.js';
import type { Routed } from '../overlay/routing-port.js';
import type { HttpErrorCode } from './http-errors.js';
import { parseListCursor } from './list-cursor.js';
import { listPage, type ListQuery } from './list-pages.js';
import { valueFields } from './txn-request.js';

/** `GET /kv?prefix=` lists, `DELETE /kv?prefix=` deletes a prefix: no key in the path. */
export const LIST_ROUTE = '/kv';

/** The lookup table as a listing needs it. */
export interface ListTable {
  readonly version: number;
  readonly groups: readonly number[];
  groupOfKey(key: string): number;
}

/** What the routes need of the frontend. */
export interface ListHost {
  /** Null before the cluster is formed. */
  table(): ListTable | null;
  /** Routes one group's operation; resolves with its answer (never rejects). */
  ask(operation: KvRange | KvDeleteRange): Promise<Routed>;
  answerError(reply: FastifyReply, code: HttpErrorCode, detail?: string): FastifyReply;
}

type ListRequest = FastifyRequest<{ Querystring: Record<string, string | string[] | undefined> }>;

/** The groups a prefix's keys can be in: one when it fixes the hash tag, else every group. */
function groupsOf(table: ListTable, prefix: string): readonly number[] {
  return hashTag(prefix) === null ? table.groups : [table.groupOfKey(prefix)];
}

/** The error a failed group's outcome is answered with. */
function errorOf(outcome: KvOutcome): { code: HttpErrorCode; detail?: string } {
  switch (outcome.status) {
    case 503:
      return { code: 'Unavailable', detail: outcome.reason };
    case 504:
      return { code: 'Indeterminate', detail: outcome.reason };
    case 507:
      return {
        code: isInsufficientStorage(outcome) ? 'InsufficientStorage' : 'QuotaExceeded',
        detail: outcome.reason,
      };
    default:
      return { code: 'Internal', detail: `a group answered ${outcome.status}` };
  }
}

function itemJson(item: RangeItem): object {
  return {
    key: item.key,
    version: String(item.version),
    ...(item.value === undefined ? {} : valueFields(item.value)),
  };
}

/** A one-valued query parameter: undefined when absent, null when given twice. */
function single(value: string | string[] | undefined): string | undefined | null {
  return Array.isArray(value) ? null : value;
}

/**
 * `GET /kv?prefix=&limit=&after=&keysOnly=1&consistency=stale&format=ndjson` and
 * `DELETE /kv?prefix=` (README, "Listing"). A page merges one range read per group; nothing
 * here reads more than one page's worth of any group at once.
 */
export function registerListRoutes(app: FastifyInstance, host: ListHost): void {
  const ask = async (range: KvRange) => {
    const { outcome, served } = await host.ask(range);
    return { outcome, zxid: served.zxid };
  };

  app.get(LIST_ROUTE, async (request: ListRequest, reply) => {
    const parsed = listQueryOf(request, host, reply);
    if (parsed === null) return reply;
    const { table, groups, query, ndjson, readAt } = parsed;
    if (ndjson) {
      return reply
        .type('application/x-ndjson')
        .send(Readable.from(streamLines(ask, table.version, groups, query, readAt)));
    }
    const answer = await listPage(ask, table.version, groups, query, readAt);
    if ('failed' in answer) {
      const { code, detail } = errorOf(answer.failed);
      return host.answerError(reply, code, detail);
    }
    const { page } = answer;
    return reply.send({
      items: page.items.map(itemJson),
      next: page.next,
      revision: page.revision,
    });
  });

  app.delete(LIST_ROUTE, async (request: ListRequest, reply) => {
    const prefix = single(request.query.prefix);
    if (typeof prefix !== 'string' || prefix.length === 0) {
      return host.answerError(reply, 'BadPrefix');
    }
    const table = host.table();
    if (table === null)
      return host.answerError(reply, 'Unavailable', 'the cluster is not formed yet');
    let deleted = 0;
    for (const group of groupsOf(table, prefix)) {
      const batch: KvDeleteRange = {
        op: 'deleteRange',
        group,
        prefix,
        limit: MAX_DELETE_BATCH_COUNT,
      };
      if (rangeBeyondLimits(batch) !== null) return host.answerError(reply, 'BadPrefix');
      // Batch after batch until one finds nothing: each is one log entry, bounded in size.
      for (;;) {
        const { outcome } = await host.ask(batch);
        if (outcome.status !== 200 || outcome.txn === undefined) {
          const { code, detail } = errorOf(outcome);
          host.answerError(reply, code, `${detail ?? ''}; ${deleted} keys were deleted before`);
          return reply;
        }
        const n = outcome.txn.results.filter((r) => r.op === 'delete' && r.deleted).length;
        deleted += n;
        if (n === 0) break;
      }
    }
    return reply.send({ deleted });
  });
}

/** The query of a listing, or null when it was answered with an error. */
function listQueryOf(
  request: ListRequest,
  host: ListHost,
  reply: FastifyReply,
): {
  table: ListTable;
  groups: readonly number[];
  query: ListQuery;
  ndjson: boolean;
  readAt: ReadonlyMap<number, number>;
} | null {
  const q = request.query;
  const prefix = single(q.prefix) ?? '';
  const limitText = single(q.limit);
  const afterText = single(q.after);
  const keysOnlyText = single(q.keysOnly) ?? '0';
  const consistency = single(q.consistency) ?? 'linearizable';
  const format = single(q.format) ?? 'json';
  const fail = (code: HttpErrorCode, detail?: string) => {
    host.answerError(reply, code, detail);
    return null;
  };
  if (prefix === null) return fail('BadPrefix');
  if (consistency !== 'linearizable' && consistency !== 'stale') return fail('BadConsistency');
  if (
    keysOnlyText !== '0' &&
    keysOnlyText !== '1' &&
    keysOnlyText !== 'true' &&
    keysOnlyText !== 'false'
  )
    return fail('BadRequest', 'keysOnly is 1 or 0');
  if (format !== 'json' && format !== 'ndjson')
    return fail('BadRequest', 'format is json or ndjson');
  let limit = DEFAULT_LIST_LIMIT_COUNT;
  if (limitText !== undefined) {
    if (limitText === null || !/^[0-9]{1,6}$/.test(limitText)) return fail('BadLimit');
    limit = Number(limitText);
    if (limit < 1 || limit > MAX_LIST_LIMIT_COUNT) return fail('BadLimit');
  }
  const table = host.table();
  if (table === null) return fail('Unavailable', 'the cluster is not formed yet');
  let after: string | null = null;
  let readAt: ReadonlyMap<number, number> = new Map();
  if (afterText !== undefined) {
    if (afterText === null) return fail('BadCursor');
    const cursor = parseListCursor(afterText);
    if ('error' in cursor) return fail('BadCursor', cursor.error);
    if (cursor.tableVersion !== table.version) {
      return fail('CursorTableChanged', `made under ${cursor.tableVersion}, now ${table.version}`);
    }
    after = cursor.key;
    readAt = cursor.readAt;
  }
  const query: ListQuery = {
    prefix,
    after,
    limit,
    keysOnly: keysOnlyText === '1' || keysOnlyText === 'true',
    consistency,
  };
  const beyond = rangeBeyondLimits({ op: 'range', group: 0, ...query, maxBytes: 1 });
  if (beyond !== null) return fail('BadPrefix', beyond);
  return { table, groups: groupsOf(table, prefix), query, ndjson: format === 'ndjson', readAt };
}

/**
 * Every page of a listing as NDJSON lines, one item a line, then `{"done":true,"revision":…}`
 * with each group's earliest read zxid (a watch from there misses nothing). A page is fetched
 * only when the reader has taken the last one (Readable.from pulls), so memory stays at one
 * page whatever the prefix holds. A failed group ends the stream with an error line.
 */
async function* streamLines(
  ask: (range: KvRange) => Promise<{ outcome: KvOutcome; zxid: number }>,
  tableVersion: number,
  groups: readonly number[],
  first: ListQuery,
  firstReadAt: ReadonlyMap<number, number>,
): AsyncGenerator<string> {
  let query = first;
  let readAt = firstReadAt;
  for (;;) {
    const answer = await listPage(ask, tableVersion, groups, query, readAt);
    if ('failed' in answer) {
      const { code, detail } = errorOf(answer.failed);
      yield `${JSON.stringify({ error: code, message: detail ?? '' })}\n`;
      return;
    }
    const { page } = answer;
    if (page.items.length > 0)
      yield page.items.map((i) => `${JSON.stringify(itemJson(i))}\n`).join('');
    readAt = page.readAt;
    if (page.lastKey === null) {
      yield `${JSON.stringify({ done: true, revision: page.revision })}\n`;
      return;
    }
    query = { ...query, after: page.lastKey };
  }
}
