/** What the zabkv clients (the pooled ZabkvClient and the CLI's one-shot requests) throw. */

export class KvError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}
/** The key has no value (404). */
export class NotFound extends KvError {}
/** If-Match / If-None-Match did not hold (412). */
export class PreconditionFailed extends KvError {
  constructor(
    message: string,
    /** The key's version when the write was applied, from the 412's ETag, if the node sent it. */
    readonly currentVersion: string | undefined,
  ) {
    super(message, 412, 'PreconditionFailed');
  }
}
/** The operation did not happen (503, or the request never reached a node); safe to retry. */
export class Unavailable extends KvError {
  constructor(
    message: string,
    code: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, 503, code);
  }
}
/** The outcome is unknown (504, or the connection failed after a write was sent). */
export class Indeterminate extends KvError {}
/** No valid token was given (401), or the token's rights do not cover the request (403). */
export class Unauthorized extends KvError {}
/**
 * The group's data is at its quota (507): the write did not happen. Not retried: it will not
 * succeed until keys are deleted.
 */
export class QuotaExceeded extends KvError {}

/** The error an answer of 300 or above stands for, from its JSON body (frontend/http-errors.ts). */
export function errorOfAnswer(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
): KvError {
  let code = 'Unknown';
  let message = text;
  try {
    ({ error: code, message } = JSON.parse(text) as { error: string; message: string });
  } catch {
    // not JSON: keep the text
  }
  switch (status) {
    case 401:
    case 403:
      return new Unauthorized(message, status, code);
    case 404:
      return new NotFound(message, 404, code);
    case 412:
      return new PreconditionFailed(
        message,
        headers['etag'] === undefined ? undefined : unquote(headers['etag']),
      );
    case 503:
      return new Unavailable(message, code, Number(headers['retry-after'] ?? 1));
    case 504:
      return new Indeterminate(message, 504, code);
    case 507:
      return new QuotaExceeded(message, 507, code);
    default:
      return new KvError(message, status, code);
  }
}

export function unquote(tag: unknown): string {
  return typeof tag === 'string' ? tag.replace(/^"(.*)"$/, '$1') : '';
}
