import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { LookupTable } from '../../bootstrap/lookup-table.js';
import { ConfigError, resolveNodeConfig } from '../../node/node-config.js';
import { loadTable, saveTable } from '../../node/table-file.js';

describe('node settings', () => {
  it('takes flags first, then ZABKV_* variables, then the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-config-'));
    const file = join(dir, 'node.json');
    writeFileSync(
      file,
      JSON.stringify({
        id: '7',
        peer: 'file:1',
        http: 'file:2',
        data: '/file',
        bootstrap: 'boot:7001',
        clusterId: 'c',
      }),
    );
    const config = resolveNodeConfig(
      { config: file, http: 'flag:9000' },
      { ZABKV_PEER: 'env:7007', ZABKV_ID: '8', ZABKV_STORAGE: 'lmdb' },
    );
    expect(config).toEqual({
      id: nodeId(8),
      peer: { host: 'env', port: 7007 },
      http: { host: 'flag', port: 9000 },
      dataDir: '/file',
      clusterId: 'c',
      storage: 'lmdb',
      bootstrap: { role: 'client', server: { host: 'boot', port: 7001 } },
      quotaBytes: 2 * 1024 ** 3,
      maxClientConnections: 4096,
    });
    expect(resolveNodeConfig({ config: file }, {}).storage).toBe('wal');
    rmSync(dir, { recursive: true });
  });

  it('a bootstrap server needs a cluster size; replication defaults to 3', () => {
    const base = { id: '1', peer: 'h:1', http: 'h:2', data: '/d', bootstrapServer: true };
    expect(resolveNodeConfig({ ...base, clusterSize: '6' }, {}).bootstrap).toEqual({
      role: 'server',
      clusterSize: 6,
      replication: 3,
    });
    expect(() => resolveNodeConfig(base, {})).toThrow(/--cluster-size/);
  });

  it('says clearly what is wrong', () => {
    const ok = { id: '1', peer: 'h:1', http: 'h:2', data: '/d', bootstrap: 'b:3' };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...ok, id: 'x' }, /--id/],
      [{ ...ok, peer: 'nohost' }, /--peer must be host:port/],
      [{ ...ok, http: undefined }, /--http/],
      [{ ...ok, bootstrapServer: true, clusterSize: '3' }, /either --bootstrap-server/],
      [{ ...ok, bootstrap: undefined }, /either --bootstrap-server/],
      [{ ...ok, storage: 'sqlite' }, /--storage must be wal or lmdb/],
      [{ ...ok, quotaBytes: '2TB' }, /--quota-bytes must be a size/],
      [{ ...ok, quotaBytes: '0' }, /--quota-bytes must be a size/],
      [{ ...ok, maxClientConnections: '0' }, /--max-client-connections/],
      [{ ...ok, certFile: 'c.pem' }, /both --cert-file and --key-file/],
      [{ ...ok, clientCertAuth: true }, /need --cert-file and --key-file/],
      [{ ...ok, certFile: 'c', keyFile: 'k', clientCertAuth: true }, /go together/],
      [{ ...ok, certFile: 'c', keyFile: 'k', trustedCaFile: 'ca' }, /go together/],
    ];
    for (const [flags, message] of cases) {
      expect(() => resolveNodeConfig(flags, {})).toThrow(ConfigError);
      expect(() => resolveNodeConfig(flags, {})).toThrow(message);
    }
  });
});

describe('the client port settings', () => {
  const ok = { id: '1', peer: 'h:1', http: 'h:2', data: '/d', bootstrap: 'b:3' };

  it('takes the quota in bytes, KiB, MiB or GiB', () => {
    const quota = (text: string) => resolveNodeConfig({ ...ok, quotaBytes: text }, {}).quotaBytes;
    expect(quota('65536')).toBe(65_536);
    expect(quota('64KiB')).toBe(65_536);
    expect(quota('512 mib')).toBe(512 * 1024 ** 2);
    expect(quota('2GiB')).toBe(2 * 1024 ** 3);
    expect(resolveNodeConfig(ok, { ZABKV_QUOTA_BYTES: '1MiB' }).quotaBytes).toBe(1024 ** 2);
  });

  it('takes HTTPS and tokens from flags or ZABKV_* variables', () => {
    expect(
      resolveNodeConfig(ok, {
        ZABKV_CERT_FILE: 'n.pem',
        ZABKV_KEY_FILE: 'n-key.pem',
        ZABKV_TRUSTED_CA_FILE: 'ca.pem',
        ZABKV_CLIENT_CERT_AUTH: '1',
        ZABKV_TOKEN_FILE: 'tokens',
        ZABKV_MAX_CLIENT_CONNECTIONS: '10',
      }),
    ).toMatchObject({
      httpTls: {
        certFile: 'n.pem',
        keyFile: 'n-key.pem',
        trustedCaFile: 'ca.pem',
        clientCertAuth: true,
      },
      tokenFile: 'tokens',
      maxClientConnections: 10,
    });
    const plain = resolveNodeConfig({ ...ok, certFile: 'n.pem', keyFile: 'n-key.pem' }, {});
    expect(plain.httpTls).toEqual({
      certFile: 'n.pem',
      keyFile: 'n-key.pem',
      clientCertAuth: false,
    });
    expect(plain).not.toHaveProperty('tokenFile');
  });
});

describe('the persisted lookup table', () => {
  it('round-trips, and a damaged file is refused rather than guessed around', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-table-'));
    expect(loadTable(dir)).toBeNull();
    const table = LookupTable.assign(
      2,
      [1, 2, 3].map((id) => ({
        id,
        peer: { host: 'h', port: 7000 + id },
        http: { host: 'h', port: 8000 + id },
      })),
      3,
    );
    saveTable(dir, table);
    expect(loadTable(dir)?.toData()).toEqual(table.toData());
    writeFileSync(join(dir, 'lookup-table.json'), '{"version": 2, "groups": []}');
    expect(() => loadTable(dir)).toThrow(/not a lookup table/);
    rmSync(dir, { recursive: true });
  });
});
