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
    ];
    for (const [flags, message] of cases) {
      expect(() => resolveNodeConfig(flags, {})).toThrow(ConfigError);
      expect(() => resolveNodeConfig(flags, {})).toThrow(message);
    }
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
