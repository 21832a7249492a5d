import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Commander from 'commander';

// Commander argument parsers: a flag that does not parse stops the command before anything
// starts, as one line and exit 2 (program.ts). They load commander only to refuse a flag, so
// that `zabkv get` (cli/fast-path.ts), which uses them on flags that parse, never loads it.

/** Commander's error for a flag that does not parse: it adds which flag and which text. */
function invalid(message: string): Error {
  const { InvalidArgumentError } = createRequire(import.meta.url)('commander') as typeof Commander;
  return new InvalidArgumentError(message);
}

export function positiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw invalid('must be a positive integer.');
  }
  return value;
}

export function nonNegativeInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw invalid('must be a non-negative integer.');
  }
  return value;
}

export function port(text: string): number {
  const value = positiveInteger(text);
  if (value > 65_535) throw invalid('must be a port (1..65535).');
  return value;
}

/** A number of seconds: positive, fractions allowed. */
export function seconds(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw invalid('must be a positive number of seconds.');
  }
  return value;
}

export function positiveNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw invalid('must be a positive number.');
  }
  return value;
}

/** A fraction in [0, 1]. */
export function fraction(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw invalid('must be a number from 0 to 1.');
  }
  return value;
}

/**
 * etcdctl's --endpoints: a comma list of `host:port` or URLs (http:// or https://), each made a
 * base URL. The CLI tries them in order and moves to the next when one cannot answer.
 */
export function endpoints(text: string): string[] {
  const list = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (list.length === 0) throw invalid('needs at least one host:port or URL.');
  return list.map(endpoint);
}

function endpoint(item: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(item) ? item : `http://${item}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid(`${JSON.stringify(item)} is not host:port or a URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`${JSON.stringify(item)}: only http:// and https:// are served.`);
  }
  if (url.hostname === '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '') {
    throw invalid(`${JSON.stringify(item)} must be host:port or a base URL.`);
  }
  return `${url.protocol}//${url.host}`;
}

/**
 * The endpoints of a command: --endpoints (or the old --url), else $ZABKV_ENDPOINTS, else every
 * node of the `npm start` cluster in ./data (its state file), else node 1's default address.
 */
export function endpointsOf(
  given: string[] | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (given !== undefined) return given;
  const fromEnv = env['ZABKV_ENDPOINTS'];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    try {
      return endpoints(fromEnv);
    } catch (error) {
      throw invalid(`ZABKV_ENDPOINTS: ${(error as Error).message}`);
    }
  }
  return startedClusterEndpoints() ?? [DEFAULT_ENDPOINT];
}

/** The endpoints `zabkv start` wrote to ./data/cluster.json while it runs (cli/start-command.ts). */
function startedClusterEndpoints(): string[] | null {
  try {
    const state = JSON.parse(readFileSync('data/cluster.json', 'utf8')) as { endpoints?: unknown };
    const list = Array.isArray(state.endpoints)
      ? state.endpoints.filter((e): e is string => typeof e === 'string')
      : [];
    return list.length === 0 ? null : endpoints(list.join(','));
  } catch {
    return null;
  }
}

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8001';

export const WRITE_OUT = ['simple', 'json', 'table'] as const;
export type WriteOut = (typeof WRITE_OUT)[number];
