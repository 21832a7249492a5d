import { describe, expect, it } from 'vitest';
import {
  AccessTokens,
  TokenFileError,
  allows,
  bearerToken,
  type Grant,
} from '../../frontend/access-tokens.js';

const READER = 'r3ad-0nly-t0ken-aaaaaaaa';
const WRITER = 'wr1te-t0ken-bbbbbbbbbbbb';
const TENANT = 'tenant-a-t0ken-cccccccccc';
const ADMIN = 'adm1n-t0ken-dddddddddddd';

const FILE = `
# zabkv tokens: <token> <role> [<key prefix>]
${READER} read
${WRITER}\twrite
  ${TENANT}   write   tenant-a/
${ADMIN} admin
`;

describe('AccessTokens', () => {
  it('parses roles and prefixes, skipping blank lines and comments', () => {
    const tokens = AccessTokens.parse(FILE);
    expect(tokens.size).toBe(4);
    expect(tokens.grantOf(READER)).toEqual({ role: 'read', line: 3 });
    expect(tokens.grantOf(WRITER)).toEqual({ role: 'write', line: 4 });
    expect(tokens.grantOf(TENANT)).toEqual({ role: 'write', prefix: 'tenant-a/', line: 5 });
    expect(tokens.grantOf(ADMIN)).toEqual({ role: 'admin', line: 6 });
  });

  it('knows no other token, nor a prefix or extension of a real one', () => {
    const tokens = AccessTokens.parse(FILE);
    for (const wrong of ['', 'nope', READER.slice(0, -1), `${READER}x`, READER.toUpperCase()]) {
      expect(tokens.grantOf(wrong)).toBeNull();
    }
  });

  it('refuses a malformed file with the line number and never the token', () => {
    const secret = 'a-very-secret-token-value';
    const cases: [string, RegExp][] = [
      [`${secret}`, /line 1: expected/],
      [`${secret} read a b`, /line 1: expected/],
      [`${secret} owner`, /line 1: the role must be/],
      [`short read`, /line 1: the token is shorter than 16/],
      [`${secret}! read`, /line 1: the token has characters/],
      [`${secret} admin some/`, /line 1: an admin token has no key prefix/],
      [`# one\n${secret} read\n${secret} write`, /line 3: this token is listed twice/],
      ['# nothing but comments\n\n', /lists no token/],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        AccessTokens.parse(text);
      } catch (caught) {
        error = caught;
      }
      expect(error, text).toBeInstanceOf(TokenFileError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(secret);
    }
  });
});

describe('allows', () => {
  const read: Grant = { role: 'read', line: 1 };
  const write: Grant = { role: 'write', line: 2 };
  const tenant: Grant = { role: 'write', prefix: 'a/', line: 3 };
  const tenantReader: Grant = { role: 'read', prefix: 'a/', line: 4 };
  const admin: Grant = { role: 'admin', line: 5 };

  it('read reads, write and admin also change, each within its prefix', () => {
    expect(allows(read, { kind: 'read', key: 'x' })).toBe(true);
    expect(allows(read, { kind: 'write', key: 'x' })).toBe(false);
    expect(allows(write, { kind: 'write', key: 'x' })).toBe(true);
    expect(allows(admin, { kind: 'write', key: 'x' })).toBe(true);
    expect(allows(tenant, { kind: 'write', key: 'a/x' })).toBe(true);
    expect(allows(tenant, { kind: 'read', key: 'a/x' })).toBe(true);
    expect(allows(tenant, { kind: 'read', key: 'b/x' })).toBe(false);
    expect(allows(tenant, { kind: 'write', key: 'a' })).toBe(false);
    expect(allows(tenantReader, { kind: 'write', key: 'a/x' })).toBe(false);
  });

  it('lets any token without a prefix read the cluster status, and no tenant', () => {
    for (const grant of [read, write, admin]) expect(allows(grant, { kind: 'status' })).toBe(true);
    for (const grant of [tenant, tenantReader]) {
      expect(allows(grant, { kind: 'status' })).toBe(false);
    }
  });
});

describe('bearerToken', () => {
  it('takes the token of a Bearer header and nothing else', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken(undefined)).toBeNull();
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
  });
});
