/**
 * Every error the HTTP API can answer, in one place: its status and JSON body. 503 says the
 * operation did not happen (retry after `Retry-After`), 504 that it may have, 507 that it did
 * not happen and will not until keys are deleted.
 */
export const HTTP_ERRORS = {
  BadKey: { status: 400, message: 'the key must be 1 to 1024 bytes of UTF-8' },
  BadCondition: {
    status: 400,
    message: 'If-Match takes one "<version>" or *, If-None-Match only *',
  },
  BadConsistency: { status: 400, message: 'consistency is linearizable or stale' },
  BadRequest: { status: 400, message: 'the request is malformed' },
  BadPrefix: {
    status: 400,
    message: 'the prefix must be at most 1024 bytes of UTF-8 (and not empty to delete)',
  },
  BadLimit: { status: 400, message: 'limit must be an integer from 1 to 10000' },
  BadCursor: {
    status: 400,
    message:
      "the cursor is not one of this API's cursors, or (a watch's) names other groups than the watch needs",
  },
  CursorTableChanged: {
    status: 400,
    message:
      'the cursor was made under another lookup-table version (the groups changed): list again from the start',
  },
  BadTxn: {
    status: 400,
    message:
      'the transaction is malformed (JSON {"compare":[…],"success":[…],"failure":[…]}, at most 128 compares and ops)',
  },
  BadWatch: {
    status: 400,
    message:
      'the watch is malformed (GET /watch?key=<k>&prefix=<p>…, at most 64 keys and prefixes)',
  },
  BadWait: { status: 400, message: 'wait and progress are seconds from 0 to 300' },
  Unauthorized: {
    status: 401,
    message: 'a valid bearer token is needed (Authorization: Bearer <token>)',
  },
  Forbidden: { status: 403, message: "this token's rights do not cover this request" },
  NotFound: { status: 404, message: 'no value under this key' },
  NoSuchRoute: { status: 404, message: 'no such endpoint' },
  MethodNotAllowed: { status: 405, message: 'method not allowed on this endpoint' },
  RequestTimeout: {
    status: 408,
    message: 'the request did not arrive in time: the operation did not happen',
  },
  Compacted: {
    status: 410,
    message:
      'the changes after this cursor are no longer kept: read the keys again and watch from now',
  },
  PreconditionFailed: { status: 412, message: 'the condition does not hold' },
  CrossGroup: {
    status: 422,
    message: 'the keys are in more than one group: the transaction did not happen',
  },
  ValueTooLarge: { status: 413, message: 'the value is larger than 1 MiB' },
  HeadersTooLarge: { status: 431, message: 'the request headers are too large' },
  UriTooLong: { status: 414, message: 'the request line (its URL) is longer than 16 KiB' },
  Internal: { status: 500, message: 'internal error' },
  Unavailable: { status: 503, message: 'unavailable: the operation did not happen' },
  Overloaded: { status: 503, message: 'too many requests in flight: the operation did not happen' },
  Busy: {
    status: 503,
    message: 'this node is saturated (event loop delay): the operation did not happen',
  },
  TooManyConnections: {
    status: 503,
    message: 'this node holds as many client connections as it may: try another node',
  },
  TooManyWatchers: {
    status: 503,
    message: 'this node serves as many watches and long-polls as it may: try another node',
  },
  ShuttingDown: {
    status: 503,
    message: 'this node is shutting down: the operation did not happen',
  },
  Indeterminate: {
    status: 504,
    message: 'the outcome is unknown: it may or may not have happened',
  },
  InsufficientStorage: {
    status: 507,
    message: 'too little free disk space: the write did not happen (retry once space is freed)',
  },
  QuotaExceeded: {
    status: 507,
    message:
      "the group's data is at its quota: the write did not happen (delete keys to make room)",
  },
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1;

export interface ErrorBody {
  readonly error: HttpErrorCode;
  readonly message: string;
}

export function errorBody(code: HttpErrorCode, detail?: string): ErrorBody {
  const { message } = HTTP_ERRORS[code];
  return { error: code, message: detail === undefined ? message : `${message} (${detail})` };
}
