import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../client/local-cluster.js';
import { terminate } from '../../client/process-exit.js';
import { Unauthorized, ZabkvClient } from '../../client/zabkv-client.js';
import { makeTestPki, type TestPki } from '../http/test-pki.js';
import {
  CLI,
  agent,
  call,
  clusterPorts,
  freePorts,
  runCli,
  testDirectory,
  until,
} from './node-processes.js';

// Three real nodes (one group) with HTTPS on the client port and bearer tokens (issue 11,
// item 3): what a client without the right token or certificate gets, and that the CLI, the
// client library and `zabkv bench` get through with them.

const READER = 'reader-token-0123456789abcdef';
const WRITER = 'writer-token-0123456789abcdef';
const TENANT = 'tenant-token-0123456789abcdef';

const dir = testDirectory('zabkv-auth-');
let pki: TestPki;
let cluster: LocalCluster;
let ca: Buffer;
const clients: ZabkvClient[] = [];

const url = (node: number, scheme = 'https') =>
  `${scheme}://127.0.0.1:${cluster.options.firstHttpPort + node - 1}`;
const client = (token: string | undefined, node = 1) => {
  const c = new ZabkvClient({
    nodes: [url(node)],
    ca,
    timeoutMs: 5_000,
    attempts: 3,
    ...(token === undefined ? {} : { token }),
  });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  pki = makeTestPki(join(dir, 'pki'));
  ca = readFileSync(pki.ca);
  const tokenFile = join(dir, 'tokens');
  writeFileSync(
    tokenFile,
    [`# test tokens`, `${READER} read`, `${WRITER} write`, `${TENANT} write tenant/`, ''].join(
      '\n',
    ),
    { mode: 0o600 },
  );

  cluster = new LocalCluster({
    nodes: 3,
    replication: 3,
    dataDir: join(dir, 'data'),
    ...(await clusterPorts(3)),
    cli: CLI,
    env: {
      LOG_LEVEL: 'warn',
      ZABKV_TOKEN_FILE: tokenFile,
      ZABKV_CERT_FILE: pki.serverCert,
      ZABKV_KEY_FILE: pki.serverKey,
    },
  });
  cluster.start();
  const dispatcher = agent({ ca });
  for (let node = 1; node <= 3; node++) {
    await until(
      `node ${node} ready over HTTPS`,
      async () =>
        (await call(`${url(node)}/readyz`, { dispatcher })).status === 200 ? true : undefined,
      60_000,
    );
  }
  await dispatcher.close();
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await cluster.stop();
}, 60_000);

