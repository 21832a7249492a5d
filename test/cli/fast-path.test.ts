import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastInvocation } from '../../cli/fast-path.js';

// Issue 16, item 7: `zabkv get`, `put` and `del` skip commander when their arguments are plainly
// valid (cli/fast-path.ts). Each case below is run twice against a stand-in server: once in a
// form the fast path takes, once in an equivalent form it leaves to the commander program
// (`--flag=value`, which only commander reads); both must send the same request and print
// the same thing; and both again through the command as installed, dist/cli/zabkv.cjs (the same
// code bundled into one CommonJS file by bundle-cli.mjs, package.json's `bin`).

const CLI = 'dist/cli/cli.js';
const INSTALLED = 'dist/cli/zabkv.cjs';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
}

let server: Server;
let endpoint = '';
const seen: Seen[] = [];

function answer(request: IncomingMessage, body: string): [number, Record<string, string>, string] {
  if (request.headers['if-match'] === '"1"') return [412, {}, '{"error":"PreconditionFailed"}'];
  if (request.method === 'GET') return [200, { etag: '"7"' }, 'hello'];
  if (request.method === 'PUT') return [200, {}, JSON.stringify({ version: `${8 + body.length}` })];
  return [204, {}, ''];
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const { authorization, 'if-match': ifMatch, 'if-none-match': ifNoneMatch } = request.headers;
      seen.push({
        method: request.method!,
        url: request.url!,
        headers: { authorization, ifMatch, ifNoneMatch },
        body,
      });
      const [status, headers, text] = answer(request, body);
      response.writeHead(status, headers).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function run(args: string[], cli = CLI): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, ...args],
      { encoding: 'utf8', env: { ...process.env, ZABKV_ENDPOINTS: '', ZABKV_TOKEN: '' } },
      (error, stdout, stderr) => resolve({ code: child.exitCode ?? -1, stdout, stderr }),
    );
    if (args.includes('-')) child.stdin!.end('from stdin');
    else child.stdin!.end();
  });
}

/** [fast form, the same invocation in a form only commander takes]; ENDPOINT is the stand-in. */
const cases: [fast: string[], viaCommander: string[]][] = [
  [
    ['get', 'app/config', '--endpoints', 'ENDPOINT'],
    ['get', 'app/config', '--endpoints=ENDPOINT'],
  ],
  [
    ['get', 'k', '--stale', '-w', 'json', '--url', 'ENDPOINT'],
    ['get', 'k', '--stale', '--write-out=json', '--url', 'ENDPOINT'],
  ],
  [
    ['get', '-w', 'table', 'k', '--endpoints', '127.0.0.1:1,ENDPOINT', '--token', 't0'],
    ['get', '-w', 'table', 'k', '--endpoints', '127.0.0.1:1,ENDPOINT', '--token=t0'],
  ],
  [
    ['put', 'k', 'v a l', '--endpoints', 'ENDPOINT', '--if-match', '5'],
    ['put', 'k', 'v a l', '--endpoints', 'ENDPOINT', '--if-match=5'],
  ],
  [
    ['put', 'k', '-', '--if-absent', '--endpoints', 'ENDPOINT', '-w', 'table'],
    ['put', 'k', '-', '--if-absent', '--endpoints', 'ENDPOINT', '--write-out=table'],
  ],
  [
    ['put', 'k', 'v', '--if-match', '1', '--endpoints', 'ENDPOINT'],
    ['put', 'k', 'v', '--if-match=1', '--endpoints', 'ENDPOINT'],
  ],
  [
    ['put', 'k', 'v', '--if-match', '3', '--if-absent', '--endpoints', 'ENDPOINT'],
    ['put', 'k', 'v', '--if-match=3', '--if-absent', '--endpoints', 'ENDPOINT'],
  ],
  [
    ['del', 'a/b', '--endpoints', 'ENDPOINT', '-w', 'json'],
    ['del', 'a/b', '--endpoints', 'ENDPOINT', '--write-out=json'],
  ],
];

describe('zabkv get, put and del answer the same with and without commander', () => {
  it.each(cases)('%j', async (fastForm, commanderForm) => {
    const [fast, slow] = [fastForm, commanderForm].map((args) =>
      args.map((arg) => arg.replace('ENDPOINT', endpoint)),
    ) as [string[], string[]];
    expect(fastInvocation(fast, {})).not.toBeNull();
    expect(fastInvocation(slow, {})).toBeNull();
    seen.length = 0;
    const fastRun = await run(fast);
    const fastSeen = seen.splice(0);
    const slowRun = await run(slow);
    expect(slowRun).toEqual(fastRun);
    expect(seen).toEqual(fastSeen);
    for (const args of [fast, slow]) {
      seen.length = 0;
      expect(await run(args, INSTALLED)).toEqual(fastRun);
      expect(seen).toEqual(fastSeen);
    }
  });
});

describe('the fast path takes only plainly valid invocations', () => {
  const refused: string[][] = [
    ['get'],
    ['get', 'a', 'b'],
    ['get', 'k', '-h'],
    ['get', 'k', '--help'],
    ['get', 'k', '--frobnicate'],
    ['get', 'k', '--if-absent'],
    ['get', 'k', '-w', 'xml'],
    ['get', 'k', '-wjson'],
    ['get', 'k', '-w'],
    ['get', 'k', '--endpoints', ''],
    ['get', 'k', '--endpoints', 'ftp://x'],
    ['get', 'k', '--endpoints', '-w'],
    ['get', 'k', '--stale', '--stale'],
    ['get', '--', '-k'],
    ['put', 'k'],
    ['del', 'k', '--stale'],
    ['status'],
    ['txn'],
    [],
  ];
  it.each(refused)('leaves %j to commander', (...args) => {
    expect(fastInvocation(args, {})).toBeNull();
  });

  it('refuses a bad ZABKV_ENDPOINTS, so commander says what is wrong with it', () => {
    expect(fastInvocation(['get', 'k'], { ZABKV_ENDPOINTS: 'gopher://x' })).toBeNull();
  });

  it('reads the flags it takes', () => {
    expect(
      fastInvocation(
        ['put', 'k', '-', '--if-match', '*', '--cert', 'c', '--key', 'k', '--cacert', 'a'],
        { ZABKV_ENDPOINTS: 'h:1,https://h:2' },
      ),
    ).toEqual({
      command: 'put',
      operands: ['k', '-'],
      flags: {
        endpoints: ['http://h:1', 'https://h:2'],
        writeOut: 'simple',
        ifMatch: '*',
        cert: 'c',
        key: 'k',
        cacert: 'a',
      },
    });
  });
});
