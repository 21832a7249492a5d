import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * What a bearer token may do (the token file, `--token-file`):
 * - `read`: GET `/kv/<key>` for keys under its prefix (every key without one);
 * - `write`: that, and PUT and DELETE on the same keys;
 * - `admin`: everything, on every key (no prefix).
 * `/cluster` and `/metrics` need a token that is not limited to a prefix, of any role: like
 * etcd, which lets any authenticated user read the cluster's status, but a token limited to a
 * prefix belongs to a tenant, who has no business seeing the other tenants' groups and key
 * ranges; `/ui/state` and `/ui/node` are status too. `/livez`, `/readyz` and the dashboard's page
 * (`/ui` and its assets, which hold no data) need no token.
 */
export type Role = 'read' | 'write' | 'admin';

export interface Grant {
  readonly role: Role;
  /** Only keys that start with this; undefined: every key. */
  readonly prefix?: string;
  /** Where it was declared, for messages: never the token itself. */
  readonly line: number;
}

/** What a request asks for: a key, to read or to change, or the cluster's status. */
export type Need =
  | { readonly kind: 'read' | 'write'; readonly key: string }
  | { readonly kind: 'status' }
  | { readonly kind: 'admin' };

export class TokenFileError extends Error {}

/** RFC 6750's b64token: the characters a bearer token may have. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Shorter tokens are refused: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

interface Entry {
  readonly digest: Buffer;
  readonly grant: Grant;
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The tokens of a token file. A presented token is hashed and its SHA-256 digest compared with
 * every entry's by `timingSafeEqual`, all of them every time, so the time taken says nothing
 * about how much of a token matched, nor which line did. Tokens are kept only as digests.
 */
export class AccessTokens {
  private constructor(private readonly entries: readonly Entry[]) {}

  /**
   * Parses a token file: one token a line, `<token> <role> [<key prefix>]`, separated by
   * spaces or tabs; blank lines and lines starting with `#` are skipped. Errors name the line,
   * never the token.
   */
  static parse(text: string): AccessTokens {
    const entries: Entry[] = [];
    const seen = new Set<string>();
    text.split(/\r?\n/).forEach((raw, index) => {
      const line = index + 1;
      const content = raw.trim();
      if (content === '' || content.startsWith('#')) return;
      const fields = content.split(/[ \t]+/);
      const [token, role, prefix] = fields as [string, string | undefined, string | undefined];
      const fail = (why: string) => {
        throw new TokenFileError(`token file, line ${line}: ${why}`);
      };
      if (fields.length < 2 || fields.length > 3) fail('expected "<token> <role> [<key prefix>]"');
      if (!TOKEN.test(token)) fail('the token has characters a bearer token cannot have');
      if (token.length < MIN_TOKEN_LENGTH) {
        fail(`the token is shorter than ${MIN_TOKEN_LENGTH} characters`);
      }
      if (role !== 'read' && role !== 'write' && role !== 'admin') {
        fail('the role must be read, write or admin');
      }
      if (role === 'admin' && prefix !== undefined) fail('an admin token has no key prefix');
      const digest = digestOf(token);
      const hex = digest.toString('hex');
      if (seen.has(hex)) fail('this token is listed twice');
      seen.add(hex);
      entries.push({
        digest,
        grant: { role: role as Role, line, ...(prefix === undefined ? {} : { prefix }) },
      });
    });
    if (entries.length === 0) throw new TokenFileError('the token file lists no token');
    return new AccessTokens(entries);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The grant of `token`, or null when it is none of the file's. */
  grantOf(token: string): Grant | null {
    const digest = digestOf(token);
    let found: Grant | null = null;
    for (const entry of this.entries) {
      // No early exit: every entry is compared.
      if (timingSafeEqual(entry.digest, digest)) found = entry.grant;
    }
    return found;
  }
}

/** Whether a token with `grant` may do what `need` asks. */
export function allows(grant: Grant, need: Need): boolean {
  if (need.kind === 'status') return grant.prefix === undefined;
  if (need.kind === 'admin') return grant.role === 'admin'; // /admin/faults
  if (need.kind === 'write' && grant.role === 'read') return false;
  return grant.prefix === undefined || need.key.startsWith(grant.prefix);
}

/** The token of an `Authorization: Bearer <token>` header; null when there is none. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match === null ? null : match[1]!;
}