describe('a cluster with HTTPS and bearer tokens', () => {
  it('401 without a valid token, 403 outside its rights, 200 with the right token', async () => {
    const expectRefused = async (promise: Promise<unknown>, status: number, code: string) => {
      const error = await promise.then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(Unauthorized);
      expect(error).toMatchObject({ status, code });
    };
    await expectRefused(client(undefined).put('k', 'v'), 401, 'Unauthorized');
    await expectRefused(client('no-such-token-0123456789').get('k'), 401, 'Unauthorized');
    await expectRefused(client(READER).put('k', 'v'), 403, 'Forbidden');
    await expectRefused(client(TENANT).put('other/k', 'v'), 403, 'Forbidden');
    await expectRefused(client(TENANT, 2).get('k'), 403, 'Forbidden');

    const version = await client(WRITER).put('k', 'written');
    const tenantVersion = await client(TENANT, 2).put('tenant/k', 'mine');
    // Every node serves it, forwarding across the group as usual.
    for (let node = 1; node <= 3; node++) {
      expect(await client(READER, node).get('k')).toEqual({
        value: Buffer.from('written'),
        version,
      });
      expect((await client(TENANT, node).get('tenant/k')).version).toBe(tenantVersion);
    }
    await client(TENANT, 3).del('tenant/k');
  });

  it('keeps /livez and /readyz open; /metrics and /cluster need a token', async () => {
    const dispatcher = agent({ ca });
    try {
      expect((await call(`${url(2)}/livez`, { dispatcher })).status).toBe(200);
      expect((await call(`${url(2)}/readyz`, { dispatcher })).status).toBe(200);
      for (const path of ['/metrics', '/cluster']) {
        const refused = await call(`${url(2)}${path}`, { dispatcher });
        expect(refused.status).toBe(401);
        expect(refused.headers['www-authenticate']).toBe('Bearer realm="zabkv"');
        expect(JSON.parse(refused.text)).toMatchObject({ error: 'Unauthorized' });
        const headers = { authorization: `Bearer ${READER}` };
        expect((await call(`${url(2)}${path}`, { dispatcher, headers })).status).toBe(200);
        const tenant = { authorization: `Bearer ${TENANT}` };
        expect((await call(`${url(2)}${path}`, { dispatcher, headers: tenant })).status).toBe(403);
      }
    } finally {
      await dispatcher.close();
    }
  });

  it('serves nothing over plain HTTP or to a client that does not trust the CA', async () => {
    const plain = await call(`${url(1, 'http')}/livez`).then(
      (answer) => answer.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
    await expect(call(`${url(1)}/livez`)).rejects.toThrow(/certificate/);
    const other = agent({ ca: readFileSync(pki.otherCa) });
    await expect(call(`${url(1)}/livez`, { dispatcher: other })).rejects.toThrow(/certificate/);
    await other.close();
  });

  it('the CLI takes --token and --cacert, or ZABKV_TOKEN and ZABKV_CACERT', async () => {
    const put = await runCli([
      'put',
      'cli-key',
      'from the cli',
      '--url',
      url(3),
      '--token',
      WRITER,
      '--cacert',
      pki.ca,
    ]);
    expect(put.code, put.stderr).toBe(0);
    const get = await runCli(['get', 'cli-key', '--url', url(1)], {
      ZABKV_TOKEN: READER,
      ZABKV_CACERT: pki.ca,
    });
    expect(get.code).toBe(0);
    expect(get.stdout).toBe('from the cli\n');
    const refused = await runCli(['get', 'cli-key', '--url', url(1), '--cacert', pki.ca]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^401 Unauthorized/);
    const status = await runCli(['status', '--url', url(2), '--cacert', pki.ca, '--token', READER]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/GROUP/);
  }, 60_000);

  it('zabkv bench takes --token and --cacert', async () => {
    const bench = await runCli([
      'bench',
      '--nodes',
      [1, 2, 3].map((node) => url(node)).join(','),
      '--token',
      WRITER,
      '--cacert',
      pki.ca,
      '--clients',
      '4',
      '--total',
      '200',
      '--warmup',
      '0',
      '--json',
    ]);
    expect(bench.code, bench.stderr).toBe(0);
    const result = JSON.parse(bench.stdout) as { ops: number; errors: Record<string, number> };
    // Every write got through with the token and the CA (a 503 on a starved machine would be
    // counted, and is no refusal).
    const failed = Object.values(result.errors).reduce((sum, n) => sum + n, 0);
    expect(result.ops + failed).toBeGreaterThanOrEqual(200);
    expect(result.ops).toBeGreaterThan(100);
    expect(Object.keys(result.errors).filter((kind) => kind !== 'Unavailable')).toEqual([]);
  }, 60_000);

  it('a node refuses to start with a token file others can read, and says why', async () => {
    const open = join(dir, 'open-tokens');
    writeFileSync(open, `${WRITER} write\n`);
    chmodSync(open, 0o644);
    const http = await freePorts(2);
    const peer = http + 1;
    const node = await runCli(
      [
        'node',
        '--id',
        '9',
        '--peer',
        `127.0.0.1:${peer}`,
        '--http',
        `127.0.0.1:${http}`,
        '--data',
        join(dir, 'refused'),
        '--bootstrap-server',
        '--cluster-size',
        '1',
        '--replication',
        '1',
        '--token-file',
        open,
      ],
      {},
      20_000,
    );
    expect(node.code).toBe(2); // a usage error: the node was given a file it must not use
    expect(node.stderr).toMatch(/permissions 0644 .*too open.*chmod 600/);
    expect(node.stderr).not.toContain(WRITER);
  }, 30_000);
});

describe('a node with --client-cert-auth', () => {
  it('refuses a client without a certificate of the CA at the handshake, and serves one with', async () => {
    const ports = await clusterPorts(1);
    const single = new LocalCluster({
      nodes: 1,
      replication: 1,
      dataDir: join(dir, 'mtls'),
      ...ports,
      cli: CLI,
      env: {
        LOG_LEVEL: 'warn',
        ZABKV_CERT_FILE: pki.serverCert,
        ZABKV_KEY_FILE: pki.serverKey,
        ZABKV_TRUSTED_CA_FILE: pki.ca,
        ZABKV_CLIENT_CERT_AUTH: '1',
      },
    });
    single.start();
    const withCert = agent({
      ca,
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    });
    const withoutCert = agent({ ca });
    const otherCert = agent({
      ca,
      cert: readFileSync(pki.otherClientCert),
      key: readFileSync(pki.otherClientKey),
    });
    const base = `https://127.0.0.1:${ports.firstHttpPort}`;
    try {
      await until(
        'the node to be ready',
        async () =>
          (await call(`${base}/readyz`, { dispatcher: withCert })).status === 200
            ? true
            : undefined,
        60_000,
      );
      await expect(call(`${base}/livez`, { dispatcher: withoutCert })).rejects.toThrow();
      await expect(call(`${base}/livez`, { dispatcher: otherCert })).rejects.toThrow();
      const library = new ZabkvClient({
        nodes: [base],
        ca,
        cert: readFileSync(pki.clientCert),
        key: readFileSync(pki.clientKey),
      });
      clients.push(library);
      const version = await library.put('mtls', 'yes');
      expect((await library.get('mtls')).version).toBe(version);
    } finally {
      await Promise.all([withCert.close(), withoutCert.close(), otherCert.close()]);
      await terminate([single.process(1)!]);
    }
  }, 90_000);
});
